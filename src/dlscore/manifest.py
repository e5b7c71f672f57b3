"""The study manifest: one row per patient; validation and split assignment.

Columns (``<m>`` for each configured modality, ``<r>`` for each rater):

========================  =================================================================
``patient_id``            pseudonymous id, unique (never a name or hospital number)
``cohort``                cohort/institution name; statistics are reported per cohort
``role``                  ``development`` (split into training/validation by the workflow),
                          ``training``, ``validation``, ``external`` or ``ici``
``image_<m>``             image file or DICOM series folder (relative to the manifest)
``mask_r1``               tumour mask of rater 1 (required); ``mask_r2`` optional
``label``                 biomarker 0/1 (required for development roles; may be empty else)
``tps``                   raw biomarker score (e.g. PD-L1 TPS %, 0-100), optional
``pfs_time``/``pfs_event``  months / 0-1, optional; same for ``os_*``; ``dcb`` 0/1 optional
covariates                any further columns (age, sex, smoking, histology, stage, ecog...)
========================  =================================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from dlscore.errors import InputError, ManifestError

ROLES = ("development", "training", "validation", "external", "ici")


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV manifest; ids and paths stay strings."""
    path = Path(path)
    if not path.exists():
        raise ManifestError([InputError("manifest file does not exist",
                                        "set `manifest:` in the config to your CSV", where=str(path))])
    sep = "\t" if path.suffix in (".tsv", ".tab") else ","
    return pd.read_csv(path, sep=sep, dtype={"patient_id": str, "cohort": str, "role": str})


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip())


def resolve_path(value: str, base_dir: Path) -> str:
    p = Path(str(value))
    return str(p if p.is_absolute() else (base_dir / p))


def validate_manifest(df: pd.DataFrame, modalities: Sequence[str], raters: Sequence[str] = ("r1", "r2"),
                      base_dir: str | Path = ".", check_files: bool = True,
                      optional: Sequence[str] = ()) -> pd.DataFrame:
    """Check every row; raise one :class:`ManifestError` listing all problems.

    ``optional`` modalities may be empty for a patient (e.g. an MRI sequence that was not
    acquired); the others are required. Returns a copy with paths resolved against ``base_dir``.
    """
    base_dir = Path(base_dir)
    problems: list[InputError] = []
    imaging = bool(modalities)  # a scores-only study has no images and no masks
    required = ["patient_id", "cohort", "role"] + (["mask_r1"] + [f"image_{m}" for m in modalities] if imaging else [])
    missing = [c for c in required if c not in df.columns]
    for c in missing:
        problems.append(InputError(f"required column '{c}' is missing",
                                   f"add a '{c}' column (see README, 'Bring your own cohort')", where=c))
    if missing:
        raise ManifestError(problems)
    out = df.copy()
    out["patient_id"] = out["patient_id"].astype(str).str.strip()
    dup = out["patient_id"][out["patient_id"].duplicated()].unique()
    for pid in dup:
        problems.append(InputError("patient_id appears more than once",
                                   "keep one row per patient (merge or rename the duplicates)", pid, "patient_id"))
    path_cols = ([f"image_{m}" for m in modalities] + [f"mask_{r}" for r in raters if f"mask_{r}" in out]
                 if imaging else [])
    for i, row in out.iterrows():
        pid = row["patient_id"]
        if row["role"] not in ROLES:
            problems.append(InputError(f"role '{row['role']}' is not one of {', '.join(ROLES)}",
                                       "correct the role column", pid, "role"))
        for c in path_cols:
            v = row[c]
            if _is_missing(v):
                if c == "mask_r1" or (c.startswith("image_") and c[len("image_"):] not in optional):
                    problems.append(InputError(f"no {c} given", f"fill {c} with the file of this patient", pid, c))
                continue
            resolved = resolve_path(v, base_dir)
            out.at[i, c] = resolved
            if check_files and not Path(resolved).exists():
                problems.append(InputError(f"{c} file does not exist",
                                           "correct the path (relative paths are relative to the manifest's folder)",
                                           pid, resolved))
        lab = row.get("label")
        if not _is_missing(lab) and lab not in (0, 1, 0.0, 1.0):
            problems.append(InputError(f"label is {lab!r}, expected 0 or 1", "code the biomarker as 0/1", pid, "label"))
        if _is_missing(lab) and row["role"] in ("training", "validation"):
            problems.append(InputError("label is empty in a training cohort", "give the 0/1 label or change the role", pid, "label"))
        if "tps" in out and not _is_missing(row["tps"]) and not (0 <= float(row["tps"]) <= 100):
            problems.append(InputError(f"tps is {row['tps']}, outside 0-100", "give TPS in percent", pid, "tps"))
        for ep in ("pfs", "os"):
            t, e = f"{ep}_time", f"{ep}_event"
            if t in out and not _is_missing(row[t]) and float(row[t]) < 0:
                problems.append(InputError(f"{t} is negative ({row[t]})", "give the time from treatment start in months", pid, t))
            if e in out and not _is_missing(row[e]) and row[e] not in (0, 1):
                problems.append(InputError(f"{e} is {row[e]!r}, expected 0 (censored) or 1 (event)", "code events as 0/1", pid, e))
    if problems:
        raise ManifestError(problems)
    return out


def assign_splits(df: pd.DataFrame, validation_fraction: float, seed: int) -> pd.DataFrame:
    """Add ``split``: development rows are split into training/validation, stratified on
    ``label`` and seeded; other roles map to themselves. Development patients without a
    label get split ``unlabelled``: scored, never trained on, left out of AUCs.
    Raises if a split lacks a class."""
    out = df.copy()
    out["split"] = out["role"].where(out["role"] != "development")
    unlabelled = (out["role"] == "development") & out["label"].isna()
    out.loc[unlabelled, "split"] = "unlabelled"
    dev = out.index[(out["role"] == "development") & ~unlabelled]
    if len(dev):
        tr, va = train_test_split(dev, test_size=validation_fraction, random_state=seed,
                                  stratify=out.loc[dev, "label"].astype(int))
        out.loc[tr, "split"] = "training"
        out.loc[va, "split"] = "validation"
    for split in ("training", "validation"):
        labs = out.loc[out["split"] == split, "label"]
        if len(labs) and labs.nunique() < 2:
            raise ManifestError([InputError(f"the {split} split has only label {labs.iloc[0]}",
                                            "add patients of the other class or change the split fraction",
                                            where="label")])
    return out




def validate_markers(df: pd.DataFrame, markers: dict) -> None:
    """Scores-only studies: every marker's ``column`` (and ``continuous`` column) exists and
    is numeric; one :class:`ManifestError` lists every problem (patient and column named)."""
    problems: list[InputError] = []
    for name, spec in markers.items():
        for key in ("column", "continuous"):
            col = spec.get(key)
            if col is None:
                continue
            if col not in df:
                problems.append(InputError(f"marker {name}: column '{col}' is not in the manifest",
                                           f"add the column or correct scores_only.markers.{name}.{key}", where=col))
                continue
            num = pd.to_numeric(df[col], errors="coerce")
            bad = df[col].notna() & num.isna()
            for pid, v in zip(df.loc[bad, "patient_id"], df.loc[bad, col]):
                problems.append(InputError(f"marker {name}: {col} is {v!r}, not a number",
                                           "give a number or leave the cell empty (missing)", pid, col))
    if problems:
        raise ManifestError(problems)
