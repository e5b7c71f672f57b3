"""Clinical validation of markers (a model's DLS group, IHC PD-L1, TMB, ...) against outcome:
the analyses of ``workflow/rules/survival.smk``'s ``clinical_validation`` step as pure
functions of one patient frame (:class:`Cohort`), each returning table rows.

* Cox models per endpoint: univariable screening (every covariate and marker, every set),
  covariate selection on the development set (univariable p < ``p_enter``, plus forced),
  multivariable models with the Schoenfeld check, the nomogram of the marker + clinical model
  fitted on the development set, its calibration at ``horizon`` and the C-index of marker +
  clinical vs clinical only (models fitted on the development set, applied unchanged);
* bootstrap difference of the hazard ratios of two markers; subgroup hazard ratios;
* durable clinical benefit (DCB): rates by marker group, AUC of the continuous score,
  univariable and multivariable logistic models, paired DeLong comparison of two scores.

A marker ``m`` is two columns of the frame: ``high:<m>`` (1 high, 0 low, NaN not recorded)
and ``value:<m>`` (its continuous score). Times are in the endpoint's unit (months).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from dlscore.clinical import (compare_cindex, cox_fit, hr_difference_bootstrap, logistic_fit, rates_by_group,
                              reference_of, subgroup_table)
from dlscore.nomogram import points_table, survival_calibration
from dlscore.stats import auc_delong, delong_test

NOT_COMPUTABLE = "not computable: "


@dataclass
class Cohort:
    """Everything the analyses share.

    man: one row per patient (manifest columns, ``high:<m>``, ``value:<m>``);
    labels: marker -> printed name; covs: covariate -> spec (``type``, ``reference``);
    X: design matrix of the covariates (rows as ``man``); terms: covariate -> its columns in X;
    sets: (set name, rows of ``man``) in reporting order; dev_name: the development set;
    no_cut: marker -> rule of a marker without a computable cutoff."""

    man: pd.DataFrame
    labels: dict[str, str]
    covs: dict[str, Mapping[str, Any]]
    X: pd.DataFrame
    terms: dict[str, list[str]]
    sets: list[tuple[str, pd.DataFrame]]
    dev_name: str
    no_cut: dict[str, str]
    alpha: float = 0.05

    @property
    def markers(self) -> list[str]:
        return list(self.labels)

    def ref_terms(self) -> dict[str, str]:
        """Term -> its reference ("vs <level>", "vs low") for the tables."""
        out = {t: f"vs {reference_of(self.man, c, self.covs[c])}" for c, ts in self.terms.items() for t in ts
               if self.covs[c].get("type") == "categorical"}
        out.update({f"high:{m}": "vs low" for m in self.markers})
        return out

    def absent(self, g: pd.DataFrame, *ms: str) -> str | None:
        """"not computable: <marker> not recorded in <cohort>" when a marker has no value in
        ``g`` (or no cutoff at all); None when every marker is there."""
        for m in ms:
            if m in self.no_cut:
                return f"{NOT_COMPUTABLE}{self.labels[m]} has no cutoff ({self.no_cut[m][len(NOT_COMPUTABLE):]})"
        gone = [self.labels[m] for m in ms if g[f"high:{m}"].isna().all()]
        where = ", ".join(dict.fromkeys(g["cohort"].astype(str))) if len(g) else "this set"
        return f"{NOT_COMPUTABLE}{' and '.join(gone)} not recorded in {where}" if gone else None


def missing_in(g: pd.DataFrame, cols: Sequence[str]) -> list[str]:
    """The columns of ``cols`` that ``g`` has but never records."""
    return [c for c in cols if c in g and g[c].isna().all()]


def term_rows(fit: dict, base: Mapping[str, Any], ref_terms: Mapping[str, str]) -> list[dict]:
    """One row per term of a fitted model (or one row with the fit's note)."""
    if fit["terms"].empty:
        return [{**base, "n": fit["n"], "events": fit["events"], "note": fit["note"]}]
    return [{**base, "term": r["term"], "reference": ref_terms.get(r["term"], ""), "n": fit["n"],
             "events": fit["events"], **{k: r[k] for k in r.index if k != "term"}, "note": fit["note"]}
            for _, r in fit["terms"].iterrows()]


def select_covariates(covs: Sequence[str], uni_p: Mapping[str, float], p_enter: float,
                      forced: Sequence[str]) -> list[str]:
    """Covariates entering the multivariable model: forced ones and those with univariable
    p < ``p_enter`` on the development set (in the order of ``covs``)."""
    return [c for c in covs if c in forced or uni_p.get(c, np.nan) < p_enter]


def cox_univariable(co: Cohort, tcol: str, ecol: str, ep: str) -> tuple[list[dict], dict[str, float]]:
    """Univariable Cox rows of every covariate and marker in every set, and the smallest p of
    each covariate on the development set (for the selection)."""
    rows, uni_dev, refs = [], {}, co.ref_terms()
    for set_name, g in co.sets:
        g = g[g[tcol].notna() & g[ecol].notna()]
        base = {"set": set_name, "endpoint": ep}
        if g.empty:
            rows.append({**base, "note": f"not computable: {tcol} not recorded in this set"})
            continue
        for c, ts in co.terms.items():
            if not ts:
                continue
            if missing_in(g, [c]):
                rows.append({**base, "variable": c, "note": f"{c} not recorded in this set"})
                continue
            fit = cox_fit(g[tcol], g[ecol], co.X.loc[g.index, ts], co.alpha)
            rows += term_rows(fit, {**base, "variable": c}, refs)
            if set_name == co.dev_name:
                uni_dev[c] = float(fit["terms"]["p"].min()) if not fit["terms"].empty else np.nan
        for m in co.markers:
            if co.absent(g, m):
                rows.append({**base, "variable": co.labels[m], "note": co.absent(g, m)})
                continue
            fit = cox_fit(g[tcol], g[ecol], g[[f"high:{m}"]], co.alpha)
            rows += term_rows(fit, {**base, "variable": co.labels[m]}, refs)
    return rows, uni_dev


def nomogram_rows(fit: dict, data: pd.DataFrame, dterms: Mapping[str, list[str]], references: Mapping[str, str],
                  base: Mapping[str, Any], spec: Mapping[str, Any], horizon: float) -> list[dict]:
    """Points table and total points -> predicted survival at ``horizon`` of a fitted Cox model."""
    if "model" not in fit:
        return [{**base, "note": f"not computable: {fit['note']}"}]
    pts, tot = points_table(fit["model"], data, dterms, horizon, references=references)
    return ([{**base, "table": "points", **r} for r in pts.to_dict("records")]
            + [{**base, "table": f"total points -> {spec['label']} at {horizon:g} {spec['unit']}",
                "level": f"{r['total_points']:.0f} points", "points": r["total_points"],
                "predicted_survival": r[f"survival_at_{horizon:g}"]} for r in tot.to_dict("records")])


def marker_models(co: Cohort, m: str, ep: str, spec: Mapping[str, Any], selected: list[str], rule: str,
                  horizon: float, n_boot: tuple[int, int], seed: int) -> dict[str, list[dict]]:
    """For one marker and endpoint: the nomogram of marker + selected covariates (fitted on the
    development set), the multivariable Cox model in every set, and in every set the C-index
    of marker + clinical vs clinical only and the calibration at ``horizon`` of the
    development-set model. ``n_boot``: bootstrap replicates of (calibration, C-index).
    Returns rows for nomogram, cox_multivariable, cindex, survival_calibration."""
    tcol, ecol = spec["time"], spec["event"]
    sel_terms = [t for c in selected for t in co.terms[c]]
    cols_full = [f"high:{m}", *sel_terms]
    data = pd.concat([co.man[[tcol, ecol]], co.X, co.man[[f"high:{m}"]]], axis=1)
    dev = dict(co.sets)[co.dev_name]
    dev = dev[dev[tcol].notna() & dev[ecol].notna()]
    fits = {key: cox_fit(dev[tcol], dev[ecol], data.loc[dev.index, cols], co.alpha)
            for key, cols in (("full", cols_full), ("clinical", sel_terms))}
    name = f"{co.labels[m]} + {', '.join(selected) or 'no covariate'}"
    out: dict[str, list[dict]] = {"nomogram": nomogram_rows(
        fits["full"], data.loc[dev.index, cols_full].dropna(),
        {co.labels[m]: [f"high:{m}"], **{c: co.terms[c] for c in selected}},
        {c: reference_of(co.man, c, co.covs[c]) for c in selected},
        {"endpoint": ep, "model": name, "fitted_on": co.dev_name}, spec, horizon),
        "cox_multivariable": [], "cindex": [], "survival_calibration": []}
    for set_name, g in co.sets:
        g = g[g[tcol].notna() & g[ecol].notna()]
        gone = missing_in(g, selected) + ([co.labels[m]] if co.absent(g, m) else [])
        base = {"set": set_name, "endpoint": ep, "model": co.labels[m], "covariates": ", ".join(selected) or "none",
                "selection": rule}
        if gone:
            out["cox_multivariable"].append({**base, "note": co.absent(g, m) or
                                             f"not computable: {', '.join(gone)} not recorded in this set"})
        else:
            fit = cox_fit(g[tcol], g[ecol], data.loc[g.index, cols_full], co.alpha)
            out["cox_multivariable"] += [{**r, "ph_global_min_p": fit["ph_min_p"], "concordance": fit["concordance"]}
                                         for r in term_rows(fit, base, co.ref_terms())]
        crow = {"set": set_name, "endpoint": ep, "model_a": f"{co.labels[m]} + clinical", "model_b": "clinical only",
                "covariates": ", ".join(selected) or "none", "fitted_on": co.dev_name}
        if gone or not sel_terms or "model" not in fits["full"] or "model" not in fits["clinical"]:
            why = (co.absent(g, m)[len(NOT_COMPUTABLE):] if co.absent(g, m) else
                   f"{', '.join(gone)} not recorded in this set" if gone else
                   "no clinical covariate selected" if not sel_terms else
                   fits["full"]["note"] or fits["clinical"]["note"])
            out["cindex"].append({**crow, "note": f"not computable: {why}"})
            continue
        d = data.loc[g.index, cols_full].dropna()
        t, e = g.loc[d.index, tcol], g.loc[d.index, ecol]
        pred = fits["full"]["model"].predict_survival_function(d[cols_full], times=[horizon]).iloc[0]
        cal = survival_calibration(t, e, pred.to_numpy(), horizon, 3, n_boot[0], seed, co.alpha)
        out["survival_calibration"] += [{"set": set_name, "endpoint": ep, "model": name, "horizon": horizon,
                                         "unit": spec["unit"], **r, "method": "tertiles of predicted survival; "
                                         "observed = KM, percentile bootstrap CI"} for r in cal.to_dict("records")]
        ra = fits["full"]["model"].predict_log_partial_hazard(d[cols_full]).to_numpy()
        rb = fits["clinical"]["model"].predict_log_partial_hazard(d[sel_terms]).to_numpy()
        res = compare_cindex(t, e, ra, rb, n_boot[1], seed, co.alpha)
        out["cindex"].append({**crow, **res, "ci_method": f"paired percentile bootstrap ({res['n_boot']} replicates)",
                              "test": "z-test, U-statistic variance (compareC approach)",
                              "note": "apparent (same patients as the fit)" if set_name == co.dev_name else ""})
    return out


def hr_difference_rows(co: Cohort, a: str, b: str, ep: str, tcol: str, ecol: str, n_boot: int,
                       seed: int) -> list[dict]:
    """Paired bootstrap of HR(marker a) - HR(marker b) in every set."""
    rows = []
    for set_name, g in co.sets:
        base = {"set": set_name, "endpoint": ep, "marker_a": co.labels[a], "marker_b": co.labels[b]}
        if co.absent(g, a, b):
            rows.append({**base, "note": co.absent(g, a, b)})
            continue
        g = g.dropna(subset=[tcol, ecol, f"high:{a}", f"high:{b}"])
        res = hr_difference_bootstrap(g[tcol], g[ecol], g[f"high:{a}"], g[f"high:{b}"], n_boot, seed, co.alpha)
        rows.append({**base, "n": len(g), **res, "method": "paired percentile bootstrap of HR_a - HR_b (patients "
                     "resampled, both Cox models refitted, Efron ties)"})
    return rows


def subgroup_rows(co: Cohort, m: str, g: pd.DataFrame, set_name: str, ep: str, spec: Mapping[str, Any],
                  subgroups: Sequence[str], dcb: str | None) -> tuple[list[dict], pd.DataFrame | None, str]:
    """Subgroup hazard ratios of marker ``m`` in one set: (rows, the subgroup table for the
    forest plot or None, the reason when there is none)."""
    tcol, ecol = spec["time"], spec["event"]
    if g[tcol].isna().all() or co.absent(g, m):
        why = co.absent(g, m) or f"not computable: {spec['label']} not recorded"
        return [{"set": set_name, "endpoint": ep, "marker": co.labels[m], "note": why}], None, why
    sub = subgroup_table(g.dropna(subset=[f"high:{m}"]), tcol, ecol, f"high:{m}",
                         [s for s in subgroups if s in g and g[s].notna().any()], dcb, co.alpha)
    return [{"set": set_name, "endpoint": ep, "marker": co.labels[m], **r} for r in sub.to_dict("records")], sub, ""


def dcb_univariable(co: Cohort, dcb: str) -> tuple[list[dict], dict[str, float]]:
    """Univariable logistic models of DCB on every covariate in every set, and the smallest p
    of each covariate on the development set."""
    rows, uni_dev, refs = [], {}, co.ref_terms()
    for set_name, g in co.sets:
        g = g[g[dcb].notna()]
        for c, ts in co.terms.items():
            if not ts:
                continue
            base = {"set": set_name, "model": "univariable", "variable": c}
            if missing_in(g, [c]):
                rows.append({**base, "note": f"{c} not recorded in this set"})
                continue
            fit = logistic_fit(g[dcb], co.X.loc[g.index, ts], co.alpha)
            rows += term_rows(fit, base, refs)
            if set_name == co.dev_name:
                uni_dev[c] = float(fit["terms"]["p"].min()) if not fit["terms"].empty else np.nan
    return rows, uni_dev


def dcb_marker_rows(co: Cohort, m: str, g: pd.DataFrame, set_name: str, dcb: str,
                    selected: list[str]) -> tuple[dict, list[dict]]:
    """DCB of marker ``m`` in one set: (rates by group with the AUC of its continuous score,
    its univariable and multivariable logistic rows)."""
    if co.absent(g, m):
        return {"set": set_name, "marker": co.labels[m], "note": co.absent(g, m)}, []
    refs, sel_terms, gone = co.ref_terms(), [t for c in selected for t in co.terms[c]], missing_in(g, selected)
    gm = g[g[f"high:{m}"].notna()]
    row: dict[str, Any] = {"set": set_name, "marker": co.labels[m], **rates_by_group(gm[dcb], gm[f"high:{m}"] == 1)}
    v = g[g[f"value:{m}"].notna()]
    yv = v[dcb].astype(int).to_numpy()
    if len(v) and 0 < yv.sum() < len(yv):
        a = auc_delong(yv, v[f"value:{m}"].to_numpy(), co.alpha)
        row.update({"auc_n": len(v), "auc": a.auc, "auc_ci_low": a.ci_low, "auc_ci_high": a.ci_high,
                    "auc_ci_method": "DeLong"})
    else:
        row["auc_note"] = "AUC not computable: continuous score not recorded in this set" if not len(v) \
            else "AUC not computable: one DCB class"
    logit = term_rows(logistic_fit(gm[dcb], gm[[f"high:{m}"]], co.alpha),
                      {"set": set_name, "model": "univariable", "variable": co.labels[m]}, refs)
    mbase = {"set": set_name, "model": f"multivariable ({', '.join(selected) or 'no covariate selected'})",
             "variable": co.labels[m]}
    if gone:
        logit.append({**mbase, "note": f"not computable: {', '.join(gone)} not recorded in this set"})
    elif sel_terms:
        logit += term_rows(logistic_fit(gm[dcb], pd.concat([gm[[f"high:{m}"]], co.X.loc[gm.index, sel_terms]], axis=1),
                                        co.alpha), mbase, refs)
    return row, logit


def auc_comparison_row(co: Cohort, a: str, b: str, g: pd.DataFrame, set_name: str, dcb: str) -> dict:
    """Paired DeLong comparison of the continuous scores of markers a and b for DCB."""
    v = g.dropna(subset=[f"value:{a}", f"value:{b}"])
    y = v[dcb].astype(int).to_numpy()
    row: dict[str, Any] = {"set": set_name, "outcome": "DCB", "score_a": co.labels[a], "score_b": co.labels[b],
                           "n": len(v)}
    if len(v) and 0 < y.sum() < len(y):
        t = delong_test(y, v[f"value:{a}"].to_numpy(), v[f"value:{b}"].to_numpy(), co.alpha)
        row.update({"auc_a": t.auc_a, "auc_b": t.auc_b, "diff": t.diff, "diff_ci_low": t.ci_low,
                    "diff_ci_high": t.ci_high, "z": t.z, "p": t.p, "test": "paired DeLong, two-sided"})
    else:
        row["note"] = co.absent(g, a, b) or ("not computable: one DCB class" if len(v) else
                                             "not computable: a continuous score is not recorded in this set")
    return row


def continuous_marker_rows(co: Cohort, m: str, ep: str, spec: Mapping[str, Any], selected: list[str],
                           rule: str) -> list[dict]:
    """The multivariable Cox model with the marker's continuous score instead of high/low, in
    every set: HR per standard deviation of the score on the development set (the same scale
    in every set), and per 0.1 of the score (for a DLS, a probability) when 0.1 lies within 3 SD
    (a collapsed score would extrapolate far beyond its observed spread)."""
    tcol, ecol, col = spec["time"], spec["event"], f"value:{m}"
    sel_terms = [t for c in selected for t in co.terms[c]]
    dev = dict(co.sets)[co.dev_name]
    sd = float(dev[col].std())
    rows = []
    for set_name, g in co.sets:
        g = g[g[tcol].notna() & g[ecol].notna()]
        base = {"set": set_name, "endpoint": ep, "model": f"{m} (continuous score)",
                "covariates": ", ".join(selected) or "none", "selection": rule}
        gone = missing_in(g, selected) + ([co.labels[m]] if g[col].isna().all() else [])
        if gone or not np.isfinite(sd) or sd <= 0:
            why = (f"{', '.join(gone)} not recorded in this set" if gone else
                   "the score does not vary on the development set")
            rows.append({**base, "note": f"{NOT_COMPUTABLE}{why}"})
            continue
        X = pd.concat([(g[col] / sd).rename(f"{col} per SD"), co.X.loc[g.index, sel_terms]], axis=1)
        fit = cox_fit(g[tcol], g[ecol], X, co.alpha)
        for r in term_rows(fit, base, co.ref_terms()):
            if r.get("term") == f"{col} per SD":
                r["term"] = f"{m} per SD ({sd:.3g})"
                if 0.1 <= 3 * sd:  # per 0.1 only within the score's observed spread
                    r.update({f"{k}_per_0.1": float(np.exp(np.log(r[k]) * 0.1 / sd))
                              for k in ("hr", "hr_ci_low", "hr_ci_high") if k in r})
                else:
                    r["note"] = (r.get("note") or "") + f"no HR per 0.1: 0.1 is more than 3 SD ({sd:.3g}) of the score"
            rows.append({**r, "ph_global_min_p": fit["ph_min_p"], "concordance": fit["concordance"]})
    return rows


def dcb_frozen_rows(co: Cohort, m: str, dcb: str, selected: list[str]) -> list[dict]:
    """The multivariable DCB model (marker high/low + the selected covariates) developed on the
    development set and applied unchanged to every set, as the PET/CT study validates its
    DCB model: AUC (DeLong) of its predicted probability and, with 10 patients or more, its
    calibration (recalibration slope and calibration-in-the-large, Wald CIs)."""
    import statsmodels.api as sm

    from dlscore.stats.calibration import recalibration
    from dlscore.stats.discrimination import auc_fields
    cols = [f"high:{m}", *[t for c in selected for t in co.terms[c]]]
    data = pd.concat([co.man[[dcb, f"high:{m}"]], co.X[cols[1:]]], axis=1)
    dev = dict(co.sets)[co.dev_name]
    fit = logistic_fit(data.loc[dev.index, dcb], data.loc[dev.index, cols], co.alpha)
    base = {"model": f"{co.labels[m]} + {', '.join(selected) or 'no covariate'}", "fitted_on": co.dev_name}
    if "model" not in fit:
        return [{**base, "note": f"not computable: the development model is {fit['note']}"}]
    rows = []
    for set_name, g in co.sets:
        d = data.loc[g.index].dropna(subset=[dcb, *cols])
        y = d[dcb].astype(int).to_numpy()
        row: dict[str, Any] = {"set": set_name, **base, "n": len(d), "n_dcb": int(y.sum())}
        if len(d) == 0 or y.min() == y.max():
            gone = ([co.labels[m]] if g[f"high:{m}"].isna().all() else []) + missing_in(g, selected)
            why = ("one DCB class" if len(d) else f"{', '.join(gone)} not recorded in this set" if gone
                   else "no patient with the marker, the covariates and DCB all recorded")
            rows.append({**row, "note": f"not computable: {why}"})
            continue
        prob = fit["model"].predict(sm.add_constant(d[cols], has_constant="add")).to_numpy()
        row.update(auc_fields(y, prob, co.alpha))
        if len(y) >= 10:
            rc = recalibration(y, np.clip(prob, 1e-6, 1 - 1e-6), co.alpha)
            row.update({"slope": rc.slope, "slope_ci_low": rc.slope_ci_low, "slope_ci_high": rc.slope_ci_high,
                        "citl": rc.citl, "citl_ci_low": rc.citl_ci_low, "citl_ci_high": rc.citl_ci_high})
        rows.append({**row, "note": "apparent (same patients as the fit)" if set_name == co.dev_name else ""})
    return rows


#: a marker missing in more than this fraction of a set is flagged (its analysis may be biased)
MAX_MISSING_FRACTION = 0.20


def marker_coverage_rows(co: Cohort) -> list[dict]:
    """How many patients of every set have each marker recorded (high/low known), with a flag
    when more than :data:`MAX_MISSING_FRACTION` lack it."""
    rows = []
    for set_name, g in co.sets:
        for m in co.markers:
            n, have = len(g), int(g[f"high:{m}"].notna().sum())
            frac = (n - have) / n if n else float("nan")
            flag = f"missing in more than {MAX_MISSING_FRACTION:.0%} of the set" if frac > MAX_MISSING_FRACTION else ""
            rows.append({"set": set_name, "marker": co.labels[m], "n": n, "n_recorded": have, "fraction_missing": frac,
                         "flag": flag})
    return rows
