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

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from dlscore.errors import InputError, ManifestError
from dlscore.plausibility import duplicate_masks, file_identity, header_checks, is_missing, number, outcome_consistency

ROLES = ("development", "training", "validation", "external", "ici")


#: the characters a patient id or cohort name may use (they become folder and file names)
SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
SAFE_ID_RULE = "letters, digits, '-', '_' and '.', not starting with '.', at most 64 characters"


def identifier_problem(value: object) -> str | None:
    """Why ``value`` cannot be a patient id or cohort name (they become folder and file
    names under ``results/``: ``../x`` or ``a/b`` would write elsewhere), or None if it can."""
    text = str(value)
    if SAFE_ID.fullmatch(text):
        return None
    if text != text.strip():
        return f"{text!r} has leading or trailing spaces"
    if len(text) > 64:
        return f"'{text[:20]}...' is {len(text)} characters long"
    bad = sorted({c for c in text if not (c.isascii() and (c.isalnum() or c in "._-"))})
    if bad:
        return f"{text!r} contains {' '.join(repr(c) for c in bad)}"
    return f"{text!r} starts with '.'"


def _decode(raw: bytes, path: Path) -> str:
    """Text of a manifest file: UTF-8 (with or without BOM) or UTF-16 with a BOM."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ManifestError([InputError(
            f"manifest is not UTF-8 text (byte {raw[err.start]:#x} at position {err.start})",
            "save the table as 'CSV UTF-8' (or as .xlsx)", where=path.name)]) from None


def _separator(text: str) -> str:
    """The field separator of a delimited manifest, from its header line: tab, ';' or ','."""
    header = text.splitlines()[0] if text else ""
    counts = {sep: header.count(sep) for sep in ("\t", ";", ",")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


#: columns read as text whatever they hold (an id "007" stays "007")
TEXT_COLUMNS = {"patient_id": str, "cohort": str, "role": str}


def read_table(path: str | Path, sheet: str | int | None = None) -> pd.DataFrame:
    """A patient table (manifest or clinical sheet): ``.xlsx`` (``sheet``:
    name or index, default the first), or delimited text (``,``, ``;`` or tab, sniffed from
    the header; UTF-8 or UTF-16 with BOM). Raises :class:`ManifestError` naming the file for
    a table that cannot be read, has repeated column names, or has no rows."""
    path = Path(path)
    where = path.name
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise ManifestError([InputError(f"manifest file {what}",
                                        "set `manifest:` in the config to your CSV", where=str(path))])
    raw = path.read_bytes()
    if path.suffix.lower() in (".xlsx", ".xlsm") or raw[:4] == b"PK\x03\x04":
        try:
            df = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=TEXT_COLUMNS,
                               engine="openpyxl")
        except (ValueError, KeyError, OSError) as err:
            raise ManifestError([InputError(f"Excel file cannot be read ({err})",
                                            "save it as .xlsx (Excel 2010+) or as CSV UTF-8", where=where)]) from None
        header = [str(c) for c in df.columns]
        header = [h.split(".")[0] if re.fullmatch(r".+\.\d+", h) and h.split(".")[0] in header else h
                  for h in header]  # pandas renames repeated Excel headers 'x' -> 'x.1'
    elif raw[:4] == b"\xd0\xcf\x11\xe0":
        raise ManifestError([InputError("manifest is an old Excel (.xls) file",
                                        "save it as .xlsx or as CSV UTF-8", where=where)])
    else:
        import csv
        import io
        text = _decode(raw, path)
        sep = _separator(text)
        try:
            header = next(csv.reader(io.StringIO(text), delimiter=sep), [])
            df = pd.read_csv(io.StringIO(text), sep=sep, dtype=TEXT_COLUMNS)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise ManifestError([InputError(f"manifest cannot be parsed as a table ({str(err).strip()})",
                                            "give one header line and one row per patient, every row with the "
                                            "same number of fields", where=where)]) from None
    header = [h.strip() for h in header]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise ManifestError([InputError(f"column(s) {', '.join(map(repr, repeated))} appear more than once",
                                        "keep one column of each name", where=where)])
    df.columns = header
    if df.empty:
        raise ManifestError([InputError("manifest has a header but no patient rows",
                                        "add one row per patient", where=where)])
    return df


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read a manifest (CSV/TSV/semicolon text or ``.xlsx``; see :func:`read_table`).
    Ids, cohorts and roles are read as text; other columns as pandas infers them."""
    return read_table(path)


def _name_problems(df: pd.DataFrame) -> list[InputError]:
    """Patient ids and cohort names that are not safe folder names, by row (empty ones are
    reported by :func:`validate_manifest`)."""
    problems = []
    for pos, (pid, coh) in enumerate(zip(df["patient_id"], df["cohort"])):
        for col, v in (("patient_id", pid), ("cohort", coh)):
            why = None if is_missing(v) else identifier_problem(v)
            if why:
                problems.append(InputError(f"{col} {why}", f"use only {SAFE_ID_RULE} (ids become folder names)",
                                           where=f"row {pos + 2}"))
    return problems


def check_structure(df: pd.DataFrame, source: str = "manifest") -> None:
    """What must hold before the workflow can be planned from ``df``: the ``patient_id``,
    ``cohort`` and ``role`` columns, and ids and cohort names that are safe folder names
    (:data:`SAFE_ID`). Raises one :class:`ManifestError` listing every problem by row."""
    problems = [InputError(f"required column '{c}' is missing{_suggest(c, df.columns)}",
                           f"add a '{c}' column (see README, 'Bring your own cohort')", where=c)
                for c in ("patient_id", "cohort", "role") if c not in df.columns]
    if problems:
        raise ManifestError(problems, source)
    problems = _name_problems(df)
    if problems:
        raise ManifestError(problems, source)


def resolve_path(value: str, base_dir: Path) -> str:
    p = Path(str(value))
    return str(p if p.is_absolute() else (base_dir / p))


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
                      roi_names: Sequence[str] = (), checks: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Check every row; raise one :class:`ManifestError` listing all problems.

    ``checks`` holds the plausibility limits (config ``checks``: voxel spacing range in mm,
    largest plausible SUV, DCB landmark in months; :data:`DEFAULT_CHECKS` when None).

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
    out["patient_id"] = out["patient_id"].map(lambda v: "" if is_missing(v) else str(v).strip())
    problems += _id_problems(out) + _name_problems(df)
    path_cols = ([f"image_{m}" for m in modalities] + [f"mask_{r}" for r in raters if f"mask_{r}" in out]
                 if imaging else [])
    for i, row in out.iterrows():
        pid = row["patient_id"] or f"(row {i + 2})"
        if is_missing(row["cohort"]):
            problems.append(InputError("cohort is empty", "name the cohort / institution", pid, "cohort"))
        if row["role"] not in ROLES:
            problems.append(InputError(f"role '{row['role']}' is not one of {', '.join(ROLES)}",
                                       "correct the role column", pid, "role"))
        problems += _path_problems(out, i, pid, path_cols, optional, base_dir, check_files)
        if check_files and imaging:
            problems += header_checks(out.loc[i], pid, modalities, raters, reference, tol_mm, suv_modality,
                                      roi_names, checks)
            problems += duplicate_masks(out.loc[i], pid, raters)
        problems += _value_problems(row, pid, out.columns) + outcome_consistency(row, pid, checks)
    problems += _cohort_checks(out)
    if problems:
        raise ManifestError(problems)
    return out


def _id_problems(out: pd.DataFrame) -> list[InputError]:
    """Rows without a patient_id, and ids given more than once."""
    problems = [InputError(f"row {i + 2} has no patient_id", "give every row a pseudonymous id", where="patient_id")
                for i in out.index[out["patient_id"] == ""]]
    for pid in out["patient_id"][out["patient_id"].duplicated() & (out["patient_id"] != "")].unique():
        roles = sorted(set(out.loc[out["patient_id"] == pid, "role"].astype(str)))
        extra = f" (roles {', '.join(roles)}: a patient can be in one split only)" if len(roles) > 1 else ""
        problems.append(InputError(f"patient_id appears more than once{extra}",
                                   "keep one row per patient (merge or rename the duplicates)", pid, "patient_id"))
    return problems


def _path_problems(out: pd.DataFrame, i, pid: str, path_cols: Sequence[str], optional: Sequence[str],
                   base_dir: Path, check_files: bool) -> list[InputError]:
    """Required files not given, the same file given twice, dangling links, missing files of
    row ``i``; resolves the row's paths in ``out`` against ``base_dir`` (in place)."""
    problems, seen = [], {}
    for c in path_cols:
        v = out.at[i, c]
        if is_missing(v):
            if c == "mask_r1" or (c.startswith("image_") and c[len("image_"):] not in optional):
                problems.append(InputError(f"no {c} given", f"fill {c} with the file of this patient", pid, c))
            continue
        resolved = resolve_path(v, base_dir)
        out.at[i, c] = resolved
        key = file_identity(resolved)
        if key in seen:
            problems.append(InputError(f"{c} is the same file as {seen[key]}",
                                       f"give the {c} file of this patient", pid, resolved))
        seen[key] = c
        if check_files and Path(resolved).is_symlink() and not Path(resolved).exists():
            problems.append(InputError(f"{c} is a symbolic link that leads nowhere (a missing target or a "
                                       "loop of links)", "point the manifest at the file itself", pid, resolved))
        elif check_files and not Path(resolved).exists():
            problems.append(InputError(f"{c} file does not exist",
                                       "correct the path (relative paths are relative to the manifest's folder)",
                                       pid, resolved))
    return problems


def _value_problems(row: pd.Series, pid: str, columns) -> list[InputError]:
    """Values of one row: 0/1 columns, a label where training needs one, ranges, survival
    times and events."""
    problems = []
    for col, meaning in BINARY.items():
        v = row.get(col)
        if col in columns and not is_missing(v) and v not in (0, 1, 0.0, 1.0):
            problems.append(InputError(f"{col} is {v!r}, expected 0 or 1", f"code {meaning}", pid, col))
    if is_missing(row.get("label")) and row["role"] in ("training", "validation"):
        problems.append(InputError("label is empty in a training cohort", "give the 0/1 label or change the role",
                                   pid, "label"))
    for col, (lo, hi, meaning) in RANGES.items():
        if col in columns and not is_missing(row[col]):
            x = number(row[col])
            if x is None or not (lo <= x <= hi):
                problems.append(InputError(f"{col} is {row[col]!r}, outside {lo:g}-{hi:g}", f"give {meaning}",
                                           pid, col))
    for ep in ("pfs", "os"):
        problems += _endpoint_problems(row, pid, f"{ep}_time", f"{ep}_event", columns)
    return problems


def _endpoint_problems(row: pd.Series, pid: str, t: str, e: str, columns) -> list[InputError]:
    """A time that is not a finite non-negative number, an event not 0/1, one without the other."""
    problems = []
    has_t = t in columns and not is_missing(row[t])
    has_e = e in columns and not is_missing(row[e])
    if has_t:
        x = number(row[t])
        if x is None or not np.isfinite(x):
            problems.append(InputError(f"{t} is {row[t]!r}, not a finite number", "give the time in months", pid, t))
        elif x < 0:
            problems.append(InputError(f"{t} is negative ({row[t]})", "give the time from treatment start in months",
                                       pid, t))
    if has_e and row[e] not in (0, 1, 0.0, 1.0):
        problems.append(InputError(f"{e} is {row[e]!r}, expected 0 (censored) or 1 (event)", "code events as 0/1",
                                   pid, e))
    if has_t != has_e and t in columns and e in columns:
        gone = e if has_t else t
        problems.append(InputError(f"{gone} is empty while {t if has_t else e} is given",
                                   "give both the time and the event, or neither", pid, gone))
    return problems


def _cohort_checks(out: pd.DataFrame) -> list[InputError]:
    """Cohort-level problems: a development/training cohort or an external cohort whose
    labels are all one class (its AUC and split cannot be computed)."""
    problems = []
    if "label" not in out:
        return problems
    for (coh, role), g in out.groupby(["cohort", "role"], dropna=True):
        if is_missing(coh):
            continue  # reported per row
        labs = pd.to_numeric(g["label"], errors="coerce").dropna()
        if role in ("development", "training", "external") and len(labs) and labs.nunique() == 1:
            fix = ("add patients of the other class" if role != "external" else
                   "add patients of the other class, or give the cohort role 'ici' if it is for outcome only")
            problems.append(InputError(f"cohort {coh} ({role}) has only label {int(labs.iloc[0])} "
                                       f"({len(labs)} patients): no AUC, no stratified split", fix, where="label"))
    return problems


def assign_splits(df: pd.DataFrame, validation_fraction: float, seed: int, method: str = "holdout",
                  k: int = 5, site_column: str = "site") -> pd.DataFrame:
    """Add ``split``: development rows are split into training/validation, stratified on
    ``label`` and seeded; other roles map to themselves. Development patients without a
    label get split ``unlabelled``: scored, never trained on, left out of AUCs.
    Raises if a split lacks a class. With ``method`` ``kfold`` / ``leave_site_out`` the
    labelled development patients get split ``development`` and a ``fold`` instead
    (:mod:`dlscore.folds`)."""
    out = df.copy()
    out["split"] = out["role"].where(out["role"] != "development")
    unlabelled = (out["role"] == "development") & out["label"].isna()
    out.loc[unlabelled, "split"] = "unlabelled"
    dev = out.index[(out["role"] == "development") & ~unlabelled]
    if method != "holdout":
        return _assign_folds(out, dev, seed, method, k, site_column)
    if validation_fraction == 0:
        raise ManifestError([InputError(
            "split.validation_fraction is 0 (no early stopping), which only cross-validated designs allow: the "
            "holdout design needs its validation split", "set split.method: kfold (or leave_site_out), or a "
            "validation_fraction such as 0.29", where="split.validation_fraction")])
    if len(dev):
        y = out.loc[dev, "label"].astype(int)
        n_val = int(np.ceil(validation_fraction * len(dev)))
        if min(n_val, len(dev) - n_val) < 2 or y.value_counts().min() < 2:
            raise ManifestError([InputError(
                f"the development patients ({len(dev)}, {int(y.sum())} positive) cannot be split "
                f"{1 - validation_fraction:.0%}/{validation_fraction:.0%} into training and validation with "
                "both classes on each side", "set split.validation_fraction so that the validation split gets "
                "at least one patient of each class (e.g. 0.2-0.3), or give roles training/validation yourself",
                where="split.validation_fraction")])
        tr, va = train_test_split(dev, test_size=validation_fraction, random_state=seed, stratify=y)
        out.loc[tr, "split"] = "training"
        out.loc[va, "split"] = "validation"
    for split in ("training", "validation"):
        labs = out.loc[out["split"] == split, "label"]
        if len(labs) and labs.nunique() < 2:
            raise ManifestError([InputError(f"the {split} split has only label {labs.iloc[0]}",
                                            "add patients of the other class or change the split fraction",
                                            where="label")])
    return out


def _assign_folds(out: pd.DataFrame, dev: pd.Index, seed: int, method: str, k: int, site_column: str) -> pd.DataFrame:
    """``split`` = development and ``fold`` (1..K) for the labelled development rows ``dev``."""
    from dlscore.folds import CV_SPLIT, site_folds, stratified_folds
    fixed = out.index[out["role"].isin(["training", "validation"])]
    if len(fixed):
        raise ManifestError([InputError(
            f"role {out.at[fixed[0], 'role']!r} fixes a holdout split, but split.method is {method}",
            "give these patients role 'development' (the folds are drawn for them), or use split.method: holdout",
            str(out.at[fixed[0], "patient_id"]), where="role")])
    ids = out.loc[dev, "patient_id"].astype(str)
    try:
        if method == "kfold":
            folds = stratified_folds(pd.Series(out.loc[dev, "label"].to_numpy(), index=ids), k, seed)
        else:
            if site_column not in out:
                raise InputError(f"leave-site-out needs the institution of each patient, and the manifest has no "
                                 f"column {site_column!r}", "add it, or set split.site_column to the column that "
                                 "has it", where="split.site_column")
            folds, _ = site_folds(pd.Series(out.loc[dev, site_column].to_numpy(), index=ids))
    except InputError as err:
        raise ManifestError([err]) from None
    out.loc[dev, "split"] = CV_SPLIT
    out["fold"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out.loc[dev, "fold"] = folds.to_numpy()
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
