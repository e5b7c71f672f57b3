"""Plausibility checks of a manifest row and its files, from headers only (no voxel is
read): voxel spacing and dimensionality, images that overlap the reference in space, masks
on the reference grid, DICOM header problems, the same file given twice or one rater's mask
copied as the other's, and outcomes that contradict each other. Limits come from the config
``checks`` (:data:`DEFAULT_CHECKS` where it gives none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from dlscore.errors import InputError


def is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip())


def number(v) -> float | None:
    """``v`` as a float, or None when it is not a number (text such as "12 months")."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return None



#: plausibility limits used when the config gives none (config ``checks``)
DEFAULT_CHECKS = {"spacing_mm": [0.1, 20.0], "max_suv": 100.0, "max_tumour_volume_ml": 3000.0,
                  "max_tumour_outside_fov": 0.01, "dcb_months": 6.0,
                  "marker_scale_ratio": 10.0}


def _check(checks: Mapping[str, Any] | None, key: str):
    return (checks or {}).get(key, DEFAULT_CHECKS[key])


def file_identity(path: str) -> tuple:
    """What makes two paths the same file: device and inode when it exists (a symlink, a
    hard link, ``a/../b``), else the normalised absolute path."""
    import os
    try:
        st = os.stat(path)
        return ("inode", st.st_dev, st.st_ino)
    except (OSError, ValueError):
        return ("path", os.path.realpath(path))


def duplicate_masks(row: pd.Series, pid: str, raters: Sequence[str]) -> list[InputError]:
    """Two raters' masks with the same bytes (a copy): their ICC would be a perfect 1."""
    import hashlib
    seen: dict[str, str] = {}
    files: set = set()
    out = []
    for r in raters:
        v = row.get(f"mask_{r}")
        if is_missing(v) or not Path(v).is_file() or file_identity(v) in files:
            continue  # the same file twice is reported as such
        files.add(file_identity(v))
        digest = hashlib.sha256(Path(v).read_bytes()).hexdigest()
        if digest in seen:
            out.append(InputError(f"mask_{r} has the same contents as {seen[digest]} (a copy: the inter-rater ICC "
                                  "would be a perfect 1)", f"give rater {r[1:]}'s own segmentation, or leave "
                                  f"mask_{r} empty", pid, str(v)))
        seen[digest] = f"mask_{r}"
    return out


def outcome_consistency(row: pd.Series, pid: str, checks: Mapping[str, Any] | None) -> list[InputError]:
    """Outcomes that contradict each other: OS shorter than PFS; durable clinical benefit
    (DCB) that disagrees with PFS at the ``checks.dcb_months`` landmark (DCB 1 with
    progression before it, DCB 0 without progression by then)."""
    t = {k: number(row.get(k)) if not is_missing(row.get(k)) else None
         for k in ("pfs_time", "pfs_event", "os_time", "dcb")}
    out = []
    if t["pfs_time"] is not None and t["os_time"] is not None and t["os_time"] < t["pfs_time"] - 1e-9:
        out.append(InputError(f"os_time ({t['os_time']:g}) is shorter than pfs_time ({t['pfs_time']:g})",
                              "PFS ends at progression or death, so OS >= PFS: check both times (same start "
                              "date, same unit)", pid, "os_time"))
    landmark = _check(checks, "dcb_months")
    if landmark is None or t["dcb"] not in (0.0, 1.0) or t["pfs_time"] is None or t["pfs_event"] is None:
        return out
    if t["dcb"] == 1 and t["pfs_event"] == 1 and t["pfs_time"] < landmark:
        out.append(InputError(f"dcb is 1 but the patient progressed at {t['pfs_time']:g} months, before the "
                              f"{landmark:g}-month landmark", "check dcb and pfs_time, or set checks.dcb_months "
                              "to your study's DCB definition (null: not checked)", pid, "dcb"))
    if t["dcb"] == 0 and t["pfs_time"] > landmark and t["pfs_event"] == 0:
        out.append(InputError(f"dcb is 0 but the patient was progression-free for {t['pfs_time']:g} months "
                              f"(censored, beyond the {landmark:g}-month landmark)", "check dcb and pfs_time, or set "
                              "checks.dcb_months to your study's DCB definition (null: not checked)", pid, "dcb"))
    return out


def header_checks(row: pd.Series, pid: str, modalities: Sequence[str], raters: Sequence[str],
                   reference: str | None, tol_mm: float, suv_modality: str | None = None,
                   roi_names: Sequence[str] = (), checks: Mapping[str, Any] | None = None) -> list[InputError]:
    """Readable headers of 3D images with plausible voxel spacing, images that overlap the
    reference image in space, and masks on the reference grid, without reading voxels."""
    import SimpleITK as sitk

    from dlscore.dicom import EXPECTED_MODALITY, header_problems, is_dicom_file
    problems, headers = [], {}
    cols = [f"image_{m}" for m in modalities] + [f"mask_{r}" for r in raters]
    for c in cols:
        v = row.get(c)
        if is_missing(v) or not Path(v).exists():
            continue  # missing / not-found files are reported above
        if Path(v).is_dir() or is_dicom_file(v):  # DICOM series folder, RTSTRUCT or SEG
            mod = c[len("image_"):] if c.startswith("image_") else None
            problems += header_problems(v, c, pid, EXPECTED_MODALITY.get(mod) if mod else None,
                                        suv=mod is not None and mod == suv_modality, roi_names=roi_names)
            continue
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(v))
        try:
            reader.ReadImageInformation()
        except RuntimeError:
            problems.append(InputError(f"{c} cannot be read (corrupt, truncated or not an image)",
                                       "re-export the file as NIfTI/NRRD/MHA or a DICOM series", pid, str(v)))
            continue
        headers[c] = (reader.GetSize(), reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection())
        problems += _geometry_problems(c, headers[c], pid, str(v), checks)
    ref = headers.get(f"image_{reference}") if reference else None
    if ref is None or len(ref[0]) != 3:
        return problems
    for m in modalities:
        h = headers.get(f"image_{m}")
        if m != reference and h is not None and len(h[0]) == 3 and _overlap_mm3(h, ref) <= 0:
            problems.append(InputError(f"image_{m} does not overlap image_{reference} in space (they lie "
                                       f"{_gap_mm(h, ref):.0f} mm apart)", "give both images in the same "
                                       "scanner coordinates (origin and direction from the same study)", pid,
                                       str(row[f"image_{m}"])))
    for r in raters:
        h = headers.get(f"mask_{r}")
        if h is None:
            continue
        what = [name for name, a, b in (("size", h[0], ref[0]), ("spacing", h[1], ref[1]), ("origin", h[2], ref[2]),
                                        ("direction", h[3], ref[3]))
                if len(a) != len(b) or not np.allclose(a, b, atol=tol_mm if name != "size" else 0)]
        if what:
            problems.append(InputError(f"mask_{r} is not on the grid of image_{reference} ({', '.join(what)} differ)",
                                       f"export the mask on the {reference} grid (same size, spacing, origin, "
                                       "direction)", pid, str(row[f"mask_{r}"])))
    return problems


def _geometry_problems(col: str, header: tuple, pid: str, where: str,
                       checks: Mapping[str, Any] | None) -> list[InputError]:
    """A 2D image, or voxel spacing outside ``checks.spacing_mm`` (metres for millimetres, or
    a spacing so fine that every physical margin becomes a huge grid)."""
    size, spacing = header[0], header[1]
    if len(size) != 3 or min(size) < 1:
        return [InputError(f"{col} is a {len(size)}D image (size {list(size)}), expected a 3D volume",
                           "give the whole 3D series (not one slice)", pid, where)]
    lo, hi = _check(checks, "spacing_mm")
    if not all(lo <= s <= hi for s in spacing):
        return [InputError(f"{col} has voxel spacing {', '.join(f'{s:g}' for s in spacing)} mm, outside "
                           f"{lo:g}-{hi:g} mm", "check the header's spacing unit (it must be mm), or widen "
                           "checks.spacing_mm", pid, where)]
    return []


def _bounds(header: tuple) -> np.ndarray:
    """Physical axis-aligned bounding box (2 x 3, mm) of an image from its header."""
    size, spacing, origin, direction = header
    d = np.asarray(direction, float).reshape(3, 3)
    corners = np.array([[i, j, k] for i in (-0.5, size[0] - 0.5) for j in (-0.5, size[1] - 0.5)
                        for k in (-0.5, size[2] - 0.5)])
    pts = np.asarray(origin) + (corners * np.asarray(spacing)) @ d.T
    return np.stack([pts.min(0), pts.max(0)])


def _overlap_mm3(a: tuple, b: tuple) -> float:
    ba, bb = _bounds(a), _bounds(b)
    return float(np.prod(np.clip(np.minimum(ba[1], bb[1]) - np.maximum(ba[0], bb[0]), 0, None)))


def _gap_mm(a: tuple, b: tuple) -> float:
    ba, bb = _bounds(a), _bounds(b)
    return float(np.linalg.norm(np.clip(np.maximum(ba[0], bb[0]) - np.minimum(ba[1], bb[1]), 0, None)))
