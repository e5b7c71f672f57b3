"""The cohort overview of the imaging QC table: the measures a reader compares between
cohorts (voxel spacing, tumour volume, kept slices, SUVmax) and the patients whose value is
far from their cohort's (robust z-score), so that a bad conversion or mask stands out before
anyone reads an AUC."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: column -> printed name (unit) of the measures compared between cohorts
MEASURES = {"in_plane_mm": "in-plane spacing (mm)", "slice_mm": "slice spacing (mm)",
            "tumour_volume_ml": "tumour volume (mL)", "kept_slices_r1": "kept slices, rater 1",
            "suv_max": "SUVmax (SUV)"}
#: |robust z| above which a value is flagged (Iglewicz & Hoaglin's 3.5)
OUTLIER_Z = 3.5
#: measures judged on the log scale (positive and right-skewed: a large tumour is not an error)
LOG_SCALE = ("tumour_volume_ml", "suv_max")


def qc_measures(qc: pd.DataFrame) -> pd.DataFrame:
    """(patient_id, cohort, one numeric column per :data:`MEASURES` key the table has) from
    ``tables/qc.csv`` rows; spacing "0.98x0.98x3" gives in-plane 0.98 and slice 3 (mm)."""
    out = qc[["patient_id", "cohort"]].copy()
    if "spacing_mm" in qc:
        parts = qc["spacing_mm"].astype(str).str.split("x", expand=True).astype(float)
        out["in_plane_mm"], out["slice_mm"] = parts[0], parts[2]
    for c in ("tumour_volume_ml", "kept_slices_r1", "suv_max"):
        if c in qc and pd.to_numeric(qc[c], errors="coerce").notna().any():
            out[c] = pd.to_numeric(qc[c], errors="coerce")
    return out


def robust_z(values: pd.Series) -> pd.Series:
    """0.6745 (x − median) / MAD; 0 where the MAD is 0 (no spread: nothing to flag) or x is missing."""
    med = values.median()
    mad = (values - med).abs().median()
    if not np.isfinite(mad) or mad == 0:
        return pd.Series(0.0, index=values.index)
    return (0.6745 * (values - med) / mad).fillna(0.0)


def z_scores(measures: pd.DataFrame) -> pd.DataFrame:
    """The robust z-score of each measure within the patient's cohort (same index and measure
    columns as ``measures``); :data:`LOG_SCALE` measures on the log scale."""
    cols = [c for c in MEASURES if c in measures]
    values = measures.assign(**{c: np.log(measures[c].where(measures[c] > 0)) for c in LOG_SCALE if c in measures})
    return pd.DataFrame({c: values.groupby("cohort", group_keys=False)[c].apply(robust_z) for c in cols},
                        index=measures.index)


def outliers(measures: pd.DataFrame, z: float = OUTLIER_Z) -> pd.Series:
    """Per patient, the measures whose robust z-score within the patient's cohort exceeds ``z``
    ("tumour volume (mL) high, z = 5.2; ..."), "" for none; indexed like ``measures``."""
    zs = z_scores(measures)
    return pd.Series(["; ".join(f"{MEASURES[c]} {'high' if r[c] > 0 else 'low'}, z = {r[c]:.1f}"
                                for c in zs.columns if abs(r[c]) > z) for _, r in zs.iterrows()],
                     index=measures.index, dtype=object)
