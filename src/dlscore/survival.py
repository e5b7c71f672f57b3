"""Survival analysis of a binary grouping (e.g. high vs low DLS at the training cutoff).

Kaplan-Meier with Greenwood standard errors and R ``survfit``'s default ``conf.type = "log"``
band; median survival and its CI by R's ``quantile.survfit`` rule (the first time 1 - S
reaches 0.5, the midpoint to the next time when S is exactly 0.5; CI limits from the band);
log-rank test and Cox proportional hazards (lifelines, Efron ties) for the HR of ``high``
vs ``low`` with a Wald CI. All checked against R ``survival`` (tests/test_survival.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test
from scipy import stats as _st


def _check(time, event) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=float)
    if t.shape != e.shape:
        raise ValueError("time and event must have the same length")
    if np.isnan(t).any() or np.isnan(e).any():
        raise ValueError("time/event contain missing values: drop those patients first")
    if (t < 0).any():
        raise ValueError("survival times must be >= 0")
    if not np.isin(e, (0, 1)).all():
        raise ValueError("events must be 0 (censored) or 1 (event)")
    return t, e.astype(int)


def km_table(time, event, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier estimate at every distinct time (events and censorings), as R survfit.

    Columns: time, n_risk, n_event, n_censor, surv, std_err (Greenwood, cumulative-hazard
    scale), lower, upper ("log" CI: S * exp(-/+ z * std_err), upper capped at 1; NaN where
    S = 0).
    """
    t, e = _check(time, event)
    ut = np.unique(t)
    n_risk = np.array([(t >= u).sum() for u in ut])
    n_event = np.array([e[t == u].sum() for u in ut])
    n_censor = np.array([(t == u).sum() for u in ut]) - n_event
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.cumsum(np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0))
        se = np.sqrt(var)
        z = _st.norm.ppf(1 - alpha / 2)
        ok = surv > 0
        lower = np.where(ok, surv * np.exp(-z * se), np.nan)
        upper = np.where(ok, np.minimum(surv * np.exp(z * se), 1.0), np.nan)
    return pd.DataFrame({"time": ut, "n_risk": n_risk, "n_event": n_event, "n_censor": n_censor, "surv": surv,
                         "std_err": se, "lower": lower, "upper": upper})


def km_at(time, event, horizon: float, weights: np.ndarray | None = None) -> np.ndarray:
    """Kaplan-Meier survival at ``horizon`` (the step function's value there: events at
    ``horizon`` count), for many replicates at once.

    time, event: (n,); ``weights``: (B, n) non-negative integer counts per patient (a bootstrap
    replicate's draws), or None for the sample itself (B = 1). Returns (B,). Computed as
    lifelines' ``KaplanMeierFitter`` does (the sum of log(n_risk - n_event) - log(n_risk)
    over the event times, in time order, exponentiated), so it equals its
    ``survival_function_at_times`` to the last bit; checked against R's ``survfit`` too.
    """
    t, e = _check(time, event)
    w = np.ones((1, t.size)) if weights is None else np.asarray(weights, dtype=float)
    acc = np.zeros(w.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        for u in np.unique(t[(e == 1) & (t <= horizon)]):
            d = w[:, (t == u) & (e == 1)].sum(axis=1)
            n = w[:, t >= u].sum(axis=1)
            acc = np.where(d > 0, acc + (np.log(n - d) - np.log(n)), acc)  # no event drawn at u: no step
    return np.exp(acc)


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float = 1.4901161193847656e-08) -> float:
    """R survival:::findq for one probability: x times (with the origin first), y = 1 - S."""
    keep = ~np.isnan(y)
    if not keep.any() or np.nanmax(y) < p:
        return float("inf")  # not reached
    xmax = x[-1]
    x, y = x[keep], y[keep]
    first = np.concatenate([[True], y[1:] != y[:-1]]) if y.size else np.array([], bool)
    x, y = x[first], y[first]

    def first_at_least(shift: float) -> int | None:
        idx = np.flatnonzero(y + shift >= p)
        return int(idx[0]) if idx.size else None

    i1, i2 = first_at_least(tol), first_at_least(-tol)
    if i1 is None:
        return float("inf")
    if abs(p - y[-1]) < tol:
        return float((x[i1] + xmax) / 2)
    return float((x[i1] + x[i2]) / 2) if i2 is not None else float("inf")


def median_with_ci(time, event, alpha: float = 0.05) -> tuple[float, float, float]:
    """Median survival and its (1 - alpha) CI as R ``survfit`` prints them (inf = not reached)."""
    km = km_table(time, event, alpha)
    x = np.concatenate([[0.0], km["time"].to_numpy()])

    def q(curve) -> float:
        return _findq(x, np.concatenate([[0.0], 1.0 - curve.to_numpy()]), 0.5)

    return q(km["surv"]), q(km["lower"]), q(km["upper"])


#: a Cox log-HR beyond this (HR > 2e5 or < 5e-6) is a diverged fit, not an estimate
MAX_ABS_COEF = 12.0

#: lifelines' Newton-Raphson run to convergence: its default stops while the coefficients are
#: still 1e-6 to 1e-5 (relative) from the maximum, where R's coxph goes on until the relative
#: change of the log-likelihood is below 1e-9; these options agree with coxph to 1e-8
COX_FIT_OPTIONS = {"precision": 1e-12, "r_precision": 1e-13, "max_steps": 500}


def fit_cox(frame: pd.DataFrame, duration: str, event: str, alpha: float = 0.05, strata: list[str] | None = None):
    """A lifelines Cox model (Efron ties, as coxph's default) fitted to convergence
    (:data:`COX_FIT_OPTIONS`), stratified by the ``strata`` columns (a baseline hazard per
    stratum, as coxph's ``strata()``); every Cox fit of the library goes through here."""
    return CoxPHFitter(alpha=alpha, strata=strata).fit(frame, duration, event, fit_options=COX_FIT_OPTIONS)


def logrank_stratified(time, event, group, strata) -> tuple[float, float]:
    """Two-group log-rank test stratified by ``strata``, as R's ``survdiff(Surv(time, event) ~
    group + strata(s))``: observed minus expected events of ``group`` and the hypergeometric
    variance summed over the event times of every stratum; chi-square with 1 df.
    time, event, group (bool), strata: (n,). Returns (chi2, p)."""
    t, e = np.asarray(time, float), np.asarray(event, float)
    g, st = np.asarray(group, bool), np.asarray(strata)
    o_e = var = 0.0
    for s in pd.unique(st):
        k = st == s
        ts, es, gs = t[k], e[k], g[k]
        for u in np.unique(ts[es == 1]):
            at_risk = ts >= u
            n, n1 = at_risk.sum(), (at_risk & gs).sum()
            d = ((ts == u) & (es == 1)).sum()
            d1 = ((ts == u) & (es == 1) & gs).sum()
            o_e += d1 - d * n1 / n
            if n > 1:
                var += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    chi2 = o_e ** 2 / var if var > 0 else float("nan")
    return float(chi2), float(_st.chi2.sf(chi2, 1)) if var > 0 else float("nan")


def monotone_likelihood(time, event, x) -> int:
    """Direction in which the Cox partial likelihood of one covariate ``x`` grows without
    bound: +1 when every event has the largest ``x`` of its risk set (the MLE of the log-HR is
    +inf), -1 when every event has the smallest, 0 when a finite MLE exists. For a 0/1
    covariate this is "all events in one group", or all events of one group after the
    other group has left the risk set. time, event, x: (n,)."""
    t, e = np.asarray(time, float), np.asarray(event).astype(bool)
    v = np.asarray(x, float)
    if not e.any():
        return 0
    order = np.argsort(t, kind="stable")
    ts, vs = t[order], v[order]
    suf_max = np.maximum.accumulate(vs[::-1])[::-1]  # max of x over rows from position k on
    suf_min = np.minimum.accumulate(vs[::-1])[::-1]
    first = np.searchsorted(ts, t[e], side="left")  # risk set of an event: every t_j >= t_i
    xe = v[e]
    if np.all(xe >= suf_max[first]) and not np.all(xe <= suf_min[first]):
        return 1
    if np.all(xe <= suf_min[first]) and not np.all(xe >= suf_max[first]):
        return -1
    return 0


def compare_groups(time, event, high, alpha: float = 0.05, strata=None) -> dict[str, Any]:
    """Log-rank test and Cox HR (high vs low) with medians per group; with ``strata`` (n,)
    labels (e.g. the cohort of a pooled analysis), the log-rank test and the Cox model are
    stratified (:func:`logrank_stratified`; coxph's ``strata()``), the medians pooled.

    time: (n,) in the endpoint's unit; event: (n,) 0/1; high: (n,) bool.
    """
    t, e = _check(time, event)
    h = np.asarray(high, dtype=bool)
    out: dict[str, Any] = {"n": int(t.size)}
    for name, sel in (("high", h), ("low", ~h)):
        out[f"n_{name}"] = int(sel.sum())
        out[f"events_{name}"] = int(e[sel].sum())
        if sel.any():
            med, lo, hi = median_with_ci(t[sel], e[sel], alpha)
        else:
            med = lo = hi = float("nan")
        out[f"median_{name}"], out[f"median_{name}_ci_low"], out[f"median_{name}_ci_high"] = med, lo, hi
    nan = dict(logrank_chi2=np.nan, logrank_p=np.nan, hr=np.nan, hr_ci_low=np.nan, hr_ci_high=np.nan, hr_p=np.nan)
    if h.all() or (~h).all():
        out.update(nan, estimable="no: all patients in one group" if t.size > 1 else "no: a single patient")
        return out
    if not e.any():
        out.update(nan, estimable="no: no events in this set (every patient censored)")
        return out
    if strata is None:
        lr = logrank_test(t[h], t[~h], e[h], e[~h])
        out["logrank_chi2"], out["logrank_p"] = float(lr.test_statistic), float(lr.p_value)
    else:
        out["logrank_chi2"], out["logrank_p"] = logrank_stratified(t, e, h, strata)
    if e[h].sum() == 0 or e[~h].sum() == 0:
        # monotone likelihood: the Cox estimate diverges; say so instead of printing 1e7
        out.update({k: v for k, v in nan.items() if k.startswith("hr")},
                   estimable="no: no events in one group (monotone likelihood), HR not estimable")
        return out
    direction = monotone_likelihood(t, e, h) if strata is None else 0
    if direction:
        grp = "high" if direction > 0 else "low"
        out.update({k: v for k, v in nan.items() if k.startswith("hr")},
                   estimable=f"no: monotone likelihood (every event occurs in the {grp} group while patients of "
                             f"the other group are at risk), HR {'infinite' if direction > 0 else 'zero'}, not "
                             "estimable")
        return out
    out.update(_group_hr(t, e, h, alpha, strata))
    return out


def _group_hr(t: np.ndarray, e: np.ndarray, h: np.ndarray, alpha: float, strata=None) -> dict[str, Any]:
    """Cox HR of ``h`` (high vs low) with its Wald CI and p, or why it is not estimable."""
    nan = dict(hr=np.nan, hr_ci_low=np.nan, hr_ci_high=np.nan, hr_p=np.nan)
    try:
        frame = pd.DataFrame({"t": t, "e": e, "high": h.astype(float)})
        if strata is not None:
            frame["stratum"] = np.asarray(strata).astype(str)
        cph = fit_cox(frame, "t", "e", alpha, ["stratum"] if strata is not None else None)
    except Exception as err:  # noqa: BLE001 - lifelines ConvergenceError in tiny subgroups
        return {**nan, "estimable": f"no: Cox fit failed ({type(err).__name__})"}
    s = cph.summary.loc["high"]
    if not (abs(s["coef"]) < MAX_ABS_COEF and np.isfinite(s["se(coef)"])):
        return {**nan, "estimable": f"no: the Cox fit diverges (log-HR {s['coef']:.3g}), HR not estimable"}
    level = f"{100 * (1 - alpha):g}%"
    return {"estimable": "yes", "hr": float(s["exp(coef)"]), "hr_ci_low": float(np.exp(s[f"coef lower {level}"])),
            "hr_ci_high": float(np.exp(s[f"coef upper {level}"])), "hr_p": float(s["p"])}


def cross_groups(a, b) -> np.ndarray:
    """Group label of every patient crossing two groupings, ``"<a level>, <b level>"`` (e.g.
    "High DLS, IHC+" or "High DLS, adenocarcinoma", as the PET/CT paper's figure 5); "" when
    either is missing. a, b: (n,) level names, None/NaN where missing."""
    miss = lambda v: v is None or (isinstance(v, float) and np.isnan(v)) or v == ""  # noqa: E731
    return np.array(["" if miss(x) or miss(y) else f"{x}, {y}" for x, y in zip(a, b)], dtype=object)


def pairwise_logrank(time, event, groups) -> pd.DataFrame:
    """Log-rank test of every pair of groups (each pair alone, as R ``survdiff`` on the two
    groups' patients), with Holm-adjusted p over the pairs.

    time: (n,), event: (n,) 0/1, groups: (n,) labels. Columns: group_a, group_b, n, events,
    chi2, p, p_holm; a pair without events gets NaN and a note."""
    from itertools import combinations

    from statsmodels.stats.multitest import multipletests
    t, e = _check(time, event)
    g = np.asarray(groups, dtype=object)
    rows = []
    for x, y in combinations(list(dict.fromkeys(g)), 2):
        sx, sy = g == x, g == y
        row = {"group_a": x, "group_b": y, "n": int(sx.sum() + sy.sum()), "events": int(e[sx | sy].sum()),
               "chi2": np.nan, "p": np.nan, "note": ""}
        if row["events"] == 0:
            row["note"] = "not computable: no events in these two groups"
        else:
            lr = logrank_test(t[sx], t[sy], e[sx], e[sy])
            row.update(chi2=float(lr.test_statistic), p=float(lr.p_value))
        rows.append(row)
    out = pd.DataFrame(rows, columns=["group_a", "group_b", "n", "events", "chi2", "p", "note"])
    ok = out["p"].notna()
    out["p_holm"] = np.nan
    if ok.any():
        out.loc[ok, "p_holm"] = multipletests(out.loc[ok, "p"], method="holm")[1]
    return out
