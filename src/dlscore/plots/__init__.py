"""Journal-style figures (matplotlib, Agg backend): labelled axes with units, CIs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 7.5,
         "axes.spines.top": False, "axes.spines.right": False, "savefig.dpi": 200,
         "figure.dpi": 100, "font.family": "DejaVu Sans"}
PALETTE = ("#1f4e79", "#c0392b", "#2e8b57", "#8e44ad", "#d68910", "#5d6d7e")


def new_figure(w: float = 4.0, h: float = 4.0):
    plt.rcParams.update(STYLE)
    return plt.subplots(figsize=(w, h))


def save(fig, path) -> None:
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def placeholder_figure(path, text: str) -> None:
    """A small figure that says why the expected plot cannot be drawn (the workflow's
    outputs are fixed in advance; an empty file would hide the reason)."""
    fig, ax = new_figure(4.0, 1.2)
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    save(fig, path)
