"""Survival analysis of a binary grouping (e.g. high vs low DLS at the training cutoff).

Kaplan-Meier (lifelines; CI: lifelines' log(-log) "exponential Greenwood"), log-rank test,
Cox proportional hazards (lifelines, Efron ties) for the HR of ``high`` vs ``low`` with a
Wald CI, median survival per group with its CI read off the KM confidence band.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test
from lifelines.utils import median_survival_times


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


def fit_km(time, event, label: str = "", alpha: float = 0.05) -> KaplanMeierFitter:
    t, e = _check(time, event)
    return KaplanMeierFitter(alpha=alpha).fit(t, e, label=label)


def median_with_ci(kmf: KaplanMeierFitter) -> tuple[float, float, float]:
    """Median survival and its CI (inf when not reached)."""
    ci = median_survival_times(kmf.confidence_interval_)
    return float(kmf.median_survival_time_), float(ci.iloc[0, 0]), float(ci.iloc[0, 1])


def compare_groups(time, event, high, alpha: float = 0.05) -> dict[str, Any]:
    """Log-rank test and Cox HR (high vs low) with medians per group.

    time: (n,) in the endpoint's unit; event: (n,) 0/1; high: (n,) bool.
    """
    t, e = _check(time, event)
    h = np.asarray(high, dtype=bool)
    out: dict[str, Any] = {"n": int(t.size)}
    for name, sel in (("high", h), ("low", ~h)):
        out[f"n_{name}"] = int(sel.sum())
        out[f"events_{name}"] = int(e[sel].sum())
        if sel.any():
            med, lo, hi = median_with_ci(fit_km(t[sel], e[sel], name, alpha))
        else:
            med = lo = hi = float("nan")
        out[f"median_{name}"], out[f"median_{name}_ci_low"], out[f"median_{name}_ci_high"] = med, lo, hi
    nan = dict(logrank_chi2=np.nan, logrank_p=np.nan, hr=np.nan, hr_ci_low=np.nan, hr_ci_high=np.nan, hr_p=np.nan)
    if h.all() or (~h).all():
        out.update(nan, estimable="no: all patients in one group")
        return out
    lr = logrank_test(t[h], t[~h], e[h], e[~h])
    out["logrank_chi2"], out["logrank_p"] = float(lr.test_statistic), float(lr.p_value)
    if e[h].sum() == 0 or e[~h].sum() == 0:
        # monotone likelihood: the Cox estimate diverges; say so instead of printing 1e7
        out.update({k: v for k, v in nan.items() if k.startswith("hr")},
                   estimable="no: no events in one group (monotone likelihood), HR not estimable")
        return out
    out["estimable"] = "yes"
    cph = CoxPHFitter(alpha=alpha).fit(pd.DataFrame({"t": t, "e": e, "high": h.astype(float)}), "t", "e")
    s = cph.summary.loc["high"]
    out["hr"] = float(s["exp(coef)"])
    out["hr_ci_low"] = float(np.exp(s[f"coef lower {100 * (1 - alpha):g}%"]))
    out["hr_ci_high"] = float(np.exp(s[f"coef upper {100 * (1 - alpha):g}%"]))
    out["hr_p"] = float(s["p"])
    return out
