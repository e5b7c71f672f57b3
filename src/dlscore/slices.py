"""Slices and hyper-images (METHOD.md, "Slices and hyper-images").

For every axial slice where the tumour mask is present:

1. the **smallest square** holding the tumour (in mm, centred on its bounding box; voxel
   edges count, so a one-voxel tumour has the side of one voxel);
2. **dilated by ``margin_mm`` on every side** (physical units, so anisotropic pixels are
   handled) to include the peritumoural region;
3. sampled on a ``size x size`` grid by **cubic-spline interpolation** (``order=3``); parts of
   the square outside the image are padded with 0 (the bottom of the [0, 1] range);
4. slices whose undilated square area is **> min_area_fraction x the patient's largest**
   are kept.

Each kept slice becomes a C-channel image: the normalised modalities listed in
``channels``, where ``fusion`` is the alpha-blend ``(ct + alpha * pet) / (1 + alpha)`` of the
two modalities in ``fusion.of`` (alpha = 1: their mean).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Square:
    """One slice's ROI square, in mm of the slice's index space (x right, y down)."""

    z: int
    centre_x_mm: float
    centre_y_mm: float
    tumour_side_mm: float  # smallest square holding the tumour
    side_mm: float         # after dilation by the margin on every side


def tumour_squares(mask_zyx: np.ndarray, spacing_xyz: Sequence[float], margin_mm: float) -> list[Square]:
    """Smallest tumour square per axial slice (slices without tumour are skipped)."""
    sx, sy = float(spacing_xyz[0]), float(spacing_xyz[1])
    out = []
    for z in np.flatnonzero(mask_zyx.reshape(mask_zyx.shape[0], -1).any(axis=1)):
        ys, xs = np.nonzero(mask_zyx[z])
        x0, x1 = (xs.min() - 0.5) * sx, (xs.max() + 0.5) * sx
        y0, y1 = (ys.min() - 0.5) * sy, (ys.max() + 0.5) * sy
        side = max(x1 - x0, y1 - y0)
        out.append(Square(int(z), (x0 + x1) / 2, (y0 + y1) / 2, side, side + 2 * margin_mm))
    return out


def keep_large(squares: list[Square], min_area_fraction: float) -> list[Square]:
    """Squares whose area is > ``min_area_fraction`` of the largest one."""
    if not squares:
        return []
    biggest = max(s.tumour_side_mm for s in squares) ** 2
    return [s for s in squares if s.tumour_side_mm**2 > min_area_fraction * biggest]


def crop_square(slice_yx: np.ndarray, sq: Square, spacing_xyz: Sequence[float], size: int,
                order: int = 3, pad: float = 0.0) -> np.ndarray:
    """Resample the dilated square of one slice to ``size x size`` pixels (float32)."""
    sx, sy = float(spacing_xyz[0]), float(spacing_xyz[1])
    offs = (np.arange(size) + 0.5) * sq.side_mm / size - sq.side_mm / 2
    cols = (sq.centre_x_mm + offs) / sx
    rows = (sq.centre_y_mm + offs) / sy
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    out = ndimage.map_coordinates(slice_yx.astype(np.float32), [rr, cc], order=order,
                                  mode="grid-constant", cval=pad, prefilter=order > 1)
    return out.astype(np.float32)


@dataclass
class SliceSet:
    """Hyper-images of one patient and rater.

    images: (n, C, size, size) float32 in [0, 1]; z_index: (n,) slice index in the
    reference grid; z_mm: (n,) slice position (index x z spacing, mm); tumour_side_mm and
    side_mm: (n,) square sides before/after dilation (mm).
    """

    images: np.ndarray
    z_index: np.ndarray
    z_mm: np.ndarray
    tumour_side_mm: np.ndarray
    side_mm: np.ndarray
    channels: tuple[str, ...]
    meta: dict = field(default_factory=dict)

    def save(self, path) -> None:
        np.savez_compressed(path, images=self.images, z_index=self.z_index, z_mm=self.z_mm,
                            tumour_side_mm=self.tumour_side_mm, side_mm=self.side_mm,
                            channels=np.array(self.channels), meta=np.array([repr(self.meta)]))

    @classmethod
    def load(cls, path) -> "SliceSet":
        d = np.load(path, allow_pickle=False)
        import ast
        return cls(d["images"], d["z_index"], d["z_mm"], d["tumour_side_mm"], d["side_mm"],
                   tuple(str(c) for c in d["channels"]), ast.literal_eval(str(d["meta"][0])))


def channel_stack(volumes: Mapping[str, np.ndarray], channels: Sequence[str],
                  fusion_of: Sequence[str] = ("pet", "ct"), alpha: float = 1.0) -> dict[str, np.ndarray]:
    """The volumes (z, y, x, in [0, 1]) that become the channels, fusion included."""
    out = {}
    for c in channels:
        if c == "fusion":
            a, b = volumes[fusion_of[0]], volumes[fusion_of[1]]
            out[c] = (b + alpha * a) / (1.0 + alpha)
        else:
            out[c] = volumes[c]
    return out


def extract_slices(volumes: Mapping[str, np.ndarray], mask_zyx: np.ndarray, spacing_xyz: Sequence[float],
                   channels: Sequence[str], size: int = 64, margin_mm: float = 20.0,
                   min_area_fraction: float = 0.30, order: int = 3,
                   fusion_of: Sequence[str] = ("pet", "ct"), alpha: float = 1.0) -> SliceSet:
    """Hyper-images of one patient from normalised volumes on the mask's grid."""
    stack = channel_stack(volumes, channels, fusion_of, alpha)
    squares = keep_large(tumour_squares(mask_zyx, spacing_xyz, margin_mm), min_area_fraction)
    imgs = np.zeros((len(squares), len(channels), size, size), np.float32)
    for i, sq in enumerate(squares):
        for j, c in enumerate(channels):
            imgs[i, j] = crop_square(stack[c][sq.z], sq, spacing_xyz, size, order)
    np.clip(imgs, 0.0, 1.0, out=imgs)
    return SliceSet(imgs, np.array([s.z for s in squares], dtype=np.int32),
                    np.array([s.z * float(spacing_xyz[2]) for s in squares]),
                    np.array([s.tumour_side_mm for s in squares]), np.array([s.side_mm for s in squares]),
                    tuple(channels),
                    {"size": size, "margin_mm": margin_mm, "min_area_fraction": min_area_fraction,
                     "order": order, "spacing_xyz": [float(v) for v in spacing_xyz]})
