"""The study flow (CONSORT/STARD style): how many patients each cohort, split and analysis holds,
and why the ones left out of an analysis were left out.

The counts analysed are read from the analyses' own tables (their ``n`` column), never recomputed,
so the diagram cannot disagree with the tables; the reasons are read from the manifest (a missing
label, a missing endpoint). A difference the manifest does not explain is reported as such, with
the table to look at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pandas as pd

from dlscore.evaluation import evaluation_sets


@dataclass(frozen=True)
class Analysis:
    """One analysis of the flow: its ``name`` (a row label), its ``table`` (rows with ``set`` and
    ``n``, already cut to the primary model), the manifest ``columns`` a patient needs, each
    with the reason printed when it is missing, the ``source`` table's path and its count column."""

    name: str
    table: pd.DataFrame
    columns: Mapping[str, str]
    source: str
    n_column: str = "n"


def _missing(rows: pd.DataFrame, columns: Mapping[str, str]) -> list[tuple[str, int]]:
    """(reason, patients) for each needed column, a patient counted under its first missing one."""
    left = rows
    out = []
    for col, reason in columns.items():
        gone = left[col].isna() if col in left else pd.Series(True, index=left.index)
        if gone.any():
            out.append((reason, int(gone.sum())))
        left = left[~gone]
    return out


def _analysis_row(name: str, n_set: int, a: Analysis, rows: pd.DataFrame) -> dict[str, Any] | None:
    """The flow row of analysis ``a`` in evaluation set ``name`` (None: the analysis has no row there)."""
    hit = a.table[a.table["set"] == name] if "set" in a.table else a.table.iloc[:0]
    if hit.empty or a.n_column not in hit or pd.isna(hit[a.n_column].iloc[0]):
        return None
    n = int(hit[a.n_column].iloc[0])
    reasons = _missing(rows, a.columns)
    explained = sum(k for _, k in reasons)
    if n_set - n != explained:
        reasons = [(f"left out by the analysis (see {a.source})", n_set - n)] if n_set > n else []
    return {"level": "analysis", "set": name, "analysis": a.name, "n": n, "excluded": n_set - n,
            "reasons": "; ".join(f"{k} {r}" for r, k in reasons), "source": a.source}


def study_flow(manifest: pd.DataFrame, analyses: Sequence[Analysis],
               modalities: Sequence[str] = ()) -> pd.DataFrame:
    """Rows of the flow, top to bottom: ``manifest`` (every patient), one ``cohort`` row per cohort
    (its role; patients imaged without a modality, which get a zero channel), one ``set`` row per
    evaluation set, and one ``analysis`` row per (set, analysis) that has a row in its table:
    ``n`` analysed, ``excluded`` and their ``reasons``.

    ``manifest``: the validated manifest (patient_id, cohort, role, split and the analyses'
    columns; ``has_image_<modality>`` flags)."""
    rows: list[dict[str, Any]] = [{"level": "manifest", "set": "all patients", "analysis": "",
                                   "n": len(manifest), "excluded": 0, "reasons": "", "source": "manifest"}]
    for cohort, g in manifest.groupby("cohort", sort=False):
        lacking = [f"{int((~g[f'has_image_{m}'].astype(bool)).sum())} without {m} (zero channel)"
                   for m in modalities if f"has_image_{m}" in g and not g[f"has_image_{m}"].astype(bool).all()]
        rows.append({"level": "cohort", "set": str(cohort), "analysis": str(g["role"].iloc[0]), "n": len(g),
                     "excluded": 0, "reasons": "; ".join(lacking), "source": "manifest"})
    for es, g in evaluation_sets(manifest):
        rows.append({"level": "set", "set": es.name, "analysis": es.cohort or "development", "n": len(g),
                     "excluded": 0, "reasons": "", "source": "manifest/splits.csv"})
        rows += [r for a in analyses if (r := _analysis_row(es.name, len(g), a, g)) is not None]
    return pd.DataFrame(rows, columns=["level", "set", "analysis", "n", "excluded", "reasons", "source"])


def primary_rows(table: pd.DataFrame, model: str, **where: str) -> pd.DataFrame:
    """The rows of a per-model table for ``model`` (column ``model`` or ``marker``), cut further by
    ``where`` (column -> value; columns the table lacks are ignored)."""
    col = "model" if "model" in table else "marker"
    if col in table:
        names = table[col].astype(str)
        out = table[(names == model) | names.str.startswith(model + " ")]
    else:
        out = table
    for k, v in where.items():
        if k in out:
            out = out[out[k] == v]
    return out
