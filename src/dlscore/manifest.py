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


def _number(v) -> float | None:
    """``v`` as a float, or None when it is not a number (text such as "12 months")."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _suggest(missing: str, columns) -> str:
    import difflib
    close = difflib.get_close_matches(missing, [str(c) for c in columns], n=1, cutoff=0.6)
    if not close:
        lowered = {str(c).lower().replace(" ", "_"): c for c in columns}
        close = [lowered[missing]] if missing in lowered else []
    return f" (found '{close[0]}': rename it)" if close else ""


#: numeric manifest columns with their allowed range and unit (checked when present)
RANGES = {"tps": (0.0, 100.0, "TPS in percent (0-100)"), "age": (0.0, 120.0, "age in years"),
          "ecog": (0.0, 4.0, "ECOG performance status 0-4")}
BINARY = {"label": "the biomarker as 0/1", "dcb": "durable clinical benefit as 0/1 (empty when not evaluable)"}


def validate_manifest(df: pd.DataFrame, modalities: Sequence[str], raters: Sequence[str] = ("r1", "r2"),
                      base_dir: str | Path = ".", check_files: bool = True,
                      optional: Sequence[str] = (), reference: str | None = None,
                      tol_mm: float = 0.01, suv_modality: str | None = None,
                      roi_names: Sequence[str] = ()) -> pd.DataFrame:
    """Check every row; raise one :class:`ManifestError` listing all problems.

    ``optional`` modalities may be empty for a patient (e.g. an MRI sequence that was not
    acquired); the others are required. With ``check_files``, every file must exist and its
    header be readable, and each mask must lie on the grid of the ``reference`` image
    (header only: cheap, before any imaging job). DICOM inputs are checked from their
    headers too (:func:`dlscore.dicom.header_problems`): one series per folder of the right
    modality, the SUV tags of the ``suv_modality`` series, the ``roi_names`` of RTSTRUCT/SEG. Returns a copy with paths resolved
    against ``base_dir``.
    """
    base_dir = Path(base_dir)
    problems: list[InputError] = []
    imaging = bool(modalities)  # a scores-only study has no images and no masks
    required = ["patient_id", "cohort", "role"] + (["mask_r1"] + [f"image_{m}" for m in modalities] if imaging else [])
    missing = [c for c in required if c not in df.columns]
    for c in missing:
        problems.append(InputError(f"required column '{c}' is missing{_suggest(c, df.columns)}",
                                   f"add a '{c}' column (see README, 'Bring your own cohort')", where=c))
    if missing:
        raise ManifestError(problems)
    out = df.copy()
    out["patient_id"] = out["patient_id"].map(lambda v: "" if _is_missing(v) else str(v).strip())
    for i in out.index[out["patient_id"] == ""]:
        problems.append(InputError(f"row {i + 2} has no patient_id", "give every row a pseudonymous id",
                                   where="patient_id"))
    dup = out["patient_id"][out["patient_id"].duplicated() & (out["patient_id"] != "")].unique()
    for pid in dup:
        roles = sorted(set(out.loc[out["patient_id"] == pid, "role"].astype(str)))
        extra = f" (roles {', '.join(roles)}: a patient can be in one split only)" if len(roles) > 1 else ""
        problems.append(InputError(f"patient_id appears more than once{extra}",
                                   "keep one row per patient (merge or rename the duplicates)", pid, "patient_id"))
    path_cols = ([f"image_{m}" for m in modalities] + [f"mask_{r}" for r in raters if f"mask_{r}" in out]
                 if imaging else [])
    for i, row in out.iterrows():
        pid = row["patient_id"] or f"(row {i + 2})"
        if _is_missing(row["cohort"]):
            problems.append(InputError("cohort is empty", "name the cohort / institution", pid, "cohort"))
        if row["role"] not in ROLES:
            problems.append(InputError(f"role '{row['role']}' is not one of {', '.join(ROLES)}",
                                       "correct the role column", pid, "role"))
        seen: dict[str, str] = {}
        for c in path_cols:
            v = row[c]
            if _is_missing(v):
                if c == "mask_r1" or (c.startswith("image_") and c[len("image_"):] not in optional):
                    problems.append(InputError(f"no {c} given", f"fill {c} with the file of this patient", pid, c))
                continue
            resolved = resolve_path(v, base_dir)
            out.at[i, c] = resolved
            if resolved in seen:
                problems.append(InputError(f"{c} is the same file as {seen[resolved]}",
                                           f"give the {c} file of this patient", pid, resolved))
            seen[resolved] = c
            if check_files and not Path(resolved).exists():
                problems.append(InputError(f"{c} file does not exist",
                                           "correct the path (relative paths are relative to the manifest's folder)",
                                           pid, resolved))
        if check_files and imaging:
            problems += _header_checks(out.loc[i], pid, modalities, raters, reference, tol_mm, suv_modality,
                                       roi_names)
        for col, meaning in BINARY.items():
            v = row.get(col)
            if col in out and not _is_missing(v) and v not in (0, 1, 0.0, 1.0):
                problems.append(InputError(f"{col} is {v!r}, expected 0 or 1", f"code {meaning}", pid, col))
        if _is_missing(row.get("label")) and row["role"] in ("training", "validation"):
            problems.append(InputError("label is empty in a training cohort", "give the 0/1 label or change the role",
                                       pid, "label"))
        for col, (lo, hi, meaning) in RANGES.items():
            if col in out and not _is_missing(row[col]):
                x = _number(row[col])
                if x is None or not (lo <= x <= hi):
                    problems.append(InputError(f"{col} is {row[col]!r}, outside {lo:g}-{hi:g}", f"give {meaning}",
                                               pid, col))
        for ep in ("pfs", "os"):
            t, e = f"{ep}_time", f"{ep}_event"
            has_t = t in out and not _is_missing(row[t])
            has_e = e in out and not _is_missing(row[e])
            if has_t:
                x = _number(row[t])
                if x is None:
                    problems.append(InputError(f"{t} is {row[t]!r}, not a number", "give the time in months", pid, t))
                elif x < 0:
                    problems.append(InputError(f"{t} is negative ({row[t]})",
                                               "give the time from treatment start in months", pid, t))
            if has_e and row[e] not in (0, 1, 0.0, 1.0):
                problems.append(InputError(f"{e} is {row[e]!r}, expected 0 (censored) or 1 (event)",
                                           "code events as 0/1", pid, e))
            if has_t != has_e and t in out and e in out:
                gone = e if has_t else t
                problems.append(InputError(f"{gone} is empty while {t if has_t else e} is given",
                                           "give both the time and the event, or neither", pid, gone))
    problems += _cohort_checks(out)
    if problems:
        raise ManifestError(problems)
    return out


def _header_checks(row: pd.Series, pid: str, modalities: Sequence[str], raters: Sequence[str],
                   reference: str | None, tol_mm: float, suv_modality: str | None = None,
                   roi_names: Sequence[str] = ()) -> list[InputError]:
    """Readable headers, and masks on the reference grid, without reading voxels."""
    import SimpleITK as sitk

    from dlscore.dicom import EXPECTED_MODALITY, header_problems, is_dicom_file
    problems, headers = [], {}
    cols = [f"image_{m}" for m in modalities] + [f"mask_{r}" for r in raters]
    for c in cols:
        v = row.get(c)
        if _is_missing(v) or not Path(v).exists():
            continue  # missing / not-found files are reported above
        if Path(v).is_dir() or is_dicom_file(v):  # DICOM series folder, RTSTRUCT or SEG
            mod = c[len("image_"):] if c.startswith("image_") else None
            problems += header_problems(v, c, pid, EXPECTED_MODALITY.get(mod) if mod else None,
                                        suv=mod is not None and mod == suv_modality, roi_names=roi_names)
            continue
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(v))
        try:
            reader.ReadImageInformation()
        except RuntimeError:
            problems.append(InputError(f"{c} cannot be read (corrupt, truncated or not an image)",
                                       "re-export the file as NIfTI/NRRD/MHA or a DICOM series", pid, str(v)))
            continue
        headers[c] = (reader.GetSize(), reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection())
    ref = headers.get(f"image_{reference}") if reference else None
    if ref is None:
        return problems
    for r in raters:
        h = headers.get(f"mask_{r}")
        if h is None:
            continue
        what = [name for name, a, b in (("size", h[0], ref[0]), ("spacing", h[1], ref[1]), ("origin", h[2], ref[2]),
                                        ("direction", h[3], ref[3]))
                if len(a) != len(b) or not np.allclose(a, b, atol=tol_mm if name != "size" else 0)]
        if what:
            problems.append(InputError(f"mask_{r} is not on the grid of image_{reference} ({', '.join(what)} differ)",
                                       f"export the mask on the {reference} grid (same size, spacing, origin, "
                                       "direction)", pid, str(row[f"mask_{r}"])))
    return problems


def _cohort_checks(out: pd.DataFrame) -> list[InputError]:
    """Cohort-level problems: a development/training cohort or an external cohort whose
    labels are all one class (its AUC and split cannot be computed)."""
    problems = []
    if "label" not in out:
        return problems
    for (coh, role), g in out.groupby(["cohort", "role"], dropna=True):
        if _is_missing(coh):
            continue  # reported per row
        labs = pd.to_numeric(g["label"], errors="coerce").dropna()
        if role in ("development", "training", "external") and len(labs) and labs.nunique() == 1:
            fix = ("add patients of the other class" if role != "external" else
                   "add patients of the other class, or give the cohort role 'ici' if it is for outcome only")
            problems.append(InputError(f"cohort {coh} ({role}) has only label {int(labs.iloc[0])} "
                                       f"({len(labs)} patients): no AUC, no stratified split", fix, where="label"))
    return problems


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
