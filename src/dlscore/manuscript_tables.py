"""Manuscript-ready versions of the main tables: rounded as journals print them, estimates
with their 95 % CI in one cell, p formatted ("<0.001", 0.003, 0.04, 0.52), units in the
headers, models and markers by their display names. The full-precision CSVs stay the record;
these are derived from them and say "not computable: <reason>" where those do.

Each builder takes the full table (a DataFrame read from ``tables/<name>.csv``) and returns
the printed table (all cells strings)."""

from __future__ import annotations

import math
from typing import Callable, Mapping

import pandas as pd

from dlscore.typography import math_signs, p_value


def _num(v, digits: int) -> str:
    v = float(v)
    if math.isinf(v):
        return "NR" if v > 0 else "−∞"  # an upper limit never reached (KM median CI)
    return f"{v:.{digits}f}".replace("-", "−")


def estimate_ci(est, lo, hi, digits: int = 2) -> str:
    """ "0.81 (0.66–0.93)", "0.10 (−0.49 to 0.69)" when a limit is negative (a dash would read
    as a minus); the estimate alone when the CI is absent; "" when the estimate is."""
    if est is None or pd.isna(est):
        return ""
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return _num(est, digits)
    sep = " to " if float(lo) < 0 or float(hi) < 0 else "–"
    return f"{_num(est, digits)} ({_num(lo, digits)}{sep}{_num(hi, digits)})"


def _name(text, names: Mapping[str, str]) -> str:
    """A model, marker or endpoint key as printed: its display name; "<model> DLS high" and
    "high:<model>" as "<display name> high"; >= as ≥."""
    text = str(text)
    for key, shown in names.items():
        if text in (f"{key} DLS high", f"high:{key}"):
            text = f"{shown} high"
            break
    else:
        text = names.get(text, text)
    return math_signs(text)


def _cols(df: pd.DataFrame, *names: str) -> pd.DataFrame:
    """``df`` with every column of ``names`` (absent ones empty): tables of a study without
    an analysis keep their shape."""
    return df.reindex(columns=list(dict.fromkeys([*df.columns, *names])))


def _note(r) -> str:
    note = r.get("note")
    return str(note) if isinstance(note, str) and note else ""


def discrimination(df: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """AUC (DeLong CI) and sensitivity, specificity, PPV, NPV at the training cutoff
    (bootstrap CIs) of each model (primary label) per set."""
    d = _cols(df, "analysis", "auc", "auc_ci_low", "auc_ci_high", "auc_p", "n_pos", "note")
    d = d[d["analysis"] == "primary"]
    rows = []
    for _, r in d.iterrows():
        row = {"Model": _name(r["model"], names), "Set": r["set"],
               "Patients (positive), n": f"{int(r['n'])} ({int(r['n_pos'])})" if pd.notna(r.get("n_pos")) else "",
               "AUC (95 % CI)": estimate_ci(r["auc"], r["auc_ci_low"], r["auc_ci_high"]) or _note(r),
               "p (AUC vs 0.5)": p_value(r.get("auc_p"))}
        for key, name in (("sen", "Sensitivity"), ("spec", "Specificity"), ("ppv", "PPV"), ("npv", "NPV")):
            row[f"{name} (95 % CI)"] = estimate_ci(r.get(key), r.get(f"{key}_ci_low"), r.get(f"{key}_ci_high"))
        rows.append(row)
    return pd.DataFrame(rows)


def comparisons(df: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """Paired DeLong comparisons of AUCs (difference with its CI)."""
    d = _cols(df, "model", "set", "comparator", "n", "auc_model", "auc_comparator", "diff", "diff_ci_low",
              "diff_ci_high", "p", "note")
    rows = [{"Model": _name(r["model"], names), "Comparator": _comparator(r["comparator"], names),
             "Set": r["set"], "Patients, n": "" if pd.isna(r["n"]) else str(int(r["n"])),
             "AUC, model": estimate_ci(r["auc_model"], None, None), "AUC, comparator": estimate_ci(r["auc_comparator"], None, None),
             "ΔAUC (95 % CI)": estimate_ci(r["diff"], r["diff_ci_low"], r["diff_ci_high"]) or _note(r),
             "p (paired DeLong)": p_value(r["p"])} for _, r in d.dropna(subset=["model"]).iterrows()]
    return pd.DataFrame(rows)


def _comparator(text, names: Mapping[str, str]) -> str:
    text = str(text)
    return _name(text.removeprefix("model "), names) if text.startswith("model ") else _name(text, names)


def survival(df: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """Kaplan–Meier medians, log-rank p and Cox HR (high vs low) per model, set and endpoint."""
    d = _cols(df, "n_high", "events_high", "n_low", "events_low", "hr", "hr_ci_low", "hr_ci_high", "logrank_p",
              "median_high", "median_high_ci_low", "median_high_ci_high", "median_low", "median_low_ci_low",
              "median_low_ci_high", "unit", "note")
    rows = []
    for _, r in d.iterrows():
        unit = r["unit"] if isinstance(r["unit"], str) else ""
        ok = pd.notna(r["n_high"])
        rows.append({"Model": _name(r["model"], names), "Set": r["set"], "Endpoint": _name(r["endpoint"], names),
                     "High, n (events)": f"{int(r['n_high'])} ({int(r['events_high'])})" if ok else "",
                     "Low, n (events)": f"{int(r['n_low'])} ({int(r['events_low'])})" if ok else "",
                     f"Median, high ({unit}, 95 % CI)": estimate_ci(r["median_high"], r["median_high_ci_low"],
                                                                   r["median_high_ci_high"], 1),
                     f"Median, low ({unit}, 95 % CI)": estimate_ci(r["median_low"], r["median_low_ci_low"],
                                                                  r["median_low_ci_high"], 1),
                     "HR, high vs low (95 % CI)": estimate_ci(r["hr"], r["hr_ci_low"], r["hr_ci_high"]) or _note(r),
                     "p (log-rank)": p_value(r["logrank_p"])})
    return pd.DataFrame(rows)


def cox(df: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """Cox models: one row per term with its HR (95 % CI) and p."""
    d = _cols(df, "set", "endpoint", "model", "term", "reference", "n", "events", "hr", "hr_ci_low", "hr_ci_high",
              "p", "note")
    rows = [{"Set": r["set"], "Endpoint": _name(r["endpoint"], names), "Model": _name(r["model"], names), "Term": _name(r["term"], names),
             "Reference": "" if pd.isna(r["reference"]) else r["reference"],
             "Patients (events), n": f"{int(r['n'])} ({int(r['events'])})" if pd.notna(r["events"]) else "",
             "HR (95 % CI)": estimate_ci(r["hr"], r["hr_ci_low"], r["hr_ci_high"]) or _note(r),
             "p (Wald)": p_value(r["p"])} for _, r in d.iterrows()]
    return pd.DataFrame(rows)


def dcb(df: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """Durable clinical benefit by group (rates in %, Wilson CI; Fisher p) and the AUC."""
    d = _cols(df, "set", "marker", "n_high", "dcb_high", "rate_high", "rate_high_ci_low", "rate_high_ci_high",
              "n_low", "dcb_low", "rate_low", "rate_low_ci_low", "rate_low_ci_high", "p", "auc", "auc_ci_low",
              "auc_ci_high", "note")
    pct = lambda r, k: estimate_ci(*(100 * r[c] if pd.notna(r[c]) else r[c]  # noqa: E731
                                     for c in (k, f"{k}_ci_low", f"{k}_ci_high")), digits=0)
    rows = [{"Set": r["set"], "Marker": _name(r["marker"], names),
             "DCB, high: n/N": f"{int(r['dcb_high'])}/{int(r['n_high'])}" if pd.notna(r["n_high"]) else "",
             "DCB, high (%, 95 % CI)": pct(r, "rate_high"),
             "DCB, low: n/N": f"{int(r['dcb_low'])}/{int(r['n_low'])}" if pd.notna(r["n_low"]) else "",
             "DCB, low (%, 95 % CI)": pct(r, "rate_low"), "p (Fisher)": p_value(r["p"]),
             "AUC for DCB (95 % CI)": estimate_ci(r["auc"], r["auc_ci_low"], r["auc_ci_high"]) or _note(r)}
            for _, r in d.iterrows()]
    return pd.DataFrame(rows)


def characteristics(df: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """Table 1 / Table 2: the summary columns as they are, p formatted, the test named, no hash."""
    d = df.drop(columns=[c for c in ("config_hash", "model", "grouping") if c in df])
    if "variable" in d:
        d = d.assign(variable=d["variable"].map(lambda v: _name(v, {"patients": "Patients", **names})))
    d = d.rename(columns=lambda c: c.split("=", 1)[1] if c.startswith(("cohort=", "group=", "label=")) else c)
    if "p" in d:
        d = d.assign(p=d["p"].map(p_value))
    return d.fillna("").rename(columns={"variable": "Variable", "level": "Level", "overall": "Overall",
                                        "p": "p", "test": "Test", "set": "Set"})


#: name -> (the full table it is built from, builder); written as tables/manuscript/<name>.csv
BUILDERS: dict[str, tuple[str, Callable[[pd.DataFrame, Mapping[str, str]], pd.DataFrame]]] = {
    "table1": ("table1", characteristics),
    "table2": ("table2", characteristics),
    "discrimination": ("discrimination", discrimination),
    "auc_comparisons": ("comparisons", comparisons),
    "survival": ("survival", survival),
    "cox_multivariable": ("cox_multivariable", cox),
    "dcb": ("dcb", dcb),
}


#: name -> the caption printed over the table (and its heading in the report)
CAPTIONS = {"table1": "Table 1. Patient characteristics by cohort",
            "table2": "Table 2. Outcome cohorts by DLS group",
            "discrimination": "Discrimination of the DLS per set (AUC, DeLong CI; metrics at the training cutoff, "
                              "bootstrap CI)",
            "auc_comparisons": "AUC comparisons (paired DeLong)",
            "survival": "Survival by DLS group (Kaplan–Meier medians, log-rank, Cox HR)",
            "cox_multivariable": "Multivariable Cox models",
            "dcb": "Durable clinical benefit by group (Wilson CI, Fisher's exact test) and AUC for DCB"}


def manuscript_tables(frames: Mapping[str, pd.DataFrame], names: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """The manuscript tables that ``frames`` (full table name -> DataFrame) allow; a source
    table that holds only a note gives a one-row table with that note. ``names``: key ->
    printed name (models and markers: ``display_names``; endpoints: their label)."""
    out = {}
    for name, (source, build) in BUILDERS.items():
        if source not in frames:
            continue
        full = frames[source]
        if "note" in full and len(full.columns) <= 2:
            out[name] = full[["note"]]
            continue
        out[name] = build(full, names)
    return out
