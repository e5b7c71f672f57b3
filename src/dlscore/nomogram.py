"""Nomogram and survival calibration of a Cox model fitted on the development cohort: the
points table (each variable's contribution scaled to 0-100 points, total points -> predicted
survival at a horizon) and the calibration of the predicted survival against Kaplan-Meier
in groups of predicted risk. Times in the endpoint's unit (months)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

def points_table(cph, X: pd.DataFrame, terms: Mapping[str, Sequence[str]], horizon: float,
                 max_points: float = 100.0, references: Mapping[str, str] | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nomogram as tables, from a lifelines Cox model fitted on the design ``X``.

    Each variable's contribution coef * value is shifted so its lowest-risk value scores 0;
    the variable with the widest contribution range spans ``max_points``. Continuous
    variables get points at 5 values across their observed range. Returns (points:
    variable, level, points; totals: total points -> predicted survival at ``horizon``,
    S(t | x) = S0(t) ** exp((x - mean) . beta) with lifelines' centred Breslow baseline).
    """
    coef = cph.params_
    spans, lows, rows = {}, {}, []
    for var, cols in terms.items():
        if not cols:
            continue
        if len(cols) == 1 and "=" not in cols[0]:
            v = X[cols[0]].dropna()
            vals = np.unique(v) if v.nunique() <= 2 else np.linspace(v.min(), v.max(), 5)
            contrib = {f"{x:g}": coef[cols[0]] * x for x in vals}
        else:
            ref = (references or {}).get(var, "reference")
            contrib = {ref: 0.0, **{c.split("=", 1)[1]: coef[c] for c in cols}}
        lows[var] = min(contrib.values())
        spans[var] = max(contrib.values()) - lows[var]
        rows += [{"variable": var, "level": k, "lp": c - lows[var]} for k, c in contrib.items()]
    widest = max(spans.values()) if spans else 0.0
    scale = max_points / widest if widest > 0 else 0.0
    pts = pd.DataFrame(rows)
    pts["points"] = pts["lp"] * scale
    s0 = cph.baseline_survival_.iloc[:, 0]
    s0_t = float(s0[s0.index <= horizon].iloc[-1]) if (s0.index <= horizon).any() else 1.0
    mean_lp = float((pd.Series(cph._norm_mean, index=coef.index) * coef).sum())
    total = np.linspace(0, pts.groupby("variable")["points"].max().sum(), 11)
    lp = sum(lows.values()) + (total / scale if scale else 0.0)
    totals = pd.DataFrame({"total_points": total, f"survival_at_{horizon:g}": s0_t ** np.exp(lp - mean_lp)})
    return pts.drop(columns="lp"), totals


def survival_calibration(time, event, predicted, horizon: float, groups: int = 3, n_boot: int = 1000,
                         seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Calibration of predicted survival at ``horizon``: patients in quantile groups of the
    prediction; observed = Kaplan-Meier at the horizon with a percentile bootstrap CI
    (patients resampled within the group). Returns group, n, predicted (mean), observed,
    observed_ci_low, observed_ci_high."""
    from dlscore.survival import km_at
    t = np.asarray(time, float)
    e = np.asarray(event, float)
    p = np.asarray(predicted, float)
    q = pd.qcut(p, groups, labels=False, duplicates="drop")
    rng = np.random.default_rng(seed)
    rows = []
    for k in sorted(np.unique(q)):
        sel = q == k
        m, tt, ee = int(sel.sum()), t[sel], e[sel]
        draws = np.stack([rng.integers(0, m, m) for _ in range(n_boot)])  # (n_boot, m)
        counts = np.stack([np.bincount(d, minlength=m) for d in draws])
        reps = km_at(tt, ee, horizon, counts)
        lo, hi = np.percentile(reps, [100 * alpha / 2, 100 * (1 - alpha / 2)])
        rows.append({"group": int(k) + 1, "n": m, "events": int(ee.sum()), "predicted": float(p[sel].mean()),
                     "observed": float(km_at(tt, ee, horizon)[0]), "observed_ci_low": float(lo),
                     "observed_ci_high": float(hi)})
    return pd.DataFrame(rows)
