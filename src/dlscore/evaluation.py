"""Evaluation sets: the one type that names a group of patients analysed together, shared by
the workflow's planning (output file names, before the split is drawn) and by the steps
(table rows, after it).

A set is a development split (``training``, ``validation``, ``unlabelled``; in a
cross-validated study ``development``, scored out of fold: :mod:`dlscore.folds`) or one cohort
of a held-out split (``external``, ``ici``: one set per cohort). Its ``slug`` names files
(``km_<model>_<slug>_<endpoint>.png``), its ``name`` labels table rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import pandas as pd

#: splits of the development cohort (one set each); every other split has one set per cohort
DEVELOPMENT_SPLITS = ("training", "validation", "development", "unlabelled")
#: reporting order of the sets of an analysis that does not configure its own
DEFAULT_SPLITS = ("training", "validation", "development", "external", "ici")


@dataclass(frozen=True)
class EvalSet:
    """One evaluation set: ``split`` and, for held-out splits, the ``cohort``."""

    split: str
    cohort: str | None = None

    @property
    def slug(self) -> str:
        """File-name part: the split for development splits, else the cohort."""
        return self.split if self.cohort is None else self.cohort

    @property
    def name(self) -> str:
        """Table label: ``training`` / ``validation``, or ``<cohort> (<split>)``."""
        return self.split if self.cohort is None else f"{self.cohort} ({self.split})"

    @classmethod
    def of(cls, split: str, cohort: str) -> "EvalSet":
        return cls(split) if split in DEVELOPMENT_SPLITS else cls(split, cohort)

    def rows(self, df: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``df`` (columns ``split``, ``cohort``) in this set."""
        keep = df["split"] == self.split
        if self.cohort is not None:
            keep &= df["cohort"] == self.cohort
        return df[keep]


def planned_sets(roles: Iterable[tuple[str, str]], splits: Sequence[str]) -> list[EvalSet]:
    """The sets known before the split is drawn, from (role, cohort) of every planned
    patient: ``training`` and ``validation`` exist when there are development patients,
    held-out splits give one set per cohort; ``unlabelled`` is only known after validation."""
    roles = list(roles)
    out: list[EvalSet] = []
    for split in splits:
        if split in ("training", "validation", "development"):
            if any(r in ("development", split) for r, _ in roles):
                out.append(EvalSet(split))
        elif split != "unlabelled":
            out += [EvalSet(split, c) for c in dict.fromkeys(c for r, c in roles if r == split)]
    return list(dict.fromkeys(out))


def evaluation_sets(df: pd.DataFrame, splits: Sequence[str] = DEFAULT_SPLITS) -> list[tuple[EvalSet, pd.DataFrame]]:
    """(set, rows) of ``df`` in reporting order: ``splits`` in turn, each held-out split's
    cohorts in order of appearance; sets without rows are left out."""
    out = []
    for split in splits:
        if split in DEVELOPMENT_SPLITS:
            if (df["split"] == split).any():
                out.append((EvalSet(split), df[df["split"] == split]))
            continue
        for coh in dict.fromkeys(df.loc[df["split"] == split, "cohort"]):
            es = EvalSet(split, coh)
            out.append((es, es.rows(df)))
    return out


def scored(validated: str, scores: str, rater: str = "r1", suv: pd.DataFrame | None = None) -> pd.DataFrame:
    """Manifest rows (``validated``, parquet) joined with one rater's rows of a score table
    (``scores``: patient_id, rater, dls[, continuous]); the score table's columns win over
    manifest columns of the same name (a scores-only study whose marker column is ``dls``).
    With ``suv`` (:func:`suv_max_of`), each patient's SUVmax joins as column ``suv_max``."""
    sc = pd.read_parquet(scores)
    man = pd.read_parquet(validated)
    man = man.drop(columns=[c for c in sc.columns if c != "patient_id" and c in man])
    out = man.merge(sc[sc["rater"] == rater], on="patient_id", how="inner")
    return out if suv is None else out.merge(suv, on="patient_id", how="left")


def suv_max_of(qc_table: str | None) -> pd.DataFrame | None:
    """(patient_id, suv_max) of the QC table, or None without a table or without SUVmax (no PET)."""
    if not qc_table:
        return None
    qc = pd.read_csv(qc_table, usecols=lambda c: c in ("patient_id", "suv_max"))
    return qc if "suv_max" in qc else None


def derivation_split(df: pd.DataFrame) -> str:
    """The split whose scores choose the cutoff and fit the radiomics signature: the
    out-of-fold ``development`` scores of a cross-validated study, else ``training``."""
    return "development" if (df["split"] == "development").any() else "training"


def fusion_split(df: pd.DataFrame) -> str:
    """The split the fusion models (RADLsig, DLS + clinical, the clinical baseline) are fitted
    on: the DLS there must come from a network that did not see the patient - the
    out-of-fold ``development`` scores of a cross-validated study, else the ``validation`` split."""
    return "development" if (df["split"] == "development").any() else "validation"


def score_basis(rows: pd.DataFrame) -> dict[str, str]:
    """``{"scores": ...}`` saying which networks scored ``rows`` (a set of a cross-validated
    study, whose scores carry ``score_source``): out of fold, or the fold ensemble; empty for
    other studies, so their tables keep their columns."""
    if "score_source" not in rows or rows.empty:
        return {}
    src = rows["score_source"].astype(str)
    if src.str.startswith("out-of-fold").all():
        return {"scores": "out-of-fold: each patient scored by the fold network that did not see it"}
    return {"scores": "; ".join(dict.fromkeys(src))}
