"""Statistics that clinical journals ask for, checked against R (pROC, psych)."""

from dlscore.stats.agreement import ICCResult, icc
from dlscore.stats.roc import (
    AUCResult,
    DeLongTest,
    auc_delong,
    bootstrap_auc,
    bootstrap_metrics,
    delong_test,
    delong_test_unpaired,
    metrics_at_cutoff,
    roc_curve_points,
    wilson_ci,
    youden_cutoff,
)

__all__ = [
    "AUCResult", "DeLongTest", "ICCResult", "auc_delong", "bootstrap_auc", "bootstrap_metrics", "delong_test",
    "delong_test_unpaired", "icc", "metrics_at_cutoff", "roc_curve_points", "wilson_ci",
    "youden_cutoff",
]
