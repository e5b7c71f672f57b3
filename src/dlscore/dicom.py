"""DICOM ingestion: image series (PET converted to SUV body weight), RTSTRUCT and SEG masks.

Pixel data and geometry are read by SimpleITK (GDCM); the tags SimpleITK does not expose
(radiopharmaceutical sequence, RTSTRUCT contours, SEG frames) by pydicom. Nothing that
identifies the patient is returned: callers get arrays, geometry and the few numbers the
SUV needs (weight, dose, times), never names, IDs, dates of birth, institutions or
accession numbers.

Conventions: volumes are SimpleITK images (x, y, z) in LPS patient coordinates (mm);
masks are bool arrays (z, y, x) on a given image's grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Sequence

import numpy as np
import SimpleITK as sitk

from dlscore.errors import InputError

#: manifest modality name -> the DICOM Modality its series must have
EXPECTED_MODALITY = {"pet": "PT", "ct": "CT"}

#: compressed transfer syntaxes of archive exports -> (name, what decodes them besides GDCM)
COMPRESSED = {
    "1.2.840.10008.1.2.4.50": ("JPEG baseline", "pylibjpeg-libjpeg"),
    "1.2.840.10008.1.2.4.51": ("JPEG extended", "pylibjpeg-libjpeg"),
    "1.2.840.10008.1.2.4.57": ("JPEG lossless", "pylibjpeg-libjpeg"),
    "1.2.840.10008.1.2.4.70": ("JPEG lossless SV1", "pylibjpeg-libjpeg"),
    "1.2.840.10008.1.2.4.80": ("JPEG-LS lossless", "pylibjpeg-libjpeg"),
    "1.2.840.10008.1.2.4.81": ("JPEG-LS near-lossless", "pylibjpeg-libjpeg"),
    "1.2.840.10008.1.2.4.90": ("JPEG 2000 lossless", "pylibjpeg-openjpeg"),
    "1.2.840.10008.1.2.4.91": ("JPEG 2000", "pylibjpeg-openjpeg"),
    "1.2.840.10008.1.2.5": ("RLE lossless", "pylibjpeg-rle"),
}


def _decode_fix(path: str) -> tuple[str, str]:
    """(what the pixel data is, the fix) for a series SimpleITK/GDCM could not read."""
    import pydicom
    try:
        ts = str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
    except Exception:
        ts = ""
    if ts in COMPRESSED:
        name, pkg = COMPRESSED[ts]
        return (f"{name} compressed pixel data (transfer syntax {ts})",
                f"GDCM (SimpleITK) and pydicom with {pkg} decode it: check that the imaging environment is installed "
                f"(envs/imaging.yaml, `make install`), else re-export the series uncompressed")
    return (f"transfer syntax {ts or 'unknown'}", "re-export the series (complete, uncompressed or standard transfer "
            "syntax)")


def is_dicom_file(path: str | Path) -> bool:
    """True when ``path`` is a file with the DICOM preamble ("DICM" at byte 128)."""
    p = Path(path)
    if not p.is_file():
        return False
    with open(p, "rb") as fh:
        head = fh.read(132)
    return len(head) == 132 and head[128:132] == b"DICM"


def dicom_modality(path: str | Path) -> str | None:
    """The Modality tag of a DICOM file (None if not DICOM)."""
    import pydicom
    if not is_dicom_file(path):
        return None
    ds = pydicom.dcmread(str(path), stop_before_pixels=True, specific_tags=["Modality"])
    return str(ds.get("Modality", "")) or None


# ----------------------------------------------------------------------------- series


@dataclass(frozen=True)
class Series:
    """One DICOM series: its files sorted along the slice normal by GDCM, and header facts."""

    files: tuple[str, ...]
    modality: str
    frame_of_reference: str | None


def find_series(folder: str | Path, patient: str | None = None, what: str = "image") -> Series:
    """The single DICOM series in ``folder`` (never guessed: more than one is an error)."""
    import pydicom
    reader = sitk.ImageSeriesReader()
    ids = reader.GetGDCMSeriesIDs(str(folder))
    if len(ids) != 1:
        found = f" ({', '.join(ids[:5])})" if ids else ""
        raise InputError(f"{what} folder holds {len(ids)} DICOM series{found}, expected 1",
                         "point the manifest at a folder holding exactly one series (one folder per series)",
                         patient, str(folder))
    files = tuple(reader.GetGDCMSeriesFileNames(str(folder), ids[0]))
    ds = pydicom.dcmread(files[0], stop_before_pixels=True)
    return Series(files, str(ds.get("Modality", "")), ds.get("FrameOfReferenceUID"))


def read_series(folder: str | Path, patient: str | None = None, what: str = "image",
                expected_modality: str | None = None, suv: bool = False) -> sitk.Image:
    """Read a DICOM series as float32 (x, y, z), rescale slope/intercept applied per slice.

    ``expected_modality`` (e.g. ``"PT"``) is checked against the Modality tag. With ``suv``
    a PET series is converted to SUV body weight (:func:`suv_bw_factor`); a series already in
    SUV (Units ``GML``) is kept as is.
    """
    series = find_series(folder, patient, what)
    if expected_modality and series.modality != expected_modality:
        raise InputError(f"{what} folder holds a {series.modality or 'untyped'} series, expected {expected_modality}",
                         f"point {what} at the {expected_modality} series of this patient", patient, str(folder))
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(list(series.files))
    reader.SetOutputPixelType(sitk.sitkFloat32)
    try:
        img = reader.Execute()
    except RuntimeError as exc:
        last = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else "unreadable"
        data, fix = _decode_fix(series.files[0])
        raise InputError(f"{what} DICOM series cannot be read: {data} ({last})", fix, patient, str(folder)) from None
    if suv and series.modality == "PT":
        info = series_suv(series, patient)
        if info.factor != 1.0:
            img = img * info.factor
    return img


def series_suv(series: Series, patient: str | None = None) -> "SuvInfo":
    """SUV body-weight factor of a PET series: tags of its first file, acquisition times of all."""
    import pydicom
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in series.files]
    return suv_bw_factor(headers[0], patient, series.files[0],
                         acquisition_times=[_acquisition_datetime(h) for h in headers])


# ----------------------------------------------------------------------------- SUV


@dataclass(frozen=True)
class SuvInfo:
    """How a PET series becomes SUV body weight: ``suv = value (Bq/mL) * factor``.

    factor: g/Bq (1.0 when the series is already SUV); weight_kg; dose_bq (injected);
    half_life_s; delay_s (injection to the decay-correction reference time, s);
    units, decay_correction: the DICOM tags' values.
    """

    factor: float
    units: str
    decay_correction: str
    weight_kg: float | None = None
    dose_bq: float | None = None
    half_life_s: float | None = None
    delay_s: float | None = None


def _dt(date: str | None, time: str | None) -> datetime | None:
    """DICOM DA + TM (or a DT in ``time`` when ``date`` is None) as a naive datetime."""
    if not time:
        return None
    t = str(time).strip()
    if date is None:  # DT: YYYYMMDDHHMMSS.FFFFFF&ZZXX (offset ignored: same scanner clock)
        t = t.split("+")[0].split("-")[0]
        date, t = t[:8], t[8:]
    t, frac = (t.split(".") + [""])[:2]
    t = t.replace(":", "").ljust(6, "0")
    base = datetime.strptime(f"{str(date).strip()}{t[:6]}", "%Y%m%d%H%M%S")
    return base + timedelta(microseconds=int((frac + "000000")[:6]) if frac else 0)


def _acquisition_datetime(ds) -> datetime | None:
    if "AcquisitionDateTime" in ds and ds.AcquisitionDateTime:
        return _dt(None, str(ds.AcquisitionDateTime))
    date = ds.get("AcquisitionDate") or ds.get("SeriesDate")
    return _dt(str(date), str(ds.AcquisitionTime)) if date and ds.get("AcquisitionTime") else None


def _injection_delay(ds, rp, need, acquisition_times: Sequence[datetime | None], patient: str | None,
                     where: str) -> float:
    """Seconds from injection to the decay-correction reference time (the series start, or
    the earliest acquisition when earlier). ``need`` raises the missing-tag error."""
    if rp.get("RadiopharmaceuticalStartDateTime"):
        injected = _dt(None, str(rp.RadiopharmaceuticalStartDateTime))
    else:
        start = need(rp.get("RadiopharmaceuticalStartTime") or None, "RadiopharmaceuticalStartTime (0018,1072)",
                     "add the injection time")
        injected = _dt(str(need(ds.get("SeriesDate") or None, "SeriesDate (0008,0021)", "add the series date")),
                       str(start))
    ref = _dt(str(need(ds.get("SeriesDate") or None, "SeriesDate (0008,0021)", "add the series date")),
              str(need(ds.get("SeriesTime") or None, "SeriesTime (0008,0031)", "add the series time")))
    acq = [t for t in acquisition_times if t is not None]
    if acq and min(acq) < ref:
        ref = min(acq)
    delay = (ref - injected).total_seconds()
    if delay < 0 and not rp.get("RadiopharmaceuticalStartDateTime") and delay > -86400:
        delay += 86400.0  # injection before midnight, scan after: TM carries no date
    if delay < 0:
        raise InputError(f"injection time is {-delay:.0f} s after the series time",
                         "check RadiopharmaceuticalStartTime/DateTime and SeriesTime", patient, where)
    return delay


def suv_bw_factor(ds, patient: str | None = None, path: str | None = None,
                  acquisition_times: Sequence[datetime | None] = ()) -> SuvInfo:
    """SUV body-weight factor of a PET series from one of its headers (pydicom Dataset).

    ``SUVbw = C * W / D_ref`` with C the activity concentration (Bq/mL), W the weight (g,
    tag PatientWeight in kg x 1000) and D_ref the injected dose (Bq) decayed to the time the
    images are decay-corrected to:

    * ``DecayCorrection`` START: the series start, i.e. SeriesDate/SeriesTime, or the
      earliest acquisition time when that is earlier (post-processing can rewrite the series
      time; QIBA's rule): ``D_ref = D * 2 ** (-(t_ref - t_injection) / T_half)``;
    * ADMIN: already corrected to the injection: ``D_ref = D``;
    * NONE: not supported (each frame would need its own factor) -> error.

    ``Units`` BQML is converted; GML (already SUV body weight) gives factor 1; any other
    unit is an error. A missing tag is an error naming the tag.
    """
    where = path or "PET series"

    def need(value, tag: str, fix: str):
        if value is None or value == "" or (isinstance(value, (int, float)) and not math.isfinite(value)):
            raise InputError(f"PET header lacks {tag}, needed for SUV", fix, patient, where)
        return value

    units = str(ds.get("Units", "")).upper().strip()
    decay = str(ds.get("DecayCorrection", "")).upper().strip()
    if units == "GML":
        return SuvInfo(1.0, units, decay)
    if units != "BQML":
        raise InputError(f"PET Units are {units or 'missing'!r}; only BQML (Bq/mL) or GML (SUV) can be used",
                         "export the PET as activity concentration (BQML) or as SUV body weight", patient, where)
    weight = need(float(ds.PatientWeight) if ds.get("PatientWeight") not in (None, "") else None,
                  "PatientWeight (0010,1030)", "add the patient's weight in kg to the PET series")
    if weight <= 0:
        raise InputError(f"PatientWeight is {weight} kg", "add the patient's weight in kg to the PET series",
                         patient, where)
    seq = ds.get("RadiopharmaceuticalInformationSequence")
    rp = need(seq[0] if seq else None, "RadiopharmaceuticalInformationSequence (0054,0016)",
              "export the PET with its radiopharmaceutical information")
    dose = need(float(rp.RadionuclideTotalDose) if rp.get("RadionuclideTotalDose") not in (None, "") else None,
                "RadionuclideTotalDose (0018,1074)", "add the injected activity in Bq")
    if dose <= 0:
        raise InputError(f"RadionuclideTotalDose is {dose} Bq", "add the injected activity in Bq", patient, where)
    if decay == "ADMIN":
        return SuvInfo(weight * 1000.0 / dose, units, decay, weight, dose)
    if decay != "START":
        raise InputError(f"PET DecayCorrection is {decay or 'missing'!r}; START or ADMIN is needed",
                         "export the PET decay-corrected to the scan start (START) or to the injection (ADMIN)",
                         patient, where)
    half = need(float(rp.RadionuclideHalfLife) if rp.get("RadionuclideHalfLife") not in (None, "") else None,
                "RadionuclideHalfLife (0018,1075)", "add the half-life in s (18F: 6586.2)")
    delay = _injection_delay(ds, rp, need, acquisition_times, patient, where)
    dose_ref = dose * 2.0 ** (-delay / half)
    return SuvInfo(weight * 1000.0 / dose_ref, units, decay, weight, dose, half, delay)


# ----------------------------------------------------------------------------- masks


def _physical_to_index(points_xyz: np.ndarray, image: sitk.Image) -> np.ndarray:
    """Continuous (i, j, k) indices of physical points (n, 3) in mm."""
    d = np.array(image.GetDirection(), float).reshape(3, 3)
    m = d @ np.diag(image.GetSpacing())
    return np.linalg.solve(m, (points_xyz - np.array(image.GetOrigin())).T).T


def _select(names: dict[int, str], wanted: Sequence[str] | None, what: str, patient: str | None,
            path: str, key: str) -> int:
    """Number of the ROI/segment whose name is the first of ``wanted`` present (case-insensitive);
    the only one when ``wanted`` is empty."""
    lowered = {v.strip().lower(): k for k, v in names.items()}
    for w in wanted or ():
        if w.strip().lower() in lowered:
            return lowered[w.strip().lower()]
    if not wanted and len(names) == 1:
        return next(iter(names))
    listed = ", ".join(sorted(names.values())) or "none"
    raise InputError(f"{what} holds no {'segment' if what == 'SEG' else 'ROI'} named "
                     f"{' / '.join(wanted) if wanted else '(none configured)'} (it has: {listed})",
                     f"set {key} to the tumour's name", patient, path)


def rtstruct_mask(path: str | Path, reference: sitk.Image, roi_names: Sequence[str] | None = None,
                  patient: str | None = None, frame_of_reference: str | None = None) -> np.ndarray:
    """Rasterise one RTSTRUCT ROI on ``reference``'s grid -> bool (z, y, x).

    Each CLOSED_PLANAR contour (patient mm) is put on the axial slice of the reference it
    lies on (it must lie within a quarter slice of one); voxels whose centre is inside
    the polygon are set; several contours on one slice combine by even-odd rule (holes).
    """
    import pydicom
    from matplotlib.path import Path as Polygon
    p = str(path)
    try:
        rs = pydicom.dcmread(p)
    except Exception as exc:  # pydicom raises several types for a broken file
        raise InputError(f"RTSTRUCT cannot be read ({type(exc).__name__})", "re-export the structure set",
                         patient, p) from None
    if str(rs.get("Modality", "")) != "RTSTRUCT":
        raise InputError(f"file is a DICOM {rs.get('Modality', 'object')}, not an RTSTRUCT",
                         "give the RTSTRUCT (RS*.dcm) of the tumour", patient, p)
    names = {int(r.ROINumber): str(r.ROIName) for r in rs.get("StructureSetROISequence", [])}
    number = _select(names, roi_names, "RTSTRUCT", patient, p, "imaging.roi_names")
    if frame_of_reference:
        refs = {int(r.ROINumber): r.get("ReferencedFrameOfReferenceUID") for r in rs.StructureSetROISequence}
        if refs.get(number) and refs[number] != frame_of_reference:
            raise InputError(f"ROI {names[number]} is drawn in another frame of reference than the image",
                             "give the RTSTRUCT drawn on this patient's reference series", patient, p)
    contours = next((rc.get("ContourSequence", []) for rc in rs.get("ROIContourSequence", [])
                     if int(rc.ReferencedROINumber) == number), [])
    nx, ny, nz = reference.GetSize()
    mask = np.zeros((nz, ny, nx), bool)
    for c in contours:
        kind = str(c.get("ContourGeometricType", "CLOSED_PLANAR"))
        pts = np.asarray(c.ContourData, float).reshape(-1, 3)
        idx = _physical_to_index(pts, reference)
        k = int(np.rint(idx[:, 2].mean()))
        if np.abs(idx[:, 2] - k).max() > 0.25:
            raise InputError(f"a contour of ROI {names[number]} at z = {pts[0, 2]:.2f} mm does not lie on a slice "
                             "of the reference image", "give the RTSTRUCT drawn on the reference series "
                             "(or make the series it was drawn on the reference)", patient, p)
        outside = (k < 0 or k >= nz or idx[:, 0].min() < -0.5 or idx[:, 0].max() > nx - 0.5
                   or idx[:, 1].min() < -0.5 or idx[:, 1].max() > ny - 0.5)
        if outside:
            raise InputError(f"ROI {names[number]} extends outside the reference image (contour at z = "
                             f"{pts[0, 2]:.2f} mm)", "give the RTSTRUCT of this image, or a reference image that "
                             "covers the whole tumour", patient, p)
        if kind == "POINT" or len(pts) < 3:
            i, j = np.rint(idx[:, 0]).astype(int), np.rint(idx[:, 1]).astype(int)
            mask[k, j, i] = True
            continue
        ring = np.vstack([idx[:, :2], idx[:1, :2]])  # closed=True drops the last vertex: repeat the first
        # voxel centres of the polygon's bounding box only
        x0, x1 = max(int(np.floor(idx[:, 0].min())), 0), min(int(np.ceil(idx[:, 0].max())), nx - 1)
        y0, y1 = max(int(np.floor(idx[:, 1].min())), 0), min(int(np.ceil(idx[:, 1].max())), ny - 1)
        cy, cx = np.mgrid[y0:y1 + 1, x0:x1 + 1]
        inside = Polygon(ring, closed=True).contains_points(np.column_stack([cx.ravel(), cy.ravel()]).astype(float))
        mask[k, y0:y1 + 1, x0:x1 + 1] ^= inside.reshape(cy.shape)
    if not mask.any():
        raise InputError(f"ROI {names[number]} gives an empty mask on the image grid (no contour, or contours "
                         "smaller than a voxel)", "check the RTSTRUCT's contours for this ROI", patient, p)
    return mask


def seg_mask(path: str | Path, reference: sitk.Image, segment_names: Sequence[str] | None = None,
             patient: str | None = None) -> np.ndarray:
    """One segment of a DICOM SEG, resampled (nearest neighbour) onto ``reference`` -> bool (z, y, x).

    BINARY segments are used as is, FRACTIONAL ones thresholded at half the maximum value.
    The SEG's frames of the segment must be parallel and equally spaced.
    """
    import pydicom
    p = str(path)
    try:
        ds = pydicom.dcmread(p)
        frames = ds.pixel_array
    except Exception as exc:
        raise InputError(f"DICOM SEG cannot be read ({type(exc).__name__})", "re-export the segmentation",
                         patient, p) from None
    if str(ds.get("Modality", "")) != "SEG":
        raise InputError(f"file is a DICOM {ds.get('Modality', 'object')}, not a SEG",
                         "give the DICOM SEG of the tumour", patient, p)
    names = {int(s.SegmentNumber): str(s.SegmentLabel) for s in ds.SegmentSequence}
    number = _select(names, segment_names, "SEG", patient, p, "imaging.roi_names")
    frames = frames.reshape(-1, int(ds.Rows), int(ds.Columns))
    shared = ds.SharedFunctionalGroupsSequence[0]
    per = ds.PerFrameFunctionalGroupsSequence
    keep = [i for i in range(len(per)) if int(per[i].SegmentIdentificationSequence[0].ReferencedSegmentNumber) == number]

    def fg(i, name):
        item = per[i]
        return item.get(name) or shared.get(name)

    iop = np.array(fg(keep[0], "PlaneOrientationSequence")[0].ImageOrientationPatient, float)
    spacing = [float(v) for v in fg(keep[0], "PixelMeasuresSequence")[0].PixelSpacing]  # row, column
    rowdir, coldir = iop[:3], iop[3:]
    normal = np.cross(rowdir, coldir)
    pos = np.array([fg(i, "PlanePositionSequence")[0].ImagePositionPatient for i in keep], float)
    along = pos @ normal
    order = np.argsort(along)
    steps = np.diff(np.unique(np.round(along, 4)))
    dz = float(steps.min()) if len(steps) else float(fg(keep[0], "PixelMeasuresSequence")[0].get("SliceThickness", 1.0))
    if len(steps) and np.abs(steps / dz - np.rint(steps / dz)).max() > 0.05:
        raise InputError("SEG frames are not equally spaced", "export the SEG on the image series' slices",
                         patient, p)
    nz = int(np.rint((along.max() - along.min()) / dz)) + 1
    vol = np.zeros((nz, frames.shape[1], frames.shape[2]), np.uint8)
    fractional = str(ds.get("SegmentationType", "BINARY")) == "FRACTIONAL"
    top = float(ds.get("MaximumFractionalValue", 255)) if fractional else 1.0
    for o in order:
        z = int(np.rint((along[o] - along.min()) / dz))
        f = frames[keep[o]]
        vol[z] |= (f >= top / 2.0) if fractional else (f > 0)
    img = sitk.GetImageFromArray(vol)
    img.SetSpacing((spacing[1], spacing[0], dz))
    img.SetOrigin(tuple(pos[order[0]]))
    img.SetDirection(tuple(np.column_stack([rowdir, coldir, normal]).ravel()))
    out = sitk.GetArrayFromImage(sitk.Resample(img, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0))
    if not out.any():
        raise InputError(f"segment {names[number]} is empty on the image grid (outside the image?)",
                         "give the SEG of this patient's reference series", patient, p)
    return out.astype(bool)


def read_mask(path: str | Path, reference: sitk.Image, roi_names: Sequence[str] | None = None,
              patient: str | None = None, what: str = "mask") -> np.ndarray | None:
    """A DICOM RTSTRUCT/SEG mask on ``reference``'s grid, or None when ``path`` is not DICOM
    (then the caller reads it as a label image)."""
    modality = dicom_modality(path)
    if modality is None:
        return None
    if modality == "RTSTRUCT":
        return rtstruct_mask(path, reference, roi_names, patient)
    if modality == "SEG":
        return seg_mask(path, reference, roi_names, patient)
    raise InputError(f"{what} is a DICOM {modality} file, not an RTSTRUCT or SEG",
                     "give the tumour mask as RTSTRUCT, DICOM SEG, NIfTI or NRRD", patient, str(path))


def header_problems(path: str | Path, column: str, patient: str, expected_modality: str | None = None,
                    suv: bool = False, roi_names: Sequence[str] | None = None) -> list[InputError]:
    """Up-front checks of a DICOM input from headers only (no pixel data): an image folder
    holds one series of the expected modality (and, for PET converted to SUV, every tag the
    SUV needs); a mask file is an RTSTRUCT or SEG holding the configured ROI/segment."""
    import pydicom
    p = Path(path)
    try:
        if p.is_dir():
            series = find_series(p, patient, column)
            if expected_modality and series.modality != expected_modality:
                return [InputError(f"{column} folder holds a {series.modality or 'untyped'} series, expected "
                                   f"{expected_modality}", f"point {column} at the {expected_modality} series",
                                   patient, str(p))]
            if suv and series.modality == "PT":
                suv_bw_factor(pydicom.dcmread(series.files[0], stop_before_pixels=True), patient, series.files[0])
            return []
        modality = dicom_modality(p)
        if column.startswith("mask_"):
            if modality not in ("RTSTRUCT", "SEG"):
                raise InputError(f"{column} is a DICOM {modality} file, not an RTSTRUCT or SEG",
                                 "give the tumour mask as RTSTRUCT, DICOM SEG, NIfTI or NRRD", patient, str(p))
            ds = pydicom.dcmread(str(p), stop_before_pixels=True)
            if modality == "RTSTRUCT":
                names = {int(r.ROINumber): str(r.ROIName) for r in ds.get("StructureSetROISequence", [])}
            else:
                names = {int(s.SegmentNumber): str(s.SegmentLabel) for s in ds.get("SegmentSequence", [])}
            _select(names, roi_names, modality, patient, str(p), "imaging.roi_names")
        return []
    except InputError as err:
        return [err]
    except Exception as exc:  # pydicom's errors for truncated / non-DICOM content
        return [InputError(f"{column} cannot be read as DICOM ({type(exc).__name__})",
                           "re-export the file or series", patient, str(p))]
