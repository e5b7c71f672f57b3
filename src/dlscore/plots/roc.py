"""ROC curves with a bootstrap confidence band of sensitivity and AUC (DeLong CI) in the legend."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dlscore.plots import PALETTE, new_figure, save
from dlscore.stats.roc import auc_delong, roc_curve_points


def sensitivity_band(y, score, spec_grid: np.ndarray, n_boot: int = 500, seed: int = 0,
                     alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Percentile CI of sensitivity at each specificity of ``spec_grid`` (stratified bootstrap)."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(score, float)
    pos, neg = s[y], s[~y]
    rng = np.random.default_rng(seed)
    sens = np.empty((n_boot, spec_grid.size))
    for b in range(n_boot):
        pb = np.sort(pos[rng.integers(0, pos.size, pos.size)])
        nb = np.sort(neg[rng.integers(0, neg.size, neg.size)])
        # threshold giving each specificity: the spec-quantile of the negatives
        thr = np.quantile(nb, spec_grid, method="higher")
        sens[b] = 1 - np.searchsorted(pb, thr, side="right") / pb.size
    lo, hi = np.percentile(sens, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    return lo, hi


def draw_roc(ax, curves: Sequence[tuple[str, np.ndarray, np.ndarray]], title: str = "", n_boot: int = 500,
             seed: int = 0, legend_below: bool = False) -> None:
    """ROC curves of (name, y, score[, colour]) on ``ax``, bootstrap sensitivity bands (none when ``n_boot``
    is 0), DeLong AUC in the legend."""
    grid = np.linspace(0, 1, 101)
    for i, (name, y, s, *colour) in enumerate(curves):  # an optional 4th item: the curve's colour
        col = colour[0] if colour else PALETTE[i % len(PALETTE)]
        r = auc_delong(y, s)
        _, sens, spec = roc_curve_points(y, s)
        if n_boot:
            lo, hi = sensitivity_band(y, s, grid, n_boot, seed + i)
            ax.fill_between(1 - grid, lo, hi, color=col, alpha=0.12, linewidth=0, step="post")
        sep = "\n" if len(name) > 20 else ": "  # long names: the AUC on a line of its own
        ax.plot(1 - spec, sens, color=col, lw=1.6,
                label=f"{name} (n={r.n_pos + r.n_neg}){sep}AUC {r.auc:.2f} ({r.ci_low:.2f}–{r.ci_high:.2f})")
    ax.plot([0, 1], [0, 1], ls="--", color="0.6", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("1 − specificity (false-positive rate)")
    ax.set_ylabel("Sensitivity (true-positive rate)")
    ax.set_title(title)
    # below: a fixed gap in points (font sizes) under the x label, whatever the size of the axes
    where = ({"loc": "upper center", "bbox_to_anchor": (0.5, 0.0), "borderaxespad": 3.8} if legend_below
             else {"loc": "lower right"})
    ax.legend(frameon=False, title="AUC (95 % CI, DeLong)" + ("; band: 95 % bootstrap CI" if n_boot else ""),
              title_fontsize=7, fontsize=7, **where)
    ax.set_aspect("equal")


def plot_roc(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], path, title: str = "",
             n_boot: int = 500, seed: int = 0) -> None:
    """One ROC per (name, y, score); legend: AUC (95 % DeLong CI) and n."""
    fig, ax = new_figure(3.35, 3.35)
    draw_roc(ax, curves, title, n_boot, seed)
    save(fig, path)


def plot_roc_panels(panels: Sequence[tuple[str, Sequence[tuple[str, np.ndarray, np.ndarray]]]], path,
                    n_boot: int = 500, seed: int = 0, columns: int | None = None) -> None:
    """One ROC panel per (title, curves) (e.g. one per cohort), side by side or ``columns`` per
    row with each legend under its panel."""
    cols = min(columns or len(panels), len(panels))
    rows = -(-len(panels) // cols)
    below = columns is not None
    fig, _ = new_figure(3.5 * cols, (4.6 if below else 3.5) * rows)
    fig.clf()
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (title, curves) in zip(axes, panels):
        draw_roc(ax, curves, title, n_boot, seed, legend_below=below)
    for ax in axes[len(panels):]:
        ax.axis("off")
    if below:
        fig.subplots_adjust(hspace=0.6, wspace=0.35)
    save(fig, path, "double" if cols > 1 else "single")
