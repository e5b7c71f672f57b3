"""Study configuration helpers: merging, hashing and provenance.

The workflow reads ``config/config.yaml`` (paper-faithful defaults) and a study file
(``config/demo.yaml``, ``config/lgg.yaml`` ...) that overrides it, exactly as Snakemake
merges ``configfile:`` with ``--configfile``. The same merge is reproduced here so that
scripts and tests see the configuration the workflow saw.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import json
import platform
import sys
from pathlib import Path
from typing import Any, Mapping

import yaml

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yaml"

#: Packages whose versions are recorded with every table.
PROVENANCE_PACKAGES = (
    "dlscore", "numpy", "scipy", "pandas", "torch", "monai", "simpleitk",
    "pyradiomics-bhklab", "scikit-learn", "statsmodels", "lifelines", "matplotlib",
    "snakemake",
)


def deep_update(base: dict, override: Mapping) -> dict:
    """Recursively merge ``override`` into a copy of ``base`` (Snakemake's rule)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(study_file: str | Path | None = None, defaults: str | Path = DEFAULT_CONFIG) -> dict:
    """Defaults merged with an optional study file, as the Snakefile does."""
    cfg = yaml.safe_load(Path(defaults).read_text()) or {}
    if study_file is not None:
        cfg = deep_update(cfg, yaml.safe_load(Path(study_file).read_text()) or {})
    return cfg


#: Keys that only say where outputs go; they do not change any number, so not hashed.
UNHASHED_KEYS = ("results",)


def config_hash(config: Mapping[str, Any]) -> str:
    """First 12 hex digits of the SHA-256 of the canonical JSON of ``config``
    (without :data:`UNHASHED_KEYS`): the same study gives the same hash wherever it writes."""
    kept = {k: v for k, v in config.items() if k not in UNHASHED_KEYS}
    canonical = json.dumps(kept, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can change a number in a table."""
    out = {"python": platform.python_version()}
    for name in PROVENANCE_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def results_dir(config: Mapping[str, Any]) -> str:
    return str(config.get("results", "results"))


def _main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "report-path":
        cfg = load_config(argv[1])
        print(f"{results_dir(cfg)}/report.html")
        return 0
    print("usage: python -m dlscore.config report-path STUDY.yaml", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
