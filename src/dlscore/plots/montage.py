"""Per-patient QC montage: kept slices of every modality with the tumour outline and the
dilated ROI square, next to the hyper-image channels the network sees."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from dlscore.plots import new_figure, save


def pick_rows(n: int, rows: int) -> list[int]:
    """At most ``rows`` indices spread evenly over ``range(n)`` (first and last included)."""
    if n <= rows:
        return list(range(n))
    return sorted({int(round(v)) for v in np.linspace(0, n - 1, rows)})


def montage(volumes: Mapping[str, np.ndarray], mask_zyx: np.ndarray, slice_set, squares: Sequence,
            spacing_xyz: Sequence[float], patient: str, path, rows: int = 4) -> None:
    """volumes: modality -> (z, y, x) in [0, 1] on the mask's grid (canonical LPS: image
    right = patient left, top = anterior); slice_set: the patient's :class:`SliceSet`;
    squares: its :class:`~dlscore.slices.Square` list (same order).
    Columns: each modality (field of view 1.4 x the dilated square, axes in mm of the slice)
    then each hyper-image channel. A patient without kept slices gets a one-line figure."""
    from matplotlib.patches import Rectangle
    n = len(slice_set.z_index)
    if n == 0:
        fig, ax = new_figure(4.0, 1.0)
        ax.axis("off")
        ax.text(0.5, 0.5, f"{patient}: no slice kept", ha="center", va="center")
        save(fig, path)
        return
    sel = pick_rows(n, rows)
    mods, chans = list(volumes), list(slice_set.channels)
    ncol = len(mods) + len(chans)
    w, h = 1.75 * ncol, 1.8 * len(sel) + 0.4
    fig, _ = new_figure(w, h)
    fig.clf()
    # fixed margins in inches (tight_layout measured every tick label: a third of the figure's cost)
    axes = fig.subplots(len(sel), ncol, squeeze=False, gridspec_kw=dict(
        left=0.62 / w, right=1 - 0.08 / w, bottom=0.42 / h, top=1 - 0.62 / h, wspace=0.42, hspace=0.32))
    sx, sy = float(spacing_xyz[0]), float(spacing_xyz[1])
    ny, nx = mask_zyx.shape[1:]
    extent = (-0.5 * sx, (nx - 0.5) * sx, (ny - 0.5) * sy, -0.5 * sy)
    for r, i in enumerate(sel):
        z = int(slice_set.z_index[i])
        side, cx, cy = squares[i].side_mm, squares[i].centre_x_mm, squares[i].centre_y_mm
        for c, m in enumerate(mods):
            ax = axes[r, c]
            ax.imshow(volumes[m][z], cmap="gray" if m != "pet" else "gray_r", vmin=0, vmax=1, extent=extent,
                      interpolation="nearest")
            ax.contour(np.arange(nx) * sx, np.arange(ny) * sy, mask_zyx[z].astype(float), levels=[0.5],
                       colors="#e74c3c", linewidths=0.8)
            ax.add_patch(Rectangle((cx - side / 2, cy - side / 2), side, side, fill=False, ec="#f1c40f", lw=0.9,
                                   ls="--"))
            half = 0.7 * side
            ax.set_xlim(cx - half, cx + half)
            ax.set_ylim(cy + half, cy - half)
            ax.tick_params(labelsize=5, length=2)
            if r == 0:
                ax.set_title(m.upper(), fontsize=8)
            if c == 0:
                ax.set_ylabel(f"z = {slice_set.z_mm[i]:.1f} mm\ny from image corner (mm)", fontsize=6)
            if r == len(sel) - 1:
                ax.set_xlabel("x from image corner (mm)", fontsize=6)
        for k, ch in enumerate(chans):
            ax = axes[r, len(mods) + k]
            ax.imshow(slice_set.images[i, k], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"input: {ch}\n{slice_set.images.shape[-1]} px", fontsize=7)
    fig.suptitle(f"{patient}: {n} kept slices (showing {len(sel)}); red = tumour, yellow = ROI "
                 f"(+{slice_set.meta.get('margin_mm', 0):g} mm)", fontsize=8)
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt
    plt.close(fig)

