"""Write DICOM phantoms: CT and PET series, RTSTRUCT and SEG masks (pydicom).

For tests and demos of the DICOM path: the series carry realistic tags (rescale per
slice, PET Units / DecayCorrection / radiopharmaceutical sequence) and identifiers given
by the caller, so a test can check SUV values by hand and grep every output for the
identifiers. Geometry: arrays are (z, y, x); spacing and origin are (x, y, z) in mm; the
direction is axial (identity) unless ``direction`` is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Identity:
    """What identifies a patient in DICOM headers (and must never reach an output)."""

    patient_name: str = "Phantom^Patient"
    patient_id: str = "PHANTOM-0001"
    birth_date: str = "19500101"
    institution: str = "Phantom Hospital"
    accession: str = "ACC0001"
    study_date: str = "20240301"


@dataclass(frozen=True)
class PetTags:
    """Radiopharmaceutical facts of a PET series (FDG by default).

    weight_kg; dose_bq injected at ``injection_time`` (HHMMSS); ``series_time`` (HHMMSS);
    half_life_s; units BQML or GML; decay_correction START or ADMIN.
    """

    weight_kg: float | None = 70.0
    dose_bq: float | None = 370e6
    injection_time: str | None = "100000"
    series_time: str = "110000"
    half_life_s: float | None = 6586.2
    units: str = "BQML"
    decay_correction: str = "START"


def _uid() -> str:
    from pydicom.uid import generate_uid
    return generate_uid()


def _base(modality: str, sop_class: str, ident: Identity, study_uid: str, series_uid: str, for_uid: str):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = _uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = ident.patient_name, ident.patient_id, ident.birth_date
    ds.InstitutionName, ds.AccessionNumber = ident.institution, ident.accession
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ident.study_date
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, for_uid
    ds.StudyID, ds.SeriesNumber = "1", 1
    return ds


@dataclass(frozen=True)
class SeriesRef:
    """What an RTSTRUCT/SEG needs of the series it refers to."""

    study_uid: str
    series_uid: str
    frame_of_reference: str
    sop_uids: tuple[str, ...]


def write_series(arr_zyx: np.ndarray, spacing_xyz: Sequence[float], origin_xyz: Sequence[float], outdir: str | Path,
                 modality: str = "CT", ident: Identity = Identity(), pet: PetTags | None = None,
                 study_uid: str | None = None, frame_of_reference: str | None = None,
                 direction: Sequence[float] | None = None) -> SeriesRef:
    """One file per axial slice. CT: int16 with RescaleIntercept -1024 (values in HU). PET:
    uint16 with a per-slice RescaleSlope so each slice uses the full range; values are
    Bq/mL for Units BQML (give ``arr`` in Bq/mL) or SUV for GML. Files are written in
    reverse slice order with shuffled names so readers must sort by position."""
    from pydicom.uid import CTImageStorage, PositronEmissionTomographyImageStorage
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    study_uid, series_uid = study_uid or _uid(), _uid()
    for_uid = frame_of_reference or _uid()
    d = np.array(direction if direction is not None else np.eye(3).ravel(), float).reshape(3, 3)
    sop_class = CTImageStorage if modality == "CT" else PositronEmissionTomographyImageStorage
    uids = []
    nz = arr_zyx.shape[0]
    for z in range(nz):
        ds = _base(modality, sop_class, ident, study_uid, series_uid, for_uid)
        pos = np.asarray(origin_xyz, float) + d[:, 2] * z * float(spacing_xyz[2])
        ds.ImagePositionPatient = [f"{v:.6f}" for v in pos]
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in np.concatenate([d[:, 0], d[:, 1]])]
        ds.PixelSpacing = [f"{spacing_xyz[1]:.6f}", f"{spacing_xyz[0]:.6f}"]  # row spacing (y), column spacing (x)
        ds.SliceThickness = f"{spacing_xyz[2]:.6f}"
        ds.InstanceNumber = z + 1
        ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = (pet.series_time if pet else "110000")
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = arr_zyx.shape[1], arr_zyx.shape[2]
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        plane = np.asarray(arr_zyx[z], float)
        if modality == "CT":
            ds.PixelRepresentation = 1
            ds.RescaleIntercept, ds.RescaleSlope = "-1024", "1"
            ds.PixelData = np.rint(plane + 1024).astype(np.int16).tobytes()
        else:
            ds.PixelRepresentation = 0
            slope = max(float(plane.max()), 1e-6) / 32000.0
            ds.RescaleIntercept, ds.RescaleSlope = "0", f"{slope:.10g}"
            ds.PixelData = np.rint(plane / float(ds.RescaleSlope)).astype(np.uint16).tobytes()
            if pet is not None:
                ds.Units, ds.DecayCorrection = pet.units, pet.decay_correction
                if pet.weight_kg is not None:
                    ds.PatientWeight = f"{pet.weight_kg:g}"
                from pydicom.dataset import Dataset
                rp = Dataset()
                rp.Radiopharmaceutical = "FDG -- fluorodeoxyglucose"
                if pet.injection_time is not None:
                    rp.RadiopharmaceuticalStartTime = pet.injection_time
                if pet.dose_bq is not None:
                    rp.RadionuclideTotalDose = f"{pet.dose_bq:.6g}"
                if pet.half_life_s is not None:
                    rp.RadionuclideHalfLife = f"{pet.half_life_s:g}"
                ds.RadiopharmaceuticalInformationSequence = [rp]
        uids.append(ds.SOPInstanceUID)
        ds.save_as(out / f"{(nz - z) * 7919 % 100003:06d}.dcm", enforce_file_format=True)
    return SeriesRef(study_uid, series_uid, for_uid, tuple(uids))


def mask_contours(mask_yx: np.ndarray) -> list[np.ndarray]:
    """Closed polygons (k, 2) in (column, row) index units whose insides hold exactly the
    mask's voxel centres: the 0.5 iso-line of the zero-padded slice (marching squares)."""
    import contourpy
    padded = np.pad(mask_yx.astype(float), 1)
    lines = contourpy.contour_generator(z=padded, line_type="Separate").lines(0.5)
    return [np.asarray(line, float)[:, :2] - 1.0 for line in lines if len(line) >= 3]


def write_rtstruct(mask_zyx: np.ndarray, spacing_xyz: Sequence[float], origin_xyz: Sequence[float],
                   ref: SeriesRef, out: str | Path, roi_name: str = "GTV", ident: Identity = Identity(),
                   extra_rois: Sequence[str] = (), polygons: dict[int, list[np.ndarray]] | None = None) -> None:
    """RTSTRUCT with the mask's contours (axial, identity direction). ``polygons`` (slice ->
    list of (k, 2) arrays in mm, x and y) replaces the mask's own contours when given;
    ``extra_rois`` adds empty ROIs of those names (to test ROI selection)."""
    from pydicom.dataset import Dataset
    from pydicom.uid import RTStructureSetStorage
    ds = _base("RTSTRUCT", RTStructureSetStorage, ident, ref.study_uid, _uid(), ref.frame_of_reference)
    ds.StructureSetLabel, ds.StructureSetDate, ds.StructureSetTime = "tumour", ident.study_date, "120000"
    rois, contours_seq, obs = [], [], []
    for number, name in enumerate([roi_name, *extra_rois], start=1):
        r = Dataset()
        r.ROINumber, r.ROIName, r.ReferencedFrameOfReferenceUID = number, name, ref.frame_of_reference
        r.ROIGenerationAlgorithm = "MANUAL"
        rois.append(r)
        rc = Dataset()
        rc.ReferencedROINumber, rc.ROIDisplayColor = number, [255, 0, 0]
        items = []
        if number == 1:
            per_slice = polygons if polygons is not None else {
                z: [np.column_stack([origin_xyz[0] + c[:, 0] * spacing_xyz[0], origin_xyz[1] + c[:, 1] * spacing_xyz[1]])
                    for c in mask_contours(mask_zyx[z])]
                for z in range(mask_zyx.shape[0]) if mask_zyx[z].any()}
            for z, polys in sorted(per_slice.items()):
                zmm = origin_xyz[2] + z * spacing_xyz[2]
                for poly in polys:
                    c = Dataset()
                    c.ContourGeometricType, c.NumberOfContourPoints = "CLOSED_PLANAR", len(poly)
                    c.ContourData = [f"{v:.4f}" for xy in poly for v in (xy[0], xy[1], zmm)]
                    ci = Dataset()
                    ci.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
                    ci.ReferencedSOPInstanceUID = ref.sop_uids[z]
                    c.ContourImageSequence = [ci]
                    items.append(c)
        rc.ContourSequence = items
        contours_seq.append(rc)
        o = Dataset()
        o.ObservationNumber, o.ReferencedROINumber, o.RTROIInterpretedType = number, number, "GTV"
        obs.append(o)
    ds.StructureSetROISequence, ds.ROIContourSequence, ds.RTROIObservationsSequence = rois, contours_seq, obs
    fr, st, se = Dataset(), Dataset(), Dataset()  # the referenced series, as planning systems write it
    se.SeriesInstanceUID = ref.series_uid
    st.ReferencedSOPClassUID, st.ReferencedSOPInstanceUID = "1.2.840.10008.3.1.2.3.1", ref.study_uid
    st.RTReferencedSeriesSequence = [se]
    fr.FrameOfReferenceUID, fr.RTReferencedStudySequence = ref.frame_of_reference, [st]
    ds.ReferencedFrameOfReferenceSequence = [fr]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(out), enforce_file_format=True)


def write_seg(mask_zyx: np.ndarray, spacing_xyz: Sequence[float], origin_xyz: Sequence[float], ref: SeriesRef,
              out: str | Path, segment_label: str = "GTV", ident: Identity = Identity()) -> None:
    """Binary DICOM SEG of the mask: one frame per slice holding tumour (axial, identity)."""
    from pydicom.dataset import Dataset
    from pydicom.uid import SegmentationStorage
    ds = _base("SEG", SegmentationStorage, ident, ref.study_uid, _uid(), ref.frame_of_reference)
    zs = [z for z in range(mask_zyx.shape[0]) if mask_zyx[z].any()]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = mask_zyx.shape[1], mask_zyx.shape[2]
    ds.BitsAllocated = ds.BitsStored = 1
    ds.HighBit, ds.PixelRepresentation = 0, 0
    ds.SegmentationType, ds.NumberOfFrames = "BINARY", len(zs)
    seg = Dataset()
    seg.SegmentNumber, seg.SegmentLabel, seg.SegmentAlgorithmType = 1, segment_label, "MANUAL"
    ds.SegmentSequence = [seg]
    shared = Dataset()
    po, pm = Dataset(), Dataset()
    po.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    pm.PixelSpacing = [f"{spacing_xyz[1]:.6f}", f"{spacing_xyz[0]:.6f}"]
    pm.SliceThickness = f"{spacing_xyz[2]:.6f}"
    shared.PlaneOrientationSequence, shared.PixelMeasuresSequence = [po], [pm]
    ds.SharedFunctionalGroupsSequence = [shared]
    frames = []
    for z in zs:
        f, pp, si = Dataset(), Dataset(), Dataset()
        pp.ImagePositionPatient = [f"{origin_xyz[0]:.6f}", f"{origin_xyz[1]:.6f}",
                                   f"{origin_xyz[2] + z * spacing_xyz[2]:.6f}"]
        si.ReferencedSegmentNumber = 1
        f.PlanePositionSequence, f.SegmentIdentificationSequence = [pp], [si]
        frames.append(f)
    ds.PerFrameFunctionalGroupsSequence = frames
    rs = Dataset()  # the series the segmentation was drawn on
    rs.SeriesInstanceUID = ref.series_uid
    ds.ReferencedSeriesSequence = [rs]
    from pydicom.pixels import pack_bits
    ds.PixelData = pack_bits(mask_zyx[zs].astype(np.uint8))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(out), enforce_file_format=True)
