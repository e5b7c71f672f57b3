"""Overhead of our PyRadiomics extraction (``dlscore.radiomics.extract_features``) over calling
PyRadiomics directly, measured in the same run.

    .venv/bin/python benchmarks/radiomics_extraction.py [--quick]     # prints a Markdown table

Per patient: a CT (HU) and a PET (SUV) volume of 96 x 96 x 24 voxels (0.98 x 0.98 x 3 mm)
with an ellipsoidal tumour, features of ``config/radiomics_params.yaml`` (shape once, first
order and texture per modality, bin width per modality). Direct: one
``RadiomicsFeatureExtractor`` from the same parameter file, ``execute`` per modality with the
same settings and shape enabled for the first modality only (the same work). Ours adds the
per-modality bin width, the renaming to ``<modality>_...`` columns and dropping the
diagnostics. Single-threaded; medians of repeated calls. Target: overhead <= 10 %.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from dlscore.radiomics import extract_features  # noqa: E402
from benchtools import median_time  # noqa: E402

PARAMS = ROOT / "config/radiomics_params.yaml"
BIN = {"ct": 25.0, "pet": 0.25}


def patient(seed: int):
    rng = np.random.default_rng(seed)
    z, y, x = np.ogrid[:24, :96, :96]
    r = rng.uniform(8, 14)
    mask = ((x - 48) * 0.98 / r) ** 2 + ((y - 48) * 0.98 / r) ** 2 + ((z - 12) * 3 / r) ** 2 <= 1
    ct = rng.normal(-800, 30, mask.shape)
    ct[mask] = rng.normal(40, 20, mask.sum())
    pet = np.abs(rng.normal(0.8, 0.2, mask.shape))
    pet[mask] = rng.normal(7, 1.5, mask.sum())

    def img(a):
        im = sitk.GetImageFromArray(a.astype(np.float32))
        im.SetSpacing((0.98, 0.98, 3.0))
        return im
    return {"ct": img(ct), "pet": img(pet)}, img(mask.astype(np.uint8))


def direct(images, mask):
    from radiomics import featureextractor
    ext = featureextractor.RadiomicsFeatureExtractor(str(PARAMS))
    enabled = dict(ext.enabledFeatures)
    out = {}
    for i, m in enumerate(("ct", "pet")):
        ext.settings["binWidth"] = BIN[m]
        ext.enabledFeatures = {k: v for k, v in enabled.items() if k != "shape" or i == 0}
        out[m] = ext.execute(images[m], sitk.Cast(mask, sitk.sitkUInt8), label=1)
    return out


def ours(images, mask):
    return extract_features(images, mask, PARAMS, ["ct", "pet"], BIN)


def main(quick: bool = False) -> None:
    import logging

    import radiomics
    radiomics.setVerbosity(logging.ERROR)
    from importlib.metadata import version
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, "
          f"pyradiomics-bhklab {version('pyradiomics-bhklab')}, "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| patient | features | direct PyRadiomics (s) | ours (s) | overhead |")
    print("|---|---|---|---|---|")
    tot_d = tot_o = 0.0
    for seed in range(2 if quick else 4):
        images, mask = patient(seed)
        n = len(ours(images, mask))
        reps = 2 if quick else 5
        # interleave so drifts in machine load hit both the same
        td, to = [], []
        for _ in range(reps):
            td.append(median_time(lambda: direct(images, mask), 1))
            to.append(median_time(lambda: ours(images, mask), 1))
        d, o = float(np.median(td)), float(np.median(to))
        tot_d, tot_o = tot_d + d, tot_o + o
        print(f"| {seed + 1} | {n} | {d:.3f} | {o:.3f} | {100 * (o / d - 1):+.1f} % |")
    print(f"| all | | {tot_d:.3f} | {tot_o:.3f} | {100 * (tot_o / tot_d - 1):+.1f} % |")


if __name__ == "__main__":
    main("--quick" in sys.argv)
