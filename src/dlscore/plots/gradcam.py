"""Grad-CAM overlays and the clustered heat-map of the patients' deep features."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from dlscore.plots import STYLE, channel_label, plt, save


def gradcam_figure(images: np.ndarray, maps: np.ndarray, channels: Sequence[str], titles: Sequence[str],
                   path, side_mm: Sequence[float] | None = None, maps_negative: np.ndarray | None = None) -> None:
    """One row per patient: each input channel (grey, [0, 1]) and, beside it, the same channel
    with its Grad-CAM map for the positive class (inferno, a perceptual colormap, alpha 0.5, [0, 1]) over it and, when
    ``maps_negative`` is given, with the map for the negative class.

    images, maps, maps_negative: (P, C, H, W); titles: (P,) row labels; side_mm: (P,) side of
    each slice's ROI square in mm, for the axis extent (pixels when absent)."""
    p, c = images.shape[:2]
    kinds = [("", None), ("\nCAM +", maps)] + ([("\nCAM −", maps_negative)]
                                                          if maps_negative is not None else [])
    w = len(kinds) * c
    plt.rcParams.update({**STYLE, "font.size": 7})
    fig, axes = plt.subplots(p, w, figsize=(1.2 * w, 1.3 * p + 0.6), squeeze=False)
    im = None
    for i in range(p):
        ext = [0, side_mm[i], side_mm[i], 0] if side_mm is not None else None
        for j in range(c):
            for k, (suffix, overlay) in enumerate(kinds):
                ax = axes[i, len(kinds) * j + k]
                ax.imshow(images[i, j], cmap="gray", vmin=0, vmax=1, extent=ext)
                if overlay is not None:
                    im = ax.imshow(overlay[i, j], cmap="inferno", vmin=0, vmax=1, alpha=0.5, extent=ext)
                ax.set_xticks([])
                ax.set_yticks([])
                if i == 0:
                    ax.set_title(f"{channel_label(channels[j])}{suffix}", fontsize=7)
        _label_row(axes[i], titles[i], side_mm[i] if side_mm is not None else None)
    _finish(fig, axes, im, "Grad-CAM, relative importance (0–1)\nCAM +: positive class" + (", CAM −: negative class" if maps_negative is not None else ""), path)


def _label_row(row_axes, title: str, side_mm: float | None) -> None:
    """The patient's label left of a row, the ROI square's side (mm) under its last panel."""
    row_axes[0].set_ylabel(title, fontsize=7, rotation=0, ha="right", va="center")  # long ids run past a row
    if side_mm is not None:
        row_axes[-1].set_xlabel(f"{side_mm:.0f} mm", fontsize=7)


def _finish(fig, axes, im, label: str, path) -> None:
    """The colour bar of the overlay maps (when any was drawn) and the file."""
    if im is not None:
        cb = fig.colorbar(im, ax=axes, shrink=0.5, pad=0.02)
        cb.set_label(label)
    save(fig, path, "double")


def activation_figure(images: np.ndarray, channels: Sequence[str], stages: Sequence[tuple[str, np.ndarray]],
                      titles: Sequence[str], path, side_mm: Sequence[float] | None = None) -> None:
    """One row per patient: its input channels (grey) and the mean activation of each residual
    stage (viridis, scaled 0-1 per map, upsampled to the slice), shallow to deep.

    images: (P, C, H, W); stages: (name, (P, H, W)) per stage; titles: (P,)."""
    p, c = images.shape[:2]
    w = c + len(stages)
    plt.rcParams.update({**STYLE, "font.size": 7})
    fig, axes = plt.subplots(p, w, figsize=(1.2 * w, 1.3 * p + 0.6), squeeze=False)
    im = None
    for i in range(p):
        ext = [0, side_mm[i], side_mm[i], 0] if side_mm is not None else None
        panels = [(channel_label(channels[j]), images[i, j], "gray") for j in range(c)] + [(n, m[i], "viridis") for n, m in stages]
        for k, (name, img, cmap) in enumerate(panels):
            ax = axes[i, k]
            shown = ax.imshow(img, cmap=cmap, vmin=0, vmax=1, extent=ext)
            im = shown if cmap == "viridis" else im
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=7)
        _label_row(axes[i], titles[i], side_mm[i] if side_mm is not None else None)
    _finish(fig, axes, im, "mean activation (0-1 per map)", path)


def feature_clustermap(features: pd.DataFrame, side: pd.DataFrame, path, title: str = "") -> None:
    """Hierarchical clustering (Ward, Euclidean on z-scored features) of patients (rows of
    ``features``, index = patient id) x deep features (columns), with one coloured side bar
    per column of ``side`` (same index; categorical: label, histology, cohort ...)."""
    import seaborn as sns
    from matplotlib.patches import Patch
    z = (features - features.mean()) / features.std(ddof=0).replace(0, 1)
    z = z.clip(-3, 3)
    colours, handles = pd.DataFrame(index=z.index), []
    palettes = ("Set1", "Set2", "Dark2", "Pastel1", "Accent")  # one qualitative palette per side bar
    for n, col in enumerate(side.columns):
        levels = sorted(pd.unique(side[col].astype(str)))
        cols = sns.color_palette(palettes[n % len(palettes)], max(len(levels), 3))
        lut = dict(zip(levels, cols))
        colours[col] = side[col].astype(str).map(lut)
        handles += [Patch(color=lut[lv], label=f"{col}: {lv}") for lv in levels]
    g = sns.clustermap(z, method="ward", metric="euclidean", cmap="RdBu_r", center=0, vmin=-3, vmax=3,
                       row_colors=colours if len(colours.columns) else None, xticklabels=False,
                       yticklabels=len(z) <= 40, figsize=(7.0, 6.5),
                       cbar_kws={"label": "deep feature (z-score)"}, dendrogram_ratio=(0.12, 0.08),
                       cbar_pos=(1.02, 0.62, 0.025, 0.25))
    g.ax_heatmap.set_xlabel(f"deep features ({features.shape[1]}, penultimate layer, patient mean of slices)")
    g.ax_heatmap.set_ylabel(f"patients (n = {len(z)})")
    g.ax_heatmap.tick_params(labelsize=7)
    if handles:
        g.figure.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.55), fontsize=7, frameon=False)
    if title:
        g.figure.suptitle(title, y=1.01, fontsize=9)
    save(g.figure, path, "double")
