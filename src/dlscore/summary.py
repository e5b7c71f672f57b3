"""The one-page summary of a study (``summary.html``): the headline numbers, generated from
the result tables (no number is typed by hand), with the study's caveats. Pure: frames in,
HTML out."""

from __future__ import annotations

import html
from typing import Mapping, Sequence

import numpy as np
import pandas as pd


def _esc(v) -> str:
    return html.escape(str(v))


def _int(v) -> str:
    """A count ("n/a" when the table has none)."""
    return str(int(v)) if v is not None and np.isfinite(float(v)) else "n/a"


def _num(v) -> str:
    return f"{float(v):.3g}" if v is not None and np.isfinite(float(v)) else "n/a"


def _fmt_ci(v, lo, hi, d=2) -> str:
    if not np.isfinite(v):
        return "not computable"
    return f"{v:.{d}f} ({lo:.{d}f}–{hi:.{d}f})"


def intro(study, label_name: str, scores_only: bool, folds: int = 0) -> list[str]:
    """Title and the design in one paragraph (``folds``: K of a cross-validated study, else 0)."""
    parts = [f"<h2>{_esc(study)}: summary of results</h2>"]
    if folds and not scores_only:
        parts.append(f"<p>Label: <b>{_esc(label_name)}</b>. Cross-validated training: {folds} networks per model, "
                     "each trained without one fold of the development cohort and early-stopped on an inner "
                     "validation set of its own training patients; development patients are scored by the network "
                     "that did not see them (out-of-fold DLS, on which the Youden cutoff and the fusion models are "
                     f"derived), every other cohort by the mean of the {folds} networks. Nothing is tuned on external "
                     "cohorts.</p>")
    elif scores_only:
        parts.append("<p>Scores-only study: each marker is a manifest column with a configured cutoff "
                     "(high = value &ge; cutoff); multivariable and C-index models are fitted on the development "
                     "cohort and applied unchanged to the others.</p>")
    else:
        parts.append(f"<p>Label: <b>{_esc(label_name)}</b>. Models are trained on the training "
                     "split, early-stopped on the validation split and frozen; the DLS cutoff is the maximum Youden "
                     "index on the training split. Nothing is tuned on external cohorts.</p>")
    return parts


def discrimination_section(disc: pd.DataFrame) -> list[str]:
    """Primary-label AUC per model and set."""
    parts = []
    for model, g in disc[disc["analysis"] == "primary"].groupby("model", sort=False):
        items = [f"<li>{_esc(r['set'])} (n={_int(r.get('n'))}, {_int(r.get('n_pos'))} positive): AUC "
                 f"{_fmt_ci(r.get('auc', np.nan), r.get('auc_ci_low'), r.get('auc_ci_high'))} (95 % CI, DeLong)</li>"
                 for _, r in g.iterrows()]
        parts.append(f"<h3>{_esc(model)}</h3><ul>{''.join(items)}</ul>")
    return parts


def reproducibility_section(rep: pd.DataFrame) -> list[str]:
    items = []
    for _, r in rep.iterrows():
        ok = "icc" in rep and np.isfinite(r.get("icc", np.nan))
        val = f"{r['form']} {_fmt_ci(r['icc'], r['ci_low'], r['ci_high'])}" if ok else r.get("note", "")
        items.append(f"<li>{_esc(r['model'])}, {_esc(r['set'])} (n={_int(r.get('n'))}): {_esc(val)}</li>")
    return [f"<h3>Inter-rater reproducibility of the DLS</h3><ul>{''.join(items)}</ul>"]


def _adjusted(mv: pd.DataFrame | None, r: pd.Series) -> str:
    """The multivariable HR of the same marker, set and endpoint (high vs low), or ""."""
    if mv is None or "term" not in mv:
        return ""
    m = mv[(mv["term"] == f"high:{r['model']}") & (mv["set"] == r["set"]) & (mv["endpoint"] == r["endpoint"])]
    if m.empty or not np.isfinite(m.iloc[0].get("hr", np.nan)):
        return ""
    a = m.iloc[0]
    if str(a.get("covariates", "none")) in ("none", "nan"):
        return "; no covariate was selected for adjustment"
    return f"; adjusted for {_esc(a['covariates'])}: HR {_fmt_ci(a['hr'], a['hr_ci_low'], a['hr_ci_high'])}"


def survival_section(sv: pd.DataFrame, models: Sequence[str], mv: pd.DataFrame | None = None) -> list[str]:
    """Hazard ratio high vs low (unadjusted and, where fitted, adjusted) and log-rank p of the
    models drawn in KM figures; a set the cutoff was derived on is flagged."""
    items = []
    for _, r in sv[sv["model"].isin(models)].iterrows():
        hr = (_fmt_ci(r["hr"], r["hr_ci_low"], r["hr_ci_high"]) if np.isfinite(r.get("hr", np.nan))
              else next((str(r[k]) for k in ("note", "estimable") if isinstance(r.get(k), str) and r[k]),
                        "not computable"))
        flag = " <b>(the cutoff was derived on this set: optimistic)</b>" if r["set"] in ("training", "development") else ""
        items.append(f"<li>{_esc(r['model'])}, {_esc(r['set'])}, {_esc(r['endpoint'])} (n={_int(r.get('n'))}): "
                     f"HR high vs low {_esc(hr)}, log-rank p = {_num(r.get('logrank_p'))}{_adjusted(mv, r)}{flag}</li>")
    return [f"<h3>Outcome by marker group</h3><ul>{''.join(items)}</ul>"]


def calibration_flags(cal: pd.DataFrame) -> list[str]:
    """Sets other than training where the DLS is miscalibrated: the recalibration slope's CI
    excludes 1 or calibration-in-the-large's excludes 0."""
    if "slope" not in cal:
        return []
    bad = cal[(cal["set"] != "training") & (((cal["slope_ci_low"] > 1) | (cal["slope_ci_high"] < 1))
                                            | ((cal["citl_ci_low"] > 0) | (cal["citl_ci_high"] < 0)))]
    items = [f"<li>{_esc(r['model'])}, {_esc(r['set'])}: slope "
             f"{_fmt_ci(r['slope'], r['slope_ci_low'], r['slope_ci_high'])}, calibration-in-the-large "
             f"{_fmt_ci(r['citl'], r['citl_ci_low'], r['citl_ci_high'])}</li>" for _, r in bad.iterrows()]
    if not items:
        return []
    return ["<h3>Miscalibrated outside training</h3><p>The DLS read as a probability is miscalibrated here (slope "
            f"CI excludes 1 or calibration-in-the-large CI excludes 0):</p><ul>{''.join(items)}</ul>"]


def coverage_flags(cov: pd.DataFrame) -> list[str]:
    """Markers missing in more than 20 % of a set (from the marker_coverage table)."""
    if "flag" not in cov:
        return []
    bad = cov[cov["flag"].fillna("").astype(str) != ""]
    items = [f"<li>{_esc(r['marker'])}, {_esc(r['set'])}: recorded in {_int(r['n_recorded'])} of {_int(r['n'])} "
             f"patients</li>" for _, r in bad.iterrows()]
    return [f"<h3>Markers missing in more than 20 % of a set</h3><ul>{''.join(items)}</ul>"] if items else []


def dcb_section(dcb: pd.DataFrame) -> list[str]:
    if "marker" not in dcb:
        return []
    items = []
    for _, r in dcb.iterrows():
        auc = (f"AUC {_fmt_ci(r['auc'], r['auc_ci_low'], r['auc_ci_high'])}" if np.isfinite(r.get("auc", np.nan))
               else str(r.get("auc_note", "")))
        items.append(f"<li>{_esc(r['marker'])}, {_esc(r['set'])}: DCB {_int(r.get('dcb_high'))}/"
                     f"{_int(r.get('n_high'))} "
                     f"high vs {_int(r.get('dcb_low'))}/{_int(r.get('n_low'))} low ({_esc(r['test'])} p = "
                     f"{_num(r.get('p'))}); {_esc(auc)}</li>")
    return [f"<h3>Durable clinical benefit</h3><ul>{''.join(items)}</ul>"]


def hr_difference_section(hd: pd.DataFrame) -> list[str]:
    if "diff" not in hd:
        return []
    items = [f"<li>{_esc(r['set'])}, {_esc(r['endpoint'])}: HR({_esc(r['marker_a'])}) − HR({_esc(r['marker_b'])}) = "
             f"{_esc(_fmt_ci(r['diff'], r['ci_low'], r['ci_high']))} ({_int(r.get('n_boot_used'))} bootstrap "
             f"replicates)</li>" for _, r in hd.iterrows()]
    return [f"<h3>Difference of hazard ratios</h3><ul>{''.join(items)}</ul>"]


def baseline_section(tab: pd.DataFrame) -> list[str]:
    """Per set, the DLS against the clinical-only baseline (``signature_baselines``), so a
    DLS that does not beat a model with no image is seen at a glance; empty without a
    clinical baseline."""
    if "model" not in tab or not (tab["model"] == "Clinical").any():
        return []
    items = []
    for name, g in tab.groupby("set", sort=False):
        g = g.set_index("model")
        if "DLS" not in g.index:
            continue
        aucs = ", ".join(f"{_esc(m)} {_fmt_ci(g.at[m, 'auc'], g.at[m, 'auc_ci_low'], g.at[m, 'auc_ci_high'])}"
                         for m in g.index if np.isfinite(g.at[m, "auc"]))
        items.append(f"<li>{_esc(name)} (n={_int(g.at['DLS', 'n'])}): <b>{_esc(g.at['DLS', 'verdict'])}</b>; "
                     f"AUC {aucs}</li>")
    return [f"<h3>The DLS against a model with no image</h3><ul>{''.join(items)}</ul>"] if items else []


def n_folds(splits: pd.DataFrame) -> int:
    """K of a cross-validated study (the ``fold`` column of ``manifest/splits.csv``), else 0."""
    return int(pd.to_numeric(splits["fold"], errors="coerce").max()) if "fold" in splits else 0


def summary_html(study, label_name: str, scores_only: bool, km_models: Sequence[str], notes: Sequence[str],
                 tables: Mapping[str, pd.DataFrame]) -> str:
    """The summary page. ``tables``: name -> table as written (``splits`` and ``survival``
    always; ``discrimination``, ``reproducibility``, ``calibration``, ``dcb``, ``hr_difference``,
    ``cox_multivariable`` where the study has them); ``km_models``: the models/markers whose
    outcome is summarised."""
    parts = intro(study, label_name, scores_only, n_folds(tables["splits"]))
    sections = [("discrimination", discrimination_section), ("signature_baselines", baseline_section),
                ("reproducibility", reproducibility_section),
                ("survival", lambda t: survival_section(t, km_models, tables.get("cox_multivariable"))),
                ("calibration", calibration_flags), ("marker_coverage", coverage_flags), ("dcb", dcb_section),
                ("hr_difference", hr_difference_section)]
    for name, section in sections:  # in page order; a study without the table has no section
        if name in tables:
            parts += section(tables[name])
    parts.append("<h3>Patients per split</h3>" + tables["splits"].drop(columns="config_hash").to_html(index=False))
    if notes:
        parts.append("<h3>Caveats</h3><ul>" + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul>")
    return "<html><body style='font-family:sans-serif;max-width:60em'>" + "\n".join(parts) + "</body></html>\n"
