"""Manifest builder for immunotherapy cohorts released as cBioPortal study files
(``data_clinical_patient.txt`` / ``data_clinical_sample.txt``; tab-separated, optional
``#`` header lines), e.g. Hellmann et al. 2018 and Rizvi et al. 2015 in ``../shared/data/ici``.

Nothing is guessed: the config names, per cohort, which source column becomes which
manifest column (``columns``), how every text value is coded (``values``: a value absent
from the map is an error naming the cohort, column and value; ``null`` codes "missing",
e.g. "Not Evaluable") and which 0/1 columns are thresholds of a numeric one
(``thresholds``: ``target: [source, cutoff]`` gives 1 when source >= cutoff). Every value
that ends up missing is counted, with its raw text, in the mapping report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from dlscore.errors import InputError, ManifestError


def read_cbioportal(path: str | Path) -> pd.DataFrame:
    """A cBioPortal clinical file: '#' metadata lines skipped, first other line = header."""
    path = Path(path)
    if not path.exists():
        raise ManifestError([InputError("cBioPortal file does not exist",
                                        "check ici.data_dir and the cohort's folder in the config", where=str(path))])
    with open(path, encoding="utf-8") as fh:
        skip = 0
        for line in fh:
            if not line.startswith("#"):
                break
            skip += 1
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, skiprows=skip)


def _cohort_table(data_dir: Path, name: str, spec: Mapping[str, Any]) -> pd.DataFrame:
    folder = data_dir / spec["folder"]
    pat = read_cbioportal(folder / "data_clinical_patient.txt")
    sample_file = folder / "data_clinical_sample.txt"
    if spec.get("sample_columns") and sample_file.exists():
        smp = read_cbioportal(sample_file)
        keep = ["PATIENT_ID", *spec["sample_columns"]]
        missing = [c for c in keep if c not in smp]
        if missing:
            raise ManifestError([InputError(f"columns {missing} are not in {sample_file.name}",
                                            f"correct ici.cohorts.{name}.sample_columns", where=str(sample_file))])
        pat = pat.merge(smp[keep].drop_duplicates("PATIENT_ID"), on="PATIENT_ID", how="left")
    return pat


def spec_id(spec: Mapping[str, Any]) -> str:
    """The source column mapped to ``patient_id``."""
    return next(src for src, tgt in spec["columns"].items() if tgt == "patient_id")


def _map_columns(raw: pd.DataFrame, spec: Mapping[str, Any], name: str, src_file: str,
                 problems: list[InputError]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The source columns copied to their manifest names (text, stripped); target -> source."""
    out = pd.DataFrame(index=raw.index)
    sources: dict[str, str] = {}
    for src, targets in spec["columns"].items():
        if src not in raw:
            also = " nor among sample_columns of data_clinical_sample.txt" if spec.get("sample_columns") else ""
            problems.append(InputError(f"cohort {name}: source column '{src}' is not in "
                                       f"data_clinical_patient.txt{also}",
                                       f"correct ici.cohorts.{name}.columns (or sample_columns)", where=src_file))
            continue
        for tgt in [targets] if isinstance(targets, str) else targets:
            out[tgt] = raw[src].str.strip()
            sources[tgt] = src
    return out, sources


def _code_column(out: pd.DataFrame, col: str, spec: Mapping[str, Any], name: str, source: str, src_file: str,
                 problems: list[InputError]) -> dict:
    """Code column ``col`` of ``out`` in place (``values`` mapping, else numbers where every
    value is one); the mapping-report row saying why values are missing."""
    raw_col = out[col].copy()
    blank = raw_col.isin(["", "NA", "NaN", "nan"])
    vmap = (spec.get("values") or {}).get(col)
    reasons = {}
    if vmap is not None:
        for u in sorted(set(raw_col[~blank]) - set(map(str, vmap))):
            pid = out.loc[raw_col == u, "patient_id"].iloc[0]
            problems.append(InputError(f"cohort {name}: value {u!r} of {source} has no coding",
                                       f"add it to ici.cohorts.{name}.values.{col} (use null for missing)",
                                       pid, src_file))
        coded = raw_col.map({str(k): v for k, v in vmap.items()})
        for k, v in vmap.items():
            if v is None and (raw_col == str(k)).any():
                reasons[str(k)] = int((raw_col == str(k)).sum())
        out[col] = coded.where(~blank)
    else:
        num = pd.to_numeric(raw_col.where(~blank), errors="coerce")
        out[col] = num if num.notna().sum() == (~blank).sum() else raw_col.where(~blank)
    if blank.any():
        reasons["(empty in the source)"] = int(blank.sum())
    return {"cohort": name, "column": col, "source": source, "n": len(out), "n_missing": int(pd.isna(out[col]).sum()),
            "missing_because": "; ".join(f"{k}: {v}" for k, v in reasons.items())}


def _one_cohort(data_dir: Path, name: str, spec: Mapping[str, Any], problems: list[InputError],
                report: list[dict]) -> pd.DataFrame | None:
    """The manifest rows of one cBioPortal cohort (None when it has no id column)."""
    raw = _cohort_table(data_dir, name, spec)
    src_file = str(data_dir / spec["folder"] / "data_clinical_patient.txt")
    out, sources = _map_columns(raw, spec, name, src_file, problems)
    if "patient_id" not in out:
        problems.append(InputError(f"cohort {name}: no source column is mapped to patient_id",
                                   f"map the id column in ici.cohorts.{name}.columns", where=src_file))
        return None
    empty_row = out.drop(columns="patient_id").apply(lambda c: c.isin(["", "NA", "NaN", "nan"])).all(axis=1)
    out = out[~empty_row | (out["patient_id"] == "")]
    no_id = out["patient_id"] == ""
    for col in [c for c in out.columns if c != "patient_id"]:
        report.append(_code_column(out, col, spec, name, sources[col], src_file, problems))
    for tgt, (src, cut) in (spec.get("thresholds") or {}).items():
        v = pd.to_numeric(out[src], errors="coerce")
        out[tgt] = (v >= float(cut)).astype(float).where(v.notna())
        report.append({"cohort": name, "column": tgt, "source": f"{src} >= {cut:g}", "n": len(out),
                       "n_missing": int(v.isna().sum()), "missing_because": f"{src} missing" if v.isna().any() else ""})
    if no_id.any():
        problems.append(InputError(f"cohort {name}: {int(no_id.sum())} rows without a patient id",
                                   "remove them from the source file", where=src_file))
    out.insert(1, "cohort", name)
    out.insert(2, "role", spec.get("role", "ici"))
    dropped = raw.loc[empty_row[empty_row].index, spec_id(spec)].tolist() if empty_row.any() else []
    report.append({"cohort": name, "column": "(patients)", "source": "data_clinical_patient.txt",
                   "n": len(out), "n_missing": len(dropped),
                   "missing_because": (f"excluded, id but no clinical value: {', '.join(dropped)}" if dropped else "")})
    return out


def build_manifest(ici: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build the scores-only manifest from ``ici`` (config section) and the mapping report.

    Returns (manifest: one row per patient with ``patient_id``, ``cohort``, ``role`` and the
    mapped columns; report: cohort, column, source, n, n_missing, missing_because).
    Raises :class:`ManifestError` listing every unmapped value or missing column.
    """
    data_dir = Path(ici["data_dir"])
    problems: list[InputError] = []
    report: list[dict] = []
    frames = [_one_cohort(data_dir, name, spec, problems, report) for name, spec in ici["cohorts"].items()]
    if problems:
        raise ManifestError(problems)
    man = pd.concat([f for f in frames if f is not None], ignore_index=True)
    for name in ici["cohorts"]:
        rows = man["cohort"] == name
        for col in man.columns:
            if man.loc[rows, col].isna().all() and not any(r["cohort"] == name and r["column"] == col for r in report):
                report.append({"cohort": name, "column": col, "source": "", "n": int(rows.sum()),
                               "n_missing": int(rows.sum()), "missing_because": "not recorded in this cohort"})
    for c in man.columns:
        if man[c].dtype == object:
            num = pd.to_numeric(man[c], errors="coerce")
            if num.notna().sum() == man[c].notna().sum() and man[c].notna().any():
                man[c] = num
    man["patient_id"] = man["patient_id"].astype(str)
    return man, pd.DataFrame(report)


def build(section: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Registry entry point (config section ``ici``): the manifest and the mapping report."""
    return build_manifest(section)
