"""Calibration plot: observed rate (Wilson 95 % CI) vs mean predicted probability per bin."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dlscore.plots import PALETTE, new_figure, save
from dlscore.stats.calibration import brier, calibration_bins


def plot_calibration(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], path, title: str = "",
                     n_bins: int = 5) -> None:
    fig, ax = new_figure(3.35, 3.35)
    for i, (name, y, p) in enumerate(curves):
        b = calibration_bins(y, p, n_bins)
        x = [r["predicted"] for r in b]
        o = np.array([r["observed"] for r in b])
        err = np.array([[r["observed"] - r["observed_ci_low"] for r in b], [r["observed_ci_high"] - r["observed"] for r in b]])
        err = np.clip(err, 0.0, None)  # Wilson bounds at 0 % / 100 % can miss the point by rounding (1e-17)
        ax.errorbar(x, o, yerr=err, marker="o", ms=4, lw=1.2, capsize=2, color=PALETTE[i % len(PALETTE)],
                    label=f"{name} (n={len(y)}): Brier {brier(y, p):.3f}")
    ax.plot([0, 1], [0, 1], ls="--", color="0.6", lw=0.8, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"Predicted probability (DLS), mean of {n_bins} quantile bins")
    ax.set_ylabel("Observed proportion positive (95 % Wilson CI)")
    ax.set_title(title)
    ax.legend(loc="upper left", frameon=False)
    ax.set_aspect("equal")
    save(fig, path)
