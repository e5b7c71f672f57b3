"""DLS by label per cohort (box + points) with the training cutoff, and decision curves."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from dlscore.plots import PALETTE, new_figure, save


def plot_dls_by_label(df: pd.DataFrame, cutoff: float, path, label_name: str, title: str = "") -> None:
    """df: columns ``set``, ``label`` (0/1), ``dls``."""
    import seaborn as sns
    fig, ax = new_figure(1.0 + 0.8 * df["set"].nunique(), 3.0)
    d = df.assign(group=np.where(df["label"] == 1, f"{label_name}: yes", f"{label_name}: no"))
    order = [f"{label_name}: no", f"{label_name}: yes"]
    sns.boxplot(data=d, x="set", y="dls", hue="group", hue_order=order, ax=ax, showfliers=False,
                palette=[PALETTE[0], PALETTE[1]], boxprops={"alpha": 0.35}, width=0.6)
    state = np.random.get_state()  # seaborn jitters with numpy's global generator: seeded here, then restored,
    np.random.seed(0)  # so that a rerun draws the same figure (PNG and PDF bytes)
    try:
        sns.stripplot(data=d, x="set", y="dls", hue="group", hue_order=order, ax=ax, dodge=True, size=2.8,
                      palette=[PALETTE[0], PALETTE[1]], legend=False, jitter=0.2)
    finally:
        np.random.set_state(state)
    ax.axhline(cutoff, ls="--", color="0.3", lw=0.9, label=f"training cutoff {cutoff:.2f}")
    ax.set_ylim(0, 1)
    ax.set_xlabel("")
    ax.set_ylabel("Deep-learning score (DLS, probability)")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0), borderaxespad=2.5)
    save(fig, path)


def plot_decision_curves(curves: Sequence[tuple[str, pd.DataFrame]], path, title: str = "") -> None:
    """One panel per (name, net_benefit table)."""
    fig, _ = new_figure(2.6 * len(curves), 2.8)
    fig.clf()
    fig.set_layout_engine("constrained")  # the title over the panels' titles
    axes = fig.subplots(1, len(curves), squeeze=False)[0]
    for ax, (name, nb) in zip(axes, curves):
        ax.plot(nb["threshold"], nb["net_benefit"], color=PALETTE[1], lw=1.6, label="DLS")
        ax.plot(nb["threshold"], nb["treat_all"], color="0.45", lw=1.0, label="treat all")
        ax.plot(nb["threshold"], nb["treat_none"], color="0.0", lw=1.0, ls="--", label="treat none")
        top = max(float(nb["net_benefit"].max()), float(nb["treat_all"].max()), 0.05)
        ax.set_ylim(-0.05, top * 1.1)
        ax.set_xlim(0, 1)
        ax.set_xlabel("Threshold probability")
        ax.set_title(name, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel("Net benefit")
    axes[0].legend(frameon=False, fontsize=7)
    fig.suptitle(title, fontsize=8.5)
    save(fig, path, "double" if len(curves) > 1 else "single")
