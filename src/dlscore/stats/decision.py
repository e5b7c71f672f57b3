"""Decision-curve analysis (Vickers & Elkin, Med Decis Making 2006).

Net benefit of treating patients whose predicted probability is >= threshold pt:
NB(pt) = TP/n - FP/n * pt / (1 - pt); treat-all: prevalence - (1 - prevalence) * pt/(1 - pt);
treat-none: 0. y: (n,) 0/1; p: (n,) probabilities; thresholds in (0, 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def net_benefit(y, p, thresholds) -> pd.DataFrame:
    """Columns threshold, net_benefit, treat_all, treat_none (one row per threshold)."""
    y = np.asarray(y).astype(bool)
    p = np.asarray(p, float)
    t = np.asarray(thresholds, float)
    if ((t <= 0) | (t >= 1)).any():
        raise ValueError("thresholds must lie strictly between 0 and 1")
    n = y.size
    treat = p[None, :] >= t[:, None]
    tp = (treat & y[None, :]).sum(axis=1)
    fp = (treat & ~y[None, :]).sum(axis=1)
    odds = t / (1 - t)
    prev = y.mean()
    return pd.DataFrame({"threshold": t, "net_benefit": tp / n - fp / n * odds,
                         "treat_all": prev - (1 - prev) * odds, "treat_none": 0.0})
