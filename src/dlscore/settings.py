"""The settings each workflow step reads, cut from the config (the step's Snakemake params).

Every rule declares ``params: settings=step_params(config, "<step>", ...)``: the values of
the config keys listed for that step in :data:`STEPS`. Snakemake reruns a job when its params
change, so editing a value reruns exactly the steps that read it (and, through their newer
outputs, what lies downstream of them); an edit elsewhere leaves the job alone.

The script hands the step a :class:`Settings` view instead of the whole config: reading a
key the step did not declare is a ``KeyError`` naming the step (never a silent default from
``.get``), so the declaration cannot fall behind the code. The ``config_hash`` written into
a table is the hash of the settings of its step and of every step upstream of it
(:data:`UPSTREAM`): two studies that differ only in, say, ``report_notes`` share the hash of
every table but the summary.

Keys are dotted paths (``stats.n_boot``); ``{model}`` stands for the job's model wildcard.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterator, Mapping

from dlscore.cohorts import REGISTRY

#: where the patients come from (every step that plans or reads the cohort depends on it)
COHORT = ("study", "manifest", *REGISTRY, "imaging.modalities", "imaging.raters")
#: which models or markers exist (names of per-model outputs and table rows)
MODELS = ("run_models", "primary_model", "scores_only", "signature.enabled", "signature.features")

STEPS: dict[str, tuple[str, ...]] = {
    "cohort": (*REGISTRY, "results"),  # results: a DICOM export's private files must lie outside it
    "validate_manifest": ("imaging", "checks", "clinical.covariates", "clinical.development_cohort", *MODELS),
    "split": ("seed", "split", "stop_after"),
    "preprocess": ("imaging", "checks", "slices"),
    "qc_table": ("imaging",),
    "qc_montages": ("imaging", "slices", "qc.montage_rows"),
    "radiomics": ("radiomics",),
    "radiomics_table": (),
    "train": ("seed", "device", "split", "slices.channels", "models.{model}"),
    "fold_ensemble": ("split.method",),
    "score": ("seed", "device", "slices.channels"),
    "explain": ("seed", "device", "slices.channels", "explain", "models.{model}", "display_names"),
    "import_scores": ("scores_only",),
    "signature": ("seed", "signature", "stats.alpha", "label_name", *MODELS),
    "cutoffs": ("models", *MODELS),
    "discrimination": ("seed", "stats", "label_name", "display_names", "secondary_labels", "subgroup_aucs", *MODELS),
    "calibration": ("stats.alpha", "display_names"),
    "clinical_utility": ("label_name", "display_names"),
    "association": ("seed", "stats", "association", "label_name", "survival.splits", *MODELS),
    "reproducibility": ("stats.alpha", "stats.icc_form"),
    "survival": ("stats.alpha", "survival", "display_names", *MODELS),
    "clinical_validation": ("seed", "stats", "survival.splits", "survival.endpoints", "survival.at_risk_step",
                            "survival.time_origin", "clinical", "display_names", *MODELS),
    "hyperimage_figure": ("slices",),
    "summary": ("study", "label_name", "report_notes", "survival", *MODELS),
    "provenance": ("seed", "results", "signature.features", *COHORT),
    "table_views": (),
    "manuscript": ("study", "seed", "label_name", "imaging", "slices", "split", "radiomics.bin_width", "signature",
                   "models", "stats", "survival.endpoints", "survival.time_origin", "clinical.dcb", "display_names",
                   *MODELS),
}

#: the steps whose outputs a step reads (directly or not): its table's config_hash covers them
UPSTREAM: dict[str, tuple[str, ...]] = {
    "validate_manifest": ("cohort",),
    "split": ("validate_manifest",),
    "preprocess": ("validate_manifest",),
    "qc_table": ("preprocess", "split"),
    "qc_montages": ("preprocess",),
    "radiomics": ("preprocess",),
    "radiomics_table": ("radiomics",),
    "train": ("preprocess", "split"),
    "fold_ensemble": ("train",),
    "score": ("train", "fold_ensemble"),
    "explain": ("score",),
    "import_scores": ("split",),
    "signature": ("radiomics_table", "score", "import_scores"),
    "cutoffs": ("score",),
    "discrimination": ("cutoffs", "qc_table"),
    "calibration": ("score",),
    "clinical_utility": ("cutoffs",),
    "association": ("score", "import_scores", "cutoffs"),
    "reproducibility": ("score",),
    "survival": ("cutoffs", "import_scores", "signature"),
    "clinical_validation": ("cutoffs", "import_scores", "signature"),
    "hyperimage_figure": ("preprocess", "split"),
    "summary": ("survival", "clinical_validation", "discrimination", "reproducibility", "calibration", "signature"),
    "provenance": ("split",),
    "manuscript": ("survival", "clinical_validation", "discrimination", "reproducibility", "calibration",
                   "association", "signature", "provenance", "split"),  # the tables it reads, not the summary page
}

_MISSING = object()
#: where a study writes is not part of what it computes
UNHASHED = ("results",)


def _lineage(step: str) -> list[str]:
    """``step`` and every step upstream of it, each once, in a fixed order."""
    seen: list[str] = []
    todo = [step]
    while todo:
        s = todo.pop(0)
        if s not in seen:
            seen.append(s)
            todo += UPSTREAM.get(s, ())
    return seen


def _cut(config: Mapping[str, Any], paths) -> dict[str, Any]:
    """The sub-config holding exactly ``paths`` (dotted) that exist in ``config``."""
    out: dict[str, Any] = {}
    for path in sorted(set(paths)):
        node: Any = config
        parts = path.split(".")
        for p in parts:
            node = node.get(p, _MISSING) if isinstance(node, Mapping) else _MISSING
            if node is _MISSING:
                break
        if node is _MISSING:
            continue
        target = out
        for p in parts[:-1]:
            target = target.setdefault(p, {})
        target[parts[-1]] = node
    return out


def declared(step: str, **wildcards: str) -> list[str]:
    """The dotted keys ``step`` reads, wildcards filled in (``models.{model}`` without a model
    wildcard: the whole ``models`` section, as for a step that covers every model)."""
    return sorted({k.format(**wildcards) if "{" not in k or wildcards else k.split(".{")[0] for k in STEPS[step]})


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()


def step_params(config: Mapping[str, Any], step: str, **wildcards: str) -> dict[str, Any]:
    """The params of a rule: ``keys`` (declared), ``digest`` (SHA-256 of the config cut to
    them: it changes exactly when one of them does) and ``config_hash`` (12 hex digits of the
    SHA-256 of the settings of the step and of every step upstream of it). Values are not in
    the params (the report prints params; settings can hold paths): the job cuts them from
    its config (:func:`from_snakemake`)."""
    keys = declared(step, **wildcards)
    lineage = {s: _cut(config, [k for k in declared(s, **wildcards) if k not in UNHASHED])
               for s in _lineage(step) if s in STEPS}
    return {"keys": keys, "digest": _digest(_cut(config, keys)), "config_hash": _digest(lineage)[:12]}


class Settings(Mapping[str, Any]):
    """Read-only view of a step's declared settings. Reading (``[]``, ``.get``, ``in``) a key
    outside the declaration raises ``KeyError`` naming the step and the key."""

    def __init__(self, values: Mapping[str, Any], keys, step: str, config_hash: str = "", prefix: str = ""):
        self._values, self._keys, self.step = dict(values), list(keys), step
        self.config_hash, self._prefix = config_hash, prefix

    def _declared(self, key: str) -> str | None:
        """'leaf' when ``key`` is declared whole, 'branch' when only keys below it are, else None."""
        full = self._prefix + key
        if any(full == k or full.startswith(k + ".") for k in self._keys):
            return "leaf"
        if any(k.startswith(full + ".") for k in self._keys):
            return "branch"
        return None

    def _refuse(self, key: str):
        return KeyError(f"step '{self.step}' reads setting '{self._prefix + key}', which it does not declare "
                        f"(dlscore.settings.STEPS['{self.step}'])")

    def __getitem__(self, key: str) -> Any:
        kind = self._declared(key)
        if kind is None:
            raise self._refuse(key)
        value = self._values[key]
        if kind == "branch":
            return Settings(value, self._keys, self.step, self.config_hash, f"{self._prefix}{key}.")
        return value

    def get(self, key: str, default: Any = None) -> Any:
        if self._declared(key) is None:
            raise self._refuse(key)
        return self[key] if key in self._values else default

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str) or self._declared(key) is None:
            raise self._refuse(str(key))
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._values, default=str))


def from_snakemake(snakemake, step: str) -> Settings:
    """The :class:`Settings` of a running job: its config cut to the keys of
    ``snakemake.params.settings`` (checked against the digest the job was scheduled with)."""
    p = snakemake.params.settings
    values = _cut(snakemake.config, p["keys"])
    if _digest(values) != p["digest"]:
        raise RuntimeError(f"step {step}: the settings differ from those the job was scheduled with")
    return Settings(values, p["keys"], step, p["config_hash"])
