"""The manifest steps (workflow/rules/manifest.smk): check the manifest, draw the split."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from dlscore.tables import write_table


def validate(config: Mapping[str, Any], manifest: str, out_parquet: str) -> None:
    """Check the manifest (every problem at once) and write it without input paths: the
    imaging jobs read the paths from the manifest (:func:`patient_files`), the table keeps
    only which inputs a patient has (``has_image_<m>``, ``has_mask_<r>``)."""
    from dlscore.clinical import check_covariates
    from dlscore.manifest import read_manifest, validate_manifest
    from dlscore.study import scores_mode
    df = read_manifest(manifest)
    imaging = not scores_mode(config)
    df = validate_manifest(df, config["imaging"]["modalities"] if imaging else [],
                           config["imaging"]["raters"] if imaging else [], base_dir=Path(manifest).parent,
                           optional=config["imaging"].get("optional_modalities", []),
                           reference=config["imaging"]["reference"],
                           tol_mm=float(config["imaging"]["geometry_tolerance_mm"]),
                           suv_modality=config["imaging"].get("suv_modality"),
                           roi_names=config["imaging"].get("roi_names") or (), checks=config.get("checks"))
    check_covariates(df, config.get("clinical", {}).get("covariates") or {})
    if not imaging:
        from dlscore.manifest import validate_markers
        validate_markers(df, config["scores_only"].get("markers") or {})
    from dlscore.consistency import cohort_problems
    from dlscore.errors import ManifestError
    problems = cohort_problems(df, config)
    if problems:
        raise ManifestError(problems, "cohorts (compared with the development cohort)")
    if "label" not in df:
        df["label"] = np.nan
    Path(out_parquet).parent.mkdir(parents=True, exist_ok=True)
    paths = [c for c in df if c.startswith(("image_", "mask_"))]
    df = df.assign(**{f"has_{c}": df[c].notna() & (df[c].astype(str).str.strip() != "") for c in paths})
    df.drop(columns=paths).to_parquet(out_parquet, index=False)


def split(config: Mapping[str, Any], checked: str, out_parquet: str, splits_csv: str) -> None:
    """Assign the training/validation split (stratified, seeded: ``seed``, ``split``) to the
    checked manifest; a step of its own so that a new seed redoes the split, not the checks
    or the imaging."""
    from dlscore.manifest import assign_splits
    sp = config["split"]
    df = pd.read_parquet(checked)
    if config["stop_after"] == "features":  # nothing is trained: no training/validation split is drawn
        df["split"] = "not split"
    else:
        df = assign_splits(df, float(sp["validation_fraction"]), int(config["seed"]), str(sp["method"]),
                           int(sp["k"]), str(sp["site_column"]))
    df.to_parquet(out_parquet, index=False)
    by = ["cohort", "split", "fold"] if "fold" in df else ["cohort", "split"]
    tab = df.groupby(by, dropna=False).agg(n=("patient_id", "size"), n_labelled=("label", "count"),
                                           n_positive=("label", "sum")).reset_index()
    # no label in a group: its number of positives is unknown, not 0
    tab["n_positive"] = tab["n_positive"].where(tab["n_labelled"] > 0)
    if "fold" in tab:
        tab["fold"] = tab["fold"].astype("Int64")
    if sp["method"] == "leave_site_out":  # which institution each fold holds out
        sites = df.dropna(subset=["fold"]).groupby("fold")[str(sp["site_column"])].first()
        tab["held_out_site"] = tab["fold"].map(sites)
    write_table(tab, splits_csv, config)


def patient_files(manifest: str, patient: str) -> dict[str, str]:
    """The input files of one patient (``image_<m>``, ``mask_<r>`` -> path), read from the
    manifest and resolved against its folder (never copied into results/)."""
    return dict(_manifest_files(str(manifest), Path(manifest).stat().st_mtime_ns)[patient])


@functools.lru_cache(maxsize=4)
def _manifest_files(manifest: str, mtime_ns: int) -> dict[str, dict[str, str]]:
    """patient -> its input files, for every patient of the manifest (read once per job and
    manifest version: a chunk job asks for each of its patients)."""
    from dlscore.manifest import read_manifest, resolve_path
    df = read_manifest(manifest)
    return {str(row["patient_id"]).strip(): {c: resolve_path(str(v).strip(), Path(manifest).parent)
                                            for c, v in row.items()
                                            if str(c).startswith(("image_", "mask_")) and isinstance(v, str) and v.strip()}
            for _, row in df.iterrows()}
