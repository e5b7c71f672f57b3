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

from dataclasses import dataclass, field, replace
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
    rows = mask_zyx.any(axis=2)  # (z, y): the one pass over the whole mask
    zs = np.flatnonzero(rows.any(axis=1))
    rows, cols = rows[zs], mask_zyx[zs].any(axis=1)  # (n, y), (n, x) of the tumour slices only
    y_lo, y_hi = rows.argmax(axis=1), rows.shape[1] - 1 - rows[:, ::-1].argmax(axis=1)
    x_lo, x_hi = cols.argmax(axis=1), cols.shape[1] - 1 - cols[:, ::-1].argmax(axis=1)
    out = []
    for z, xa, xb, ya, yb in zip(zs, x_lo, x_hi, y_lo, y_hi):
        x0, x1 = (xa - 0.5) * sx, (xb + 0.5) * sx
        y0, y1 = (ya - 0.5) * sy, (yb + 0.5) * sy
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
    reference grid; z_mm: (n,) physical z of the slice (patient coordinates, mm);
    centre_mm: (n, 3) physical centre (x, y, z) of each ROI square (mm); tumour_side_mm and
    side_mm: (n,) square sides before/after dilation (mm).
    """

    images: np.ndarray
    z_index: np.ndarray
    z_mm: np.ndarray
    tumour_side_mm: np.ndarray
    side_mm: np.ndarray
    channels: tuple[str, ...]
    meta: dict = field(default_factory=dict)
    centre_mm: np.ndarray | None = None

    def save(self, path) -> None:
        centre = self.centre_mm if self.centre_mm is not None else np.full((len(self.z_index), 3), np.nan)
        np.savez_compressed(path, images=self.images, z_index=self.z_index, z_mm=self.z_mm,
                            tumour_side_mm=self.tumour_side_mm, side_mm=self.side_mm, centre_mm=centre,
                            channels=np.array(self.channels), meta=np.array([repr(self.meta)]))

    @classmethod
    def load(cls, path) -> "SliceSet":
        import ast
        d = np.load(path, allow_pickle=False)
        return cls(d["images"], d["z_index"], d["z_mm"], d["tumour_side_mm"], d["side_mm"],
                   tuple(str(c) for c in d["channels"]), ast.literal_eval(str(d["meta"][0])),
                   d["centre_mm"] if "centre_mm" in d else None)


#: the ``slices.channels`` name of the tumour-mask channel
MASK_CHANNEL = "mask"
#: the ``slices.channels`` name of the distance-map channel (:func:`distance_map`)
DISTANCE_CHANNEL = "distance"
#: channels made from the mask rather than read from an image (no modality may take these names)
MASK_DERIVED_CHANNELS = (MASK_CHANNEL, DISTANCE_CHANNEL)
#: channels that are not an imaging modality: the PET/CT fusion and those made from the mask
DERIVED_CHANNELS = ("fusion", *MASK_DERIVED_CHANNELS)


def intensity_channel_indices(channels: Sequence[str]) -> list[int]:
    """Positions in ``channels`` of the image channels (sequences, modalities, the PET/CT
    fusion), i.e. every channel but the mask-derived ones, which intensity augmentation must
    leave alone."""
    return [i for i, c in enumerate(channels) if c not in MASK_DERIVED_CHANNELS]


def distance_map(mask_zyx: np.ndarray, spacing_xyz: Sequence[float], scale_mm: float = 5.0) -> np.ndarray:
    """The distance channel of one patient: (z, y, x) float32 in (0, 1), the mask's shape.

    d is the signed 3-D Euclidean distance (mm, with the voxel spacing ``spacing_xyz``) from
    each voxel to the mask's surface, negative inside (SimpleITK's Maurer transform); the
    channel is 1 / (1 + exp(d / ``scale_mm``)): 0.5 on the outline, towards 1 deep inside the
    tumour and towards 0 far outside. Unlike the mask channel it tells a slice at the tumour's
    pole (shallow) from one through its middle (deep). An empty mask gives zeros. Computed on
    the whole volume: up to about 25 bytes per voxel at the peak (some 4 GB for a 512 x 512 x
    600 whole-body CT: raise the preprocess jobs' mem_mb, e.g. ``--set-resources``, before adding
    this channel there).
    """
    import SimpleITK as sitk
    if not np.any(mask_zyx):
        return np.zeros(mask_zyx.shape, np.float32)
    m = sitk.GetImageFromArray((np.asarray(mask_zyx) > 0).astype(np.uint8))
    m.SetSpacing(tuple(float(v) for v in spacing_xyz))
    d = sitk.GetArrayFromImage(sitk.SignedMaurerDistanceMap(m, insideIsPositive=False, squaredDistance=False,
                                                            useImageSpacing=True))
    return (1.0 / (1.0 + np.exp(np.clip(d / float(scale_mm), -50.0, 50.0)))).astype(np.float32)


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


def _bspline3(t: np.ndarray) -> np.ndarray:
    """Cubic B-spline kernel at offsets ``t`` (index units)."""
    a = np.abs(t)
    return np.where(a < 1.0, 2.0 / 3.0 - a**2 + a**3 / 2.0, np.where(a < 2.0, (2.0 - a) ** 3 / 6.0, 0.0))


def _tap_matrix(coords: np.ndarray, start: np.ndarray, length: int) -> np.ndarray:
    """(n, m, length) cubic B-spline weights: row i of square s samples ``coords[s, i]``
    (index units) from window positions ``start[s] + 0 .. length - 1`` (4 taps each)."""
    n, m = coords.shape
    j = np.floor(coords).astype(np.int64)[..., None] + np.arange(-1, 3)  # (n, m, 4) taps
    out = np.zeros((n, m, length), np.float32)
    out[np.arange(n)[:, None, None], np.arange(m)[None, :, None], j - start[:, None, None]] = \
        _bspline3(coords[..., None] - j)
    return out


def _prefilter_matrix(n: int) -> np.ndarray:
    """(n, n) float32 inverse of the cubic B-spline interpolation matrix (1/6, 4/6, 1/6):
    the coefficients whose spline passes through the ``n`` data values, with zero
    coefficients outside (the window's zero padding)."""
    t = np.eye(n) * (4.0 / 6.0) + (np.eye(n, k=1) + np.eye(n, k=-1)) / 6.0
    inv = np.linalg.inv(t)
    inv[np.abs(inv) < 1e-12] = 0.0  # entries decay as 0.268**k: drop them before they turn denormal
    return inv.astype(np.float32)  # (denormal float32 operands slow BLAS down ~10x)


#: pixels kept around each square's sampling points: 2 for the cubic kernel's support and 8
#: for the recursive prefilter, whose influence decays as 0.268**k (8 px: 3e-5 of a step)
_WINDOW_PAD = 10


def _square_coords(sq: Square, spacing_xyz: Sequence[float], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates (index units) of the ``size`` sampling points of a square."""
    offs = (np.arange(size) + 0.5) * sq.side_mm / size - sq.side_mm / 2
    return (sq.centre_y_mm + offs) / float(spacing_xyz[1]), (sq.centre_x_mm + offs) / float(spacing_xyz[0])


def resample_squares(stack: np.ndarray, squares: Sequence[Square], spacing_xyz: Sequence[float],
                     size: int) -> np.ndarray:
    """Cubic-spline samples of every square of every channel, batched.

    stack: (C, z, y, x) float32 volumes; returns (n, C, size, size) float32. Each square is
    cut from its slice as a window reaching ``_WINDOW_PAD`` pixels beyond its sampling
    points (zeros outside the image, as :func:`crop_square`'s ``grid-constant``). The spline
    is separable and linear in the data, so prefilter and sampling of a window are two
    matrices: ``out = (W_r T_h^-1) window (W_c T_w^-1)^T`` with W the 4-tap B-spline
    weights and T^-1 the prefilter; all squares and channels go through two batched
    matrix products. Equals :func:`crop_square` to ~1e-4 of the data range (the prefilter
    sees the window, not the whole slice).
    """
    n, c = len(squares), stack.shape[0]
    if n == 0:
        return np.zeros((0, c, size, size), np.float32)
    ny, nx = stack.shape[2], stack.shape[3]
    coords = [_square_coords(sq, spacing_xyz, size) for sq in squares]
    r0 = [int(np.floor(r.min())) - _WINDOW_PAD for r, _ in coords]
    c0 = [int(np.floor(cc.min())) - _WINDOW_PAD for _, cc in coords]
    h = max(int(np.ceil(r.max())) + _WINDOW_PAD - a + 1 for (r, _), a in zip(coords, r0))
    w = max(int(np.ceil(cc.max())) + _WINDOW_PAD - b + 1 for (_, cc), b in zip(coords, c0))
    win = np.zeros((n, c, h, w), np.float32)
    for i, sq in enumerate(squares):
        ya, yb = max(r0[i], 0), min(r0[i] + h, ny)
        xa, xb = max(c0[i], 0), min(c0[i] + w, nx)
        if ya < yb and xa < xb:
            win[i, :, ya - r0[i]:yb - r0[i], xa - c0[i]:xb - c0[i]] = stack[:, sq.z, ya:yb, xa:xb]
    rows = np.stack([r for r, _ in coords])
    cols = np.stack([cc for _, cc in coords])
    # prefilter folded into the sampling matrices: coefficients = T^-1 @ data along each axis
    wr = _tap_matrix(rows, np.array(r0), h) @ _prefilter_matrix(h)
    wc = _tap_matrix(cols, np.array(c0), w) @ _prefilter_matrix(w)
    out = np.matmul(np.matmul(wr[:, None], win), wc[:, None].transpose(0, 1, 3, 2))
    return out.astype(np.float32)


def extract_slices(volumes: Mapping[str, np.ndarray], mask_zyx: np.ndarray, spacing_xyz: Sequence[float],
                   channels: Sequence[str], size: int = 64, margin_mm: float = 20.0,
                   min_area_fraction: float = 0.30, order: int = 3,
                   fusion_of: Sequence[str] = ("pet", "ct"), alpha: float = 1.0,
                   origin_xyz: Sequence[float] = (0.0, 0.0, 0.0),
                   direction: Sequence[float] = (1, 0, 0, 0, 1, 0, 0, 0, 1),
                   distance_scale_mm: float = 5.0) -> SliceSet:
    """Hyper-images of one patient from normalised volumes on the mask's grid.

    ``origin_xyz`` (mm) and ``direction`` (row-major 3x3) of the grid only place the squares
    in patient coordinates (``z_mm``, ``centre_mm``); the images do not depend on them.
    ``order`` 3 uses the batched :func:`resample_squares`; other orders the per-slice
    :func:`crop_square`. A channel named ``mask`` is the tumour mask itself (1 inside, 0
    outside, resampled like the images and clipped to [0, 1]): the network then sees the
    outline and, through the fixed margin, the tumour's size relative to the square. A channel
    named ``distance`` is :func:`distance_map` of the mask (``distance_scale_mm``), resampled
    the same way.
    """
    if MASK_CHANNEL in channels:
        volumes = {**volumes, MASK_CHANNEL: mask_zyx.astype(np.float32)}
    if DISTANCE_CHANNEL in channels:
        volumes = {**volumes, DISTANCE_CHANNEL: distance_map(mask_zyx, spacing_xyz, distance_scale_mm)}
    squares = keep_large(tumour_squares(mask_zyx, spacing_xyz, margin_mm), min_area_fraction)
    # only the block the squares' windows reach: kept slices, in-plane bounding box
    zs = sorted({s.z for s in squares})
    ny, nx = mask_zyx.shape[1:]
    ya, yb, xa, xb = 0, ny, 0, nx
    if squares:
        coords = [_square_coords(s, spacing_xyz, size) for s in squares]
        ya = max(0, min(int(np.floor(r.min())) for r, _ in coords) - _WINDOW_PAD)
        yb = min(ny, max(int(np.ceil(r.max())) for r, _ in coords) + _WINDOW_PAD + 1)
        xa = max(0, min(int(np.floor(c.min())) for _, c in coords) - _WINDOW_PAD)
        xb = min(nx, max(int(np.ceil(c.max())) for _, c in coords) + _WINDOW_PAD + 1)
    stack = channel_stack({m: v[zs, ya:yb, xa:xb] for m, v in volumes.items() if m in channels or m in fusion_of},
                          channels, fusion_of, alpha)
    sx, sy = float(spacing_xyz[0]), float(spacing_xyz[1])
    local = [replace(s, z=zs.index(s.z), centre_x_mm=s.centre_x_mm - xa * sx, centre_y_mm=s.centre_y_mm - ya * sy)
             for s in squares]
    if order == 3:
        imgs = resample_squares(np.stack([stack[c] for c in channels]).astype(np.float32, copy=False),
                                local, spacing_xyz, size)
    else:
        imgs = np.zeros((len(squares), len(channels), size, size), np.float32)
        for i, sq in enumerate(local):
            for j, c in enumerate(channels):
                imgs[i, j] = crop_square(stack[c][sq.z], sq, spacing_xyz, size, order)
    np.clip(imgs, 0.0, 1.0, out=imgs)
    sp = np.asarray(spacing_xyz, float)
    idx = np.array([[s.centre_x_mm / sp[0], s.centre_y_mm / sp[1], s.z] for s in squares], float).reshape(-1, 3)
    centre = np.asarray(origin_xyz, float) + (np.asarray(direction, float).reshape(3, 3) @ (idx * sp).T).T
    return SliceSet(imgs, np.array([s.z for s in squares], dtype=np.int32), centre[:, 2],
                    np.array([s.tumour_side_mm for s in squares]), np.array([s.side_mm for s in squares]),
                    tuple(channels),
                    {"size": size, "margin_mm": margin_mm, "min_area_fraction": min_area_fraction,
                     "order": order, "spacing_xyz": [float(v) for v in spacing_xyz]}, centre)
