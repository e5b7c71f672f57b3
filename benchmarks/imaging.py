"""Benchmark of slice + hyper-image extraction (METHOD.md "Slices and hyper-images").

    .venv/bin/python benchmarks/imaging.py [--quick]     # prints a Markdown table

Per patient, from normalised PET and CT volumes and the tumour mask already in memory
(file I/O excluded): smallest square per axial slice, 20 mm dilation, > 30 % area filter,
64 x 64 cubic-spline resampling of PET, CT and their fusion. Ours
(``dlscore.slices.extract_slices``: one pass over the mask, kept slices only, windows
prefiltered together, separable matrix products) vs the naive per-slice loop measured in
the same run (``crop_square``: scipy ``map_coordinates`` with prefiltering of the whole
512 x 512 slice, per slice and channel). The two outputs are asserted equal (1e-4) first.

Synthetic CT grids 512 x 512 x 120 (0.98 x 0.98 x 3 mm), ellipsoidal tumours of 2, 4 and
8 cm. Single-threaded; patients/s = 1 / median time per patient.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from dlscore.slices import channel_stack, crop_square, extract_slices, keep_large, tumour_squares  # noqa: E402
from benchtools import median_time  # noqa: E402

SPACING = (0.98, 0.98, 3.0)
CHANNELS = ["pet", "ct", "fusion"]


def patient(diameter_mm: float, shape=(120, 512, 512), seed=0):
    rng = np.random.default_rng(seed)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    r = diameter_mm / 2
    mask = (((x - 300) * SPACING[0] / r) ** 2 + ((y - 220) * SPACING[1] / (0.8 * r)) ** 2
            + ((z - 60) * SPACING[2] / (0.9 * r)) ** 2) <= 1
    ct = rng.random(shape, dtype=np.float32) * 0.3 + 0.35
    pet = rng.random(shape, dtype=np.float32) * 0.05
    ct[mask] += 0.2
    pet[mask] += 0.5
    return {"pet": pet, "ct": ct}, mask


def naive(vols, mask):
    """The per-slice loop: squares from a per-slice scan, map_coordinates on each full slice."""
    squares = []
    for z in range(mask.shape[0]):
        if mask[z].any():
            squares += [s for s in tumour_squares(mask[z:z + 1], SPACING, 20.0)]
            squares[-1] = type(squares[-1])(z, *[getattr(squares[-1], f) for f in
                                                   ("centre_x_mm", "centre_y_mm", "tumour_side_mm", "side_mm")])
    squares = keep_large(squares, 0.30)
    stack = channel_stack(vols, CHANNELS)
    out = np.zeros((len(squares), 3, 64, 64), np.float32)
    for i, sq in enumerate(squares):
        for j, c in enumerate(CHANNELS):
            out[i, j] = crop_square(stack[c][sq.z], sq, SPACING, 64, 3)
    return np.clip(out, 0, 1)


def ours(vols, mask):
    return extract_slices(vols, mask, SPACING, CHANNELS, 64, 20.0, 0.30, 3).images


def main(quick: bool = False) -> None:
    print(f"machine: {platform.machine()}, {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}, NumPy {np.__version__}, {time.strftime('%Y-%m-%d')}\n")
    print("| tumour | kept slices | ours (ms) | naive loop (ms) | naive / ours | ours: patients/s/core |")
    print("|---|---|---|---|---|---|")
    for d in (20, 40, 80):
        vols, mask = patient(d)
        a, b = ours(vols, mask), naive(vols, mask)
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-4, np.abs(a - b).max()
        reps = 3 if quick else 9
        t_ours = median_time(lambda: ours(vols, mask), reps)
        t_naive = median_time(lambda: naive(vols, mask), max(1, reps // 3))
        print(f"| {d} mm | {a.shape[0]} | {t_ours * 1e3:.1f} | {t_naive * 1e3:.1f} | {t_naive / t_ours:.1f}× "
              f"| {1 / t_ours:.0f} |")


if __name__ == "__main__":
    main("--quick" in sys.argv)
