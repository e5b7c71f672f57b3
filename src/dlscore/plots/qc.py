"""The QC overview: each imaging measure by cohort (box and points), outliers named."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from dlscore.plots import PALETTE, new_figure, save
from dlscore.qc_overview import MEASURES, OUTLIER_Z, z_scores


def plot_qc_overview(measures: pd.DataFrame, path, title: str = "") -> None:
    """One panel per measure of :func:`dlscore.qc_overview.qc_measures` (``measures``): a box
    per cohort with every patient as a point; a value beyond :data:`OUTLIER_Z` robust z within
    its cohort in red, named. Points are spread sideways by a fixed pattern (no randomness)."""
    cols = [c for c in MEASURES if c in measures]
    flags = z_scores(measures).abs() > OUTLIER_Z
    cohorts = sorted(measures["cohort"].astype(str).unique())
    fig, _ = new_figure(1.45 * len(cols), 2.6)
    fig.clf()
    axes = fig.subplots(1, len(cols), squeeze=False)[0]
    for ax, col in zip(axes, cols):
        for k, c in enumerate(cohorts):
            sel = measures["cohort"].astype(str) == c
            v = measures.loc[sel, col]
            ok = v.notna().to_numpy()
            ax.boxplot([v[ok]], positions=[k], widths=0.55, showfliers=False,
                       medianprops={"color": "black"}, boxprops={"color": "0.4"}, whiskerprops={"color": "0.4"},
                       capprops={"color": "0.4"})
            x = k + 0.25 * (((np.arange(len(v)) * 0.618) % 1.0) - 0.5)  # golden-ratio spread
            bad = flags.loc[sel, col].to_numpy() & ok
            ax.plot(x[ok & ~bad], v[ok & ~bad], ls="none", marker="o", ms=2.2, color=PALETTE[0], alpha=0.6)
            ax.plot(x[bad], v[bad], ls="none", marker="o", ms=3.2, color=PALETTE[1])
        ax.set_xticks(range(len(cohorts)), cohorts, rotation=45, ha="right")
        ax.set_xlim(-0.6, len(cohorts) - 0.4)
        ax.set_title(MEASURES[col], fontsize=7.5)
    n_bad = int(flags.any(axis=1).sum())
    fig.suptitle(f"{title}\n{n_bad} patient(s) flagged in red (robust z > {OUTLIER_Z:g} within their cohort; "
                 "volume and SUVmax on the log scale)", fontsize=8)
    named = [f"{measures.at[i, 'patient_id']} ({MEASURES[c].split(' (')[0]})" for i in flags.index for c in cols
             if flags.at[i, c]]
    if named:  # named under the panels, not beside the points: they would overlap
        more = f" and {len(named) - 12} more" if len(named) > 12 else ""
        fig.supxlabel(textwrap.fill("Flagged: " + ", ".join(named[:12]) + more + " (tables/qc.csv, column outlier)",
                                    150), fontsize=7, color=PALETTE[1])
    fig.set_layout_engine("constrained")
    save(fig, path, "double")
