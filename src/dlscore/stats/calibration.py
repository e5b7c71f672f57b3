"""Calibration of predicted probabilities: Brier score, logistic recalibration (intercept,
slope; calibration-in-the-large), Hosmer-Lemeshow test, binned calibration curve.

p: (n,) predicted probabilities in (0, 1); y: (n,) observed 0/1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from scipy import stats as _st

from dlscore.stats.roc import wilson_ci

EPS = 1e-6


def _logit(p) -> np.ndarray:
    q = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    return np.log(q / (1 - q))


def brier(y, p) -> float:
    return float(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2))


@dataclass(frozen=True)
class Recalibration:
    intercept: float        # joint fit y ~ a + b * logit(p) (rms::val.prob "Intercept")
    slope: float            # b; 1 = perfect, < 1 = predictions too extreme
    slope_ci_low: float
    slope_ci_high: float
    citl: float             # calibration-in-the-large: y ~ a + offset(logit(p)); 0 = perfect
    citl_ci_low: float
    citl_ci_high: float


def recalibration(y, p, alpha: float = 0.05) -> Recalibration:
    y = np.asarray(y, float)
    lp = _logit(p)
    joint = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit()
    ci = joint.conf_int(alpha)
    off = sm.GLM(y, np.ones_like(lp), family=sm.families.Binomial(), offset=lp).fit()
    cci = off.conf_int(alpha)
    return Recalibration(float(joint.params[0]), float(joint.params[1]), float(ci[1, 0]), float(ci[1, 1]),
                         float(off.params[0]), float(cci[0, 0]), float(cci[0, 1]))


def hosmer_lemeshow(y, p, groups: int = 10) -> tuple[float, int, float]:
    """Hosmer-Lemeshow test as ``ResourceSelection::hoslem.test(y, p, g = groups)``: groups cut
    at the quantiles of p (R's type 7) with the repeated breaks dropped, intervals closed on
    the right and the lowest one closed on both sides, so that tied predictions always share a
    group (the result does not depend on the row order); chi-square over the observed and
    expected events and non-events of the non-empty groups, df = groups - 2.

    y: 0/1, shape (n,); p: predicted probabilities, shape (n,). Returns (chi2, df, p-value)."""
    y = np.asarray(y, float)
    p = np.asarray(p, float)
    breaks = np.unique(np.quantile(p, np.linspace(0.0, 1.0, groups + 1)))
    group = np.maximum(np.searchsorted(breaks, p, side="left"), 1)  # (b[k-1], b[k]]; b[0] joins group 1
    chi2 = 0.0
    for k in np.unique(group):
        idx = group == k
        o, e, n = y[idx].sum(), p[idx].sum(), idx.sum()
        var = e * (1 - e / n)
        if var > 0:
            chi2 += (o - e) ** 2 / var
    df = groups - 2
    return float(chi2), df, float(_st.chi2.sf(chi2, df))


def calibration_bins(y, p, n_bins: int = 5, alpha: float = 0.05) -> list[dict]:
    """Quantile bins: mean predicted, observed rate with Wilson CI, n."""
    y = np.asarray(y, int)
    p = np.asarray(p, float)
    order = np.argsort(p, kind="mergesort")
    out = []
    for idx in np.array_split(order, n_bins):
        if len(idx) == 0:
            continue
        lo, hi = wilson_ci(int(y[idx].sum()), len(idx), alpha)
        out.append({"n": len(idx), "predicted": float(p[idx].mean()), "observed": float(y[idx].mean()),
                    "observed_ci_low": lo, "observed_ci_high": hi})
    return out
