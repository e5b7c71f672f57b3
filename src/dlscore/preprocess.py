"""Per-patient preprocessing: geometry checks, co-gridding onto the reference modality,
and the normalisations used by the network.

Physical units are kept in the co-gridded volumes (HU for CT, SUV for PET, scanner units
for MRI); normalisation to [0, 1] happens only when slices are cut (``normalise``).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import SimpleITK as sitk

from dlscore.errors import InputError


def geometry_mismatch(a: sitk.Image, b: sitk.Image, tol_mm: float = 0.01) -> str | None:
    """Human-readable difference between two grids, or None when they agree."""
    diffs = []
    if a.GetSize() != b.GetSize():
        diffs.append(f"size {a.GetSize()} vs {b.GetSize()}")
    sp = np.abs(np.subtract(a.GetSpacing(), b.GetSpacing())).max()
    if sp > tol_mm:
        diffs.append(f"spacing {tuple(round(v, 4) for v in a.GetSpacing())} vs "
                     f"{tuple(round(v, 4) for v in b.GetSpacing())} mm")
    org = np.abs(np.subtract(a.GetOrigin(), b.GetOrigin())).max()
    if org > tol_mm:
        diffs.append(f"origin differs by {org:.3f} mm")
    if np.abs(np.subtract(a.GetDirection(), b.GetDirection())).max() > 1e-4:
        diffs.append("direction cosines differ")
    return "; ".join(diffs) or None


def check_mask(mask: sitk.Image, reference: sitk.Image, patient: str, path: str,
               tol_mm: float = 0.01) -> np.ndarray:
    """Validate a tumour mask against the reference grid; return it as a bool (z, y, x) array."""
    diff = geometry_mismatch(mask, reference, tol_mm)
    if diff:
        raise InputError(f"mask geometry does not match the reference image ({diff})",
                         "export the mask on the grid of the reference image (same size, spacing, origin)",
                         patient, path)
    arr = sitk.GetArrayFromImage(mask)
    values = np.unique(arr)
    if not np.isin(values, (0, 1)).all():
        raise InputError(f"mask holds labels {values[:6].tolist()}, expected 0/1",
                         "keep the tumour label only (1) and set everything else to 0", patient, path)
    if not arr.any():
        raise InputError("mask is empty (no tumour voxel)", "check the segmentation", patient, path)
    return arr.astype(bool)


def check_voxels(image: sitk.Image, patient: str, what: str, path: str, max_suv: float | None = None) -> None:
    """Voxel values a study can use: all finite (NaN/inf would be read as numbers by every
    later step), and for a PET file that must hold SUV (``max_suv`` given) no value above
    ``max_suv`` (activity in Bq/mL reaches thousands; SUV rarely exceeds 50)."""
    arr = sitk.GetArrayViewFromImage(image)
    bad = int(np.size(arr) - np.isfinite(arr).sum()) if np.issubdtype(arr.dtype, np.floating) else 0
    if bad:
        raise InputError(f"{what} holds {bad} non-finite voxel(s) (NaN or inf)",
                         "re-export the image with every voxel a number (fill outside the field of view with the "
                         "background value)", patient, path)
    top = float(arr.max()) if arr.size else 0.0
    if max_suv is not None and top > max_suv:
        raise InputError(f"{what} holds values up to {top:.4g}, more than any SUV (limit {max_suv:g}): it looks "
                         "like activity (Bq/mL), not SUV", "convert the PET file to SUV body weight, or give the "
                         "DICOM series (converted from its headers); or raise checks.max_suv", patient, path)


def check_volume(mask: np.ndarray, spacing_mm, patient: str, path: str, max_ml: float) -> float:
    """The physical tumour volume (mL) of a (z, y, x) bool mask with voxel ``spacing_mm``
    (x, y, z); above ``max_ml`` it is an error (a spacing in the wrong unit, or a mask of
    the whole body)."""
    ml = float(mask.sum() * np.prod(spacing_mm) / 1000.0)
    if ml > max_ml:
        raise InputError(f"tumour volume is {ml:.4g} mL, more than {max_ml:g} mL",
                         "check the voxel spacing unit (mm) and that the mask holds the tumour only; or raise "
                         "checks.max_tumour_volume_ml", patient, path)
    return ml


def resample_to(image: sitk.Image, reference: sitk.Image, interpolator: int = sitk.sitkLinear,
                default: float = 0.0) -> sitk.Image:
    """Resample ``image`` onto ``reference``'s grid (identity transform, physical space)."""
    return sitk.Resample(image, reference, sitk.Transform(), interpolator, float(default),
                         sitk.sitkFloat32)


def cogrid(images: Mapping[str, sitk.Image], reference: str) -> dict[str, sitk.Image]:
    """Every modality on the reference modality's grid (linear), float32.

    Voxels outside a moving image's field of view get that image's minimum value.
    """
    ref = images[reference]
    out = {}
    for name, img in images.items():
        if name == reference:
            out[name] = sitk.Cast(img, sitk.sitkFloat32)
        else:
            lo = float(sitk.GetArrayViewFromImage(img).min())
            out[name] = resample_to(img, ref, sitk.sitkLinear, lo)
    return out


def outside_fov(images: Mapping[str, sitk.Image], reference: str, mask_zyx: np.ndarray) -> dict[str, float]:
    """Fraction of the mask's voxels (``mask_zyx``, bool on the reference grid) that lie
    outside each other modality's field of view (where :func:`cogrid` can only fill in)."""
    ref = images[reference]
    n = max(int(mask_zyx.sum()), 1)
    out = {}
    for name, img in images.items():
        if name == reference:
            continue
        ones = sitk.Image(img.GetSize(), sitk.sitkUInt8) + 1
        ones.CopyInformation(img)
        cover = sitk.GetArrayFromImage(resample_to(ones, ref, sitk.sitkNearestNeighbor, 0.0)) > 0  # a copy: the image is a temporary
        out[name] = float((mask_zyx & ~cover).sum() / n)
    return out


def canonical(image: sitk.Image) -> sitk.Image:
    """``image`` re-ordered to the canonical LPS orientation: index x -> patient left,
    y -> posterior, z -> superior, so axial slices are array planes whatever the file's
    convention (RAS NIfTI, flipped or sagittal DICOM). Voxel values are only permuted."""
    return sitk.DICOMOrient(image, "LPS")


#: where a z-score takes its mean and SD: every voxel above the volume's minimum (the whole field
#: of view when the background is noise) or the voxels above an Otsu threshold (the head/body)
ZSCORE_REGIONS = ("above_minimum", "otsu")


def zscore_region(arr: np.ndarray, region: str = "above_minimum", tumour: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask (shape of ``arr``) of the voxels whose mean and SD z-score ``arr``.

    ``region``: ``above_minimum`` keeps every voxel brighter than the volume's minimum (for
    images whose background is exactly the minimum, e.g. skull-stripped MRI); ``otsu`` keeps the
    voxels above the Otsu threshold of the volume's histogram (SimpleITK ``OtsuThreshold``, 128
    bins), which separates head or body from a noisy background, so that the statistics do not
    depend on how much air the field of view holds. ``tumour`` (bool, shape of ``arr``), when
    given, is left out, so the tumour is expressed in units of the surrounding tissue. Falls
    back to every voxel when the region is empty.
    """
    a = np.asarray(arr)
    if region == "above_minimum":
        sel = a > a.min()
    elif region == "otsu":
        img = sitk.GetImageFromArray(a.astype(np.float32))
        sel = sitk.GetArrayFromImage(sitk.OtsuThreshold(img, 0, 1, 128)).astype(bool)
    else:
        raise ValueError(f"unknown z-score region {region!r} (use one of {', '.join(ZSCORE_REGIONS)})")
    if tumour is not None:
        sel = sel & ~tumour.astype(bool)
    return sel if sel.any() else np.ones(a.shape, bool)


def normalise(arr: np.ndarray, method: str, low: float | None = None, high: float | None = None,
              mask: np.ndarray | None = None) -> np.ndarray:
    """Map intensities to [0, 1] (float32).

    * ``window``: clip to [low, high] (HU for CT, SUV for PET) and rescale.
    * ``zscore``: z-score using voxels inside ``mask`` (e.g. the body/brain), then map
      [-3, 3] SD to [0, 1].
    """
    a = arr.astype(np.float32)
    if method == "window":
        return np.clip((a - low) / (high - low), 0.0, 1.0)
    if method == "zscore":
        sel = a[mask] if mask is not None and mask.any() else a
        sd = float(sel.std()) or 1.0
        return np.clip(((a - float(sel.mean())) / sd + 3.0) / 6.0, 0.0, 1.0)
    raise ValueError(f"unknown normalisation {method!r} (use window or zscore)")
