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
    if getattr(config, "config_hash", ""):  # a step's Settings: the hash of its and its upstream steps' settings
        return config.config_hash
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


def path_checksum(path: str | Path) -> tuple[int, int, str]:
    """SHA-256 of a file, or of a folder's files (a DICOM series) in sorted relative-path order.

    Returns ``(n_files, n_bytes, hex digest)``. For a folder the digest covers each file's
    relative path and contents, so renaming, adding or changing a slice changes it; it does
    not depend on where the folder lies. Raises ``FileNotFoundError`` for a missing path."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest, n_bytes = hashlib.sha256(), 0
    for f in files:
        if path.is_dir():
            digest.update(f.relative_to(path).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                n_bytes += len(chunk)
    return len(files), n_bytes, digest.hexdigest()


def data_checksums(inputs: Mapping[str, Mapping[str, str]], workers: int = 1):
    """One row per input file or folder: ``patient_id`` (or the study-level name), ``input``
    (``image_ct``, ``mask_r1``, ``manifest`` ...), ``files``, ``bytes``, ``sha256``.

    ``inputs``: owner -> {input name -> path}. Paths are read, never written to the table
    (a folder name can hold a patient's name). Hashing runs in ``workers`` threads."""
    import pandas as pd
    from concurrent.futures import ThreadPoolExecutor

    keys = [(owner, name, path) for owner, files in inputs.items() for name, path in sorted(files.items())]
    with ThreadPoolExecutor(max(1, workers)) as pool:
        sums = list(pool.map(lambda k: path_checksum(k[2]), keys))
    return pd.DataFrame([(o, n, *s) for (o, n, _), s in zip(keys, sums)],
                        columns=["patient_id", "input", "files", "bytes", "sha256"])


SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def check_config(config: Mapping[str, Any], schema: str | Path = SCHEMA) -> None:
    """Validate the merged config before anything runs: the JSON schema (typos in keys,
    wrong types) and the cross-references the schema cannot express. Raises one
    :class:`~dlscore.errors.ManifestError` listing every problem with its fix."""
    import difflib

    import jsonschema

    from dlscore.errors import InputError, ManifestError
    problems: list[InputError] = []
    spec = yaml.safe_load(Path(schema).read_text())
    for err in sorted(jsonschema.Draft202012Validator(spec).iter_errors(dict(config)), key=lambda e: list(e.path)):
        where = ".".join(map(str, err.path)) or "(top level)"
        msg = err.message
        if err.validator == "additionalProperties":
            known = list((err.schema.get("properties") or {}))
            extra = [k for k in err.instance if k not in known]
            hints = [f"'{k}' (did you mean '{m[0]}'?)" if (m := difflib.get_close_matches(k, known, 1)) else f"'{k}'"
                     for k in extra]
            msg = f"unknown key(s) {', '.join(hints)}"
        problems.append(InputError(msg, "correct the study config (keys and types: workflow/schemas/"
                                   "config.schema.yaml)", where=where))
    if not problems:
        scores = bool(config.get("scores_only", {}).get("enabled"))
        models = config.get("models", {})
        if not scores:
            for m in config["run_models"]:
                if m not in models:
                    problems.append(InputError(f"run_models lists '{m}', which is not defined under models",
                                               f"define models.{m} or remove it from run_models", where="run_models"))
            if config["primary_model"] not in config["run_models"]:
                problems.append(InputError(f"primary_model '{config['primary_model']}' is not in run_models",
                                           "set primary_model to one of run_models", where="primary_model"))
            img = config["imaging"]
            if img["reference"] not in img["modalities"]:
                problems.append(InputError(f"imaging.reference '{img['reference']}' is not one of the modalities "
                                           f"{img['modalities']}", "set it to one of imaging.modalities",
                                           where="imaging.reference"))
            for m in img.get("optional_modalities", []):
                if m not in img["modalities"] or m == img["reference"]:
                    problems.append(InputError(f"optional modality '{m}' is not a non-reference modality",
                                               "list only non-reference imaging.modalities",
                                               where="imaging.optional_modalities"))
            problems += _channel_problems(config) + _normalise_problems(img)
        from dlscore.study import model_names
        names = set(model_names(config)) if scores else set(config["run_models"])
        names |= set((config.get("clinical", {}).get("reference_markers") or {}))
        from dlscore.study import marker_pairs
        for key in ("hr_difference", "auc_comparisons", "four_groups"):
            for pair in marker_pairs(config, key):
                for name in pair[:1] if key == "four_groups" else pair:  # four_groups: b may be a column
                    if name not in names:
                        problems.append(InputError(f"clinical.{key} names '{name}', which is neither a model nor "
                                                   f"a marker ({sorted(names)})", "use the names of run_models, "
                                                   "scores_only.markers or clinical.reference_markers",
                                                   where=f"clinical.{key}"))
    if problems:
        raise ManifestError(problems, "the configuration")


def _normalise_problems(imaging: Mapping[str, Any]) -> list:
    """Normalisation settings that the method would ignore or that it lacks: a window needs
    ``low`` < ``high`` and takes no z-score region; a z-score takes no window."""
    from dlscore.errors import InputError
    out = []
    for m, spec in (imaging.get("normalise") or {}).items():
        where = f"imaging.normalise.{m}"
        if spec["method"] == "window":
            if "low" not in spec or "high" not in spec or not spec["low"] < spec["high"]:
                out.append(InputError(f"the window of '{m}' needs low < high (has low={spec.get('low')}, "
                                      f"high={spec.get('high')})", "give low and high in the image's unit "
                                      "(HU, SUV), low below high", where=where))
            extra = [k for k in ("region", "exclude_tumour") if k in spec]
        else:
            extra = [k for k in ("low", "high") if k in spec]
        if extra:
            out.append(InputError(f"'{m}' is normalised by {spec['method']}, which does not use {extra}",
                                  f"remove {extra} or change the method", where=where))
    return out


def _channel_problems(config: Mapping[str, Any]) -> list:
    """Slice channels that no modality provides (a CT-only study left with the default PET/CT
    channels), model channels that are not slice channels, and model names that cannot be
    folder names."""
    from dlscore.errors import InputError
    from dlscore.manifest import SAFE_ID_RULE, identifier_problem
    from dlscore.slices import DISTANCE_CHANNEL, MASK_CHANNEL, MASK_DERIVED_CHANNELS
    mods = list(config["imaging"]["modalities"])
    sl = config["slices"]
    fusion = sl.get("fusion") or {}
    out = []
    for ch in sl["channels"]:
        if ch == "fusion":
            bad = [m for m in fusion.get("of", []) if m not in mods] if fusion else ["(slices.fusion is null)"]
            if bad:
                out.append(InputError(f"slices.channels has 'fusion' but its modalities {bad} are not imaged "
                                      f"(imaging.modalities: {mods})", "remove 'fusion' from slices.channels or set "
                                      "slices.fusion.of to two of imaging.modalities", where="slices.channels"))
        elif ch in MASK_DERIVED_CHANNELS and ch in mods:
            out.append(InputError(f"an imaging modality is named '{ch}', the name of a channel made from the tumour "
                                  "mask",
                                  "rename the modality in imaging.modalities and the manifest", where="slices.channels"))
        elif ch not in mods and ch not in MASK_DERIVED_CHANNELS:
            out.append(InputError(f"slices.channels has '{ch}', which is not one of imaging.modalities {mods}",
                                  f"set slices.channels to channels of {mods} (and 'fusion' if two are fused, "
                                  f"'{MASK_CHANNEL}' for the tumour mask, '{DISTANCE_CHANNEL}' for its distance map)",
                                  where="slices.channels"))
    for m in config["run_models"]:
        why = identifier_problem(m)
        if why:
            out.append(InputError(f"model name {why}", f"use only {SAFE_ID_RULE}", where="run_models"))
        spec = config.get("models", {}).get(m) or {}
        if spec.get("weights"):
            continue  # frozen weights carry their channels; checked when they are loaded
        extra = [c for c in spec.get("channels", []) if c not in sl["channels"]]
        if extra:
            out.append(InputError(f"models.{m}.channels has {extra}, which are not slice channels {sl['channels']}",
                                  "list only channels of slices.channels (or remove the model from run_models)",
                                  where=f"models.{m}.channels"))
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
