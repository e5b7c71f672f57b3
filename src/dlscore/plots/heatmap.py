"""Correlation heat-map (seaborn): radiomic features (rows) vs DLS / deep features (columns)."""

from __future__ import annotations

import pandas as pd

from dlscore.plots import new_figure, save


def correlation_heatmap(rho: pd.DataFrame, path, title: str = "") -> None:
    """rho: rows x columns of correlation coefficients in [-1, 1], annotated to 2 decimals."""
    import seaborn as sns
    fig, ax = new_figure(1.2 + 0.55 * rho.shape[1], 1.4 + 0.32 * rho.shape[0])
    sns.heatmap(rho, vmin=-1, vmax=1, cmap="RdBu_r", center=0, annot=True, fmt=".2f", annot_kws={"size": 7},
                cbar_kws={"label": "Spearman rho", "shrink": 0.6}, ax=ax, linewidths=0.3, linecolor="white")
    ax.set_xlabel("DLS and deep features (penultimate layer, patient mean)")
    ax.set_ylabel("Radiomic feature (PyRadiomics, rater 1)")
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=8)
    save(fig, path, "double")
