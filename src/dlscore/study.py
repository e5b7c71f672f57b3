"""The study plan: which patients, raters and input files exist, known when the workflow
is parsed (before any job runs), so that Snakemake can build one DAG.

* a registered cohort (:mod:`dlscore.cohorts`) that generates its images (the phantom):
  patients follow from the config, their files are outputs of the ``cohort`` rule;
* another registered cohort (TCGA-LGG, cBioPortal, a feature-table study): its manifest is
  built by the ``cohort`` rule and, identically, here;
* brought cohorts: the manifest CSV is read (ids, roles, paths relative to its folder).

A **scores-only study** (``scores_only.enabled``) has no images: each configured marker
(a manifest column with a cutoff: IHC PD-L1, TMB, a DLS computed elsewhere) plays the part
that a trained model's DLS plays in an imaging study, through the same statistics and
survival rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from dlscore.cohorts import active, manifest_path
from dlscore.errors import InputError, ManifestError
from dlscore.manifest import check_structure, read_manifest, resolve_path
from dlscore.plausibility import is_missing


@dataclass(frozen=True)
class Patient:
    patient_id: str
    cohort: str
    role: str
    raters: tuple[str, ...]
    files: dict  # "image_<m>" / "mask_<r>" -> path (as seen from the working directory)
    site: str | None = None  # institution (split.site_column) of a labelled development patient, else None


def scores_mode(config: Mapping[str, Any]) -> bool:
    """True for a scores-only (tables-only) study."""
    return bool(config.get("scores_only", {}).get("enabled"))


def signature_enabled(config: Mapping[str, Any]) -> bool:
    """True when the radiomics signature (RAsig, RADLsig) is fitted: ``signature.enabled``,
    and in a scores-only study only when a feature table (``signature.features``) is given."""
    sc = config.get("signature", {})
    return bool(sc.get("enabled")) and (not scores_mode(config) or bool(sc.get("features")))


def marker_names(config: Mapping[str, Any]) -> list[str]:
    """Markers of a scores-only study that are manifest columns."""
    return list((config.get("scores_only", {}).get("markers") or {}))


def model_names(config: Mapping[str, Any]) -> list[str]:
    """What the per-model rules iterate over: trained models, or the markers of a
    scores-only study (with ``rasig``, the radiomics signature, when it is fitted from a
    feature table)."""
    if scores_mode(config):
        return marker_names(config) + (["rasig"] if signature_enabled(config) else [])
    return list(config["run_models"])


def km_models(config: Mapping[str, Any]) -> list[str]:
    """Models/markers drawn in Kaplan-Meier and forest figures: the primary model, or every
    marker of a scores-only study."""
    return model_names(config) if scores_mode(config) else [config["primary_model"]]


def marker_pairs(config: Mapping[str, Any], key: str) -> list[list[str]]:
    """The pairs [a, b] of ``clinical.<key>`` (hr_difference, auc_comparisons, four_groups);
    ``auto`` (the default, as the PET/CT paper): the lead model (:func:`km_models`) with every
    ``clinical.reference_markers`` entry (DLS vs IHC PD-L1)."""
    cl = config.get("clinical", {}) or {}
    value = cl.get(key, "auto")
    if value == "auto":
        lead = km_models(config)[0] if km_models(config) else None
        return [[lead, ref] for ref in (cl.get("reference_markers") or {}) if lead]
    return [list(p) for p in value or []]


def endpoints(config: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The study's survival endpoints; a study file switches a default one off with
    ``endpoint: null`` (config files merge recursively, so a key cannot be dropped)."""
    return {k: v for k, v in config["survival"]["endpoints"].items() if v}


def endpoint_names(config: Mapping[str, Any]) -> dict[str, str]:
    """Each survival endpoint's printed name (its ``label``, else its key)."""
    return {e: str(spec.get("label", e)) for e, spec in endpoints(config).items()}


def display_name(config: Mapping[str, Any], name: str) -> str:
    """How figures print a model or marker: its ``display_names`` entry, else its key."""
    return str((config.get("display_names") or {}).get(name, name))


def group_labels(config: Mapping[str, Any], model: str) -> tuple[str, str]:
    """Printed names of the high and low groups of a model's DLS or of a marker."""
    if scores_mode(config):
        if model == "rasig":
            return "RAsig high", "RAsig low"
        spec = config["scores_only"]["markers"][model]
        label = spec.get("label", model)
        return label, spec.get("low_label", f"not {label}")
    return "High DLS", "Low DLS"


def plan_patients(config: Mapping[str, Any], site_column: str | None = None) -> list[Patient]:
    """Every patient with cohort, role, raters and input files, known at parse time: from
    the config for a cohort that generates its images, else from the manifest (a
    registered cohort's is built here exactly as its rule builds it). With ``site_column``
    (``split.site_column``) each labelled development patient's ``site`` is filled in."""
    mods = list(config["imaging"]["modalities"])
    raters = list(config["imaging"]["raters"])
    cohort = active(config)
    path = Path(manifest_path(config))
    if cohort is not None and cohort.generates:
        return [Patient(p.patient_id, p.cohort, p.role, p.raters, files)
                for p, files in cohort.planner()(config[cohort.key], str(path.parent), mods)]
    df = cohort.run(config)[0] if cohort is not None else read_manifest(path)
    check_structure(df, f"manifest {path.name}")
    out = []
    for _, row in df.iterrows():
        files, have = {}, []
        for m in mods:
            v = row.get(f"image_{m}")
            if isinstance(v, str) and v.strip():
                files[f"image_{m}"] = resolve_path(v, path.parent)
        for r in raters:
            v = row.get(f"mask_{r}")
            if isinstance(v, str) and v.strip():
                files[f"mask_{r}"] = resolve_path(v, path.parent)
                have.append(r)
        site = row.get(site_column) if site_column else None
        site = (None if str(row["role"]) != "development" or is_missing(row.get("label")) or is_missing(site)
                else str(site))
        out.append(Patient(str(row["patient_id"]), str(row["cohort"]), str(row["role"]), tuple(have), files, site))
    return out


def planned_model_folds(config: Mapping[str, Any], plan: list[Patient]) -> list[int]:
    """Folds of the cross-validated training (one ``train`` job per model and fold), known at
    parse time; empty for ``split.method: holdout``. See :mod:`dlscore.folds`."""
    from dlscore.folds import planned_folds
    folds = planned_folds(config["split"], [p.site for p in plan])
    if config["split"]["method"] == "leave_site_out" and len(folds) < 2:
        raise ManifestError([InputError(
            f"split.method leave_site_out needs the institution of each labelled development patient in the "
            f"manifest column {config['split']['site_column']!r}; {len(folds)} site(s) found",
            "add the column (at least 2 sites), set split.site_column, or use split.method: kfold",
            where="split.site_column")])
    return folds


def survival_sets(plan: list[Patient], splits, cv: bool = False) -> list[str]:
    """Slugs of the evaluation sets of ``splits`` known before the split is drawn (output
    file names); see :class:`dlscore.evaluation.EvalSet`. A cross-validated study (``cv``)
    has a ``development`` split instead of ``training`` / ``validation``."""
    from dlscore.evaluation import planned_sets
    wrong = [s for s in splits if (s in ("training", "validation")) == cv and s in ("training", "validation",
                                                                                       "development")]
    if wrong:
        raise ManifestError([InputError(
            f"survival.splits names {wrong[0]!r}, a split this study does not have (split.method "
            f"{'cross-validates' if cv else 'is holdout'})",
            "name 'development' (out-of-fold scores) with split.method kfold / leave_site_out, 'training' / "
            "'validation' with holdout", where="survival.splits")])
    return list(dict.fromkeys(es.slug for es in planned_sets([(p.role, p.cohort) for p in plan], splits)))


def check_inside(root: str | Path, paths) -> None:
    """Every planned output path lies inside the results folder ``root`` (nothing a manifest
    or config holds may make the workflow write, or clean up, elsewhere)."""
    import os
    base = Path(os.path.realpath(root))
    outside = [str(p) for p in paths if not Path(os.path.realpath(p)).is_relative_to(base)]
    if outside:
        raise ManifestError([InputError(f"output path {o} lies outside the results folder {root}",
                                        "use plain names for patient ids, cohorts and models", where=o)
                             for o in outside[:5]], "planned outputs")


def input_files(config: Mapping[str, Any], plan: list[Patient]) -> dict[str, dict[str, str]]:
    """What the data checksums cover: owner (patient id, or ``study``) -> {input name ->
    file or folder}: the manifest (and a feature table), every patient's files. Computed
    inside the provenance job, never passed as rule params (the report would show them)."""
    study = {"manifest": manifest_path(config)}
    if config.get("signature", {}).get("features"):
        study["features"] = config["signature"]["features"]
    return {"study": study, **{p.patient_id: p.files for p in plan}}


def development_patients(plan: list[Patient]) -> list[str]:
    return [p.patient_id for p in plan if p.role in ("development", "training", "validation")]


