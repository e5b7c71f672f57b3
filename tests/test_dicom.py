"""DICOM ingestion: SUV body weight by hand, series reading, RTSTRUCT / SEG -> masks, the whole
PET/CT phantom through preprocessing and slicing, orientation invariance, real STS data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk
from hypothesis import given, settings
from hypothesis import strategies as st

from dlscore.dicom import header_problems, read_mask, read_series, rtstruct_mask, seg_mask, suv_bw_factor
from dlscore.cohorts.dicom_phantom import Identity, PetTags, write_rtstruct, write_seg, write_series
from dlscore.errors import InputError

from .conftest import SHARED_DATA

SP, ORG = (1.5, 2.0, 3.0), (-30.0, 12.0, -600.0)  # mm (x, y, z)
IDENT = Identity(patient_name="Zqxjkv^Wumple", patient_id="MRN-7731-QZ", birth_date="19230417",
                 institution="Vrtnik Memorial Hospital", accession="ACC-99172")


def _pet_header(**tags) -> pydicom.Dataset:
    ds = pydicom.Dataset()
    ds.Units, ds.DecayCorrection, ds.PatientWeight = "BQML", "START", "70"
    ds.SeriesDate, ds.SeriesTime = "20240301", "110000"
    rp = pydicom.Dataset()
    rp.RadiopharmaceuticalStartTime, rp.RadionuclideTotalDose, rp.RadionuclideHalfLife = "100000", "370000000", "6586.2"
    ds.RadiopharmaceuticalInformationSequence = [rp]
    for k, v in tags.items():
        target = rp if k.startswith("Radio") and k != "RadiopharmaceuticalInformationSequence" else ds
        if v is None:
            delattr(target, k)
        else:
            setattr(target, k, v)
    return ds


# ----------------------------------------------------------------------------- SUV


def test_suv_factor_start_by_hand():
    # 70 kg, 370 MBq at 10:00, series at 11:00, 18F half-life 6586.2 s:
    # dose at 11:00 = 370e6 * 2**(-3600 / 6586.2) = 370e6 * 0.684633 = 253.314 MBq;
    # SUV = C * 70,000 g / 253.314e6 Bq -> factor 2.763367e-4 g/Bq; 10 kBq/mL -> SUV 2.763
    info = suv_bw_factor(_pet_header())
    assert info.factor == pytest.approx(2.763367e-4, rel=1e-6)
    assert 10_000 * info.factor == pytest.approx(2.763, abs=5e-4)
    assert info.delay_s == 3600 and info.weight_kg == 70 and info.half_life_s == 6586.2


def test_suv_factor_admin_gml_and_acquisition_before_series_time():
    assert suv_bw_factor(_pet_header(DecayCorrection="ADMIN")).factor == pytest.approx(70_000 / 370e6)
    assert suv_bw_factor(_pet_header(Units="GML")).factor == 1.0
    # series time rewritten after the scan: the earliest acquisition (10:50) is the reference
    from datetime import datetime
    info = suv_bw_factor(_pet_header(), acquisition_times=[datetime(2024, 3, 1, 10, 50), datetime(2024, 3, 1, 10, 55)])
    assert info.delay_s == 3000 and info.factor == pytest.approx(70_000 / (370e6 * 2 ** (-3000 / 6586.2)))


def test_suv_injection_before_midnight_and_datetime_tag():
    info = suv_bw_factor(_pet_header(RadiopharmaceuticalStartTime="235000", SeriesTime="004000"))
    assert info.delay_s == 50 * 60
    info = suv_bw_factor(_pet_header(RadiopharmaceuticalStartDateTime="20240301101500.000000"))
    assert info.delay_s == 45 * 60


@pytest.mark.parametrize("tags, expect", [
    ({"PatientWeight": None}, "PatientWeight (0010,1030)"),
    ({"RadionuclideTotalDose": None}, "RadionuclideTotalDose (0018,1074)"),
    ({"RadionuclideHalfLife": None}, "RadionuclideHalfLife (0018,1075)"),
    ({"RadiopharmaceuticalStartTime": None}, "RadiopharmaceuticalStartTime (0018,1072)"),
    ({"RadiopharmaceuticalInformationSequence": None}, "RadiopharmaceuticalInformationSequence"),
    ({"Units": "CNTS"}, "Units are 'CNTS'"),
    ({"DecayCorrection": "NONE"}, "DecayCorrection is 'NONE'"),
    ({"PatientWeight": "0"}, "PatientWeight is 0.0 kg"),
])
def test_suv_missing_or_wrong_tags_name_the_tag(tags, expect):
    with pytest.raises(InputError) as e:
        suv_bw_factor(_pet_header(**tags), "P7", "/x/pet/001.dcm")
    msg = str(e.value)
    assert expect in msg and "patient P7" in msg and "/x/pet/001.dcm" in msg and "Fix:" in msg


# ----------------------------------------------------------------------------- series


@pytest.fixture(scope="module")
def petct(tmp_path_factory):
    """A PET/CT phantom: a 9 x 7 x 3-voxel tumour box of 12,000 Bq/mL (background 2,000) and
    +40 HU (background -100), an RTSTRUCT drawn by hand as a rectangle in mm, and a SEG."""
    d = tmp_path_factory.mktemp("petct")
    shape = (8, 24, 30)
    ct = np.full(shape, -100.0)
    pet = np.full(shape, 2000.0)
    box = (slice(2, 5), slice(6, 13), slice(10, 19))  # z 2-4, y 6-12, x 10-18
    ct[box], pet[box] = 40.0, 12000.0
    mask = np.zeros(shape, bool)
    mask[box] = True
    ref = write_series(ct, SP, ORG, d / "CT", "CT", IDENT)
    write_series(pet, SP, ORG, d / "PET", "PT", IDENT, PetTags(), study_uid=ref.study_uid,
                 frame_of_reference=ref.frame_of_reference)
    # rectangle through voxel edges: x from index 9.5 to 18.5, y from 5.5 to 12.5 (in mm)
    rect = np.array([[ORG[0] + 9.5 * SP[0], ORG[1] + 5.5 * SP[1]], [ORG[0] + 18.5 * SP[0], ORG[1] + 5.5 * SP[1]],
                     [ORG[0] + 18.5 * SP[0], ORG[1] + 12.5 * SP[1]], [ORG[0] + 9.5 * SP[0], ORG[1] + 12.5 * SP[1]]])
    write_rtstruct(mask, SP, ORG, ref, d / "RS.dcm", "GTV_Mass", IDENT, extra_rois=["Body", "Spinal cord"],
                   polygons={z: [rect] for z in (2, 3, 4)})
    write_seg(mask, SP, ORG, ref, d / "SEG.dcm", "Tumour", IDENT)
    return d, ct, pet, mask


def test_series_values_geometry_and_per_slice_rescale(petct):
    d, ct, pet, _ = petct
    img = read_series(d / "CT", expected_modality="CT")
    assert img.GetSize() == (30, 24, 8) and img.GetSpacing() == pytest.approx(SP) and img.GetOrigin() == pytest.approx(ORG)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(img), ct)
    raw = sitk.GetArrayFromImage(read_series(d / "PET"))  # no SUV: Bq/mL, each slice its own slope
    np.testing.assert_allclose(raw, pet, rtol=1e-4)
    suv = sitk.GetArrayFromImage(read_series(d / "PET", suv=True))
    np.testing.assert_allclose(suv[3, 8, 12], 12000 * 2.763367e-4, rtol=1e-4)  # 3.316
    np.testing.assert_allclose(suv[0, 0, 0], 2000 * 2.763367e-4, rtol=1e-4)   # 0.553


def test_series_selection_errors(petct, tmp_path):
    d, ct, _, _ = petct
    with pytest.raises(InputError, match="holds a CT series, expected PT"):
        read_series(d / "CT", "P1", "image_pet", expected_modality="PT")
    two = tmp_path / "two"
    write_series(ct[:2], SP, ORG, two, "CT")
    write_series(ct[:2], SP, ORG, tmp_path / "other", "CT")
    for f in (tmp_path / "other").glob("*.dcm"):
        f.rename(two / f"b{f.name}")
    with pytest.raises(InputError, match="holds 2 DICOM series"):
        read_series(two, "P1", "image_ct")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds 0 DICOM series"):
        read_series(tmp_path / "empty", "P1", "image_ct")


def test_rtstruct_rectangle_by_hand_and_roi_selection(petct):
    d, _, _, mask = petct
    ref = read_series(d / "CT")
    m = rtstruct_mask(d / "RS.dcm", ref, ["gtv", "gtv_mass"], "P1")  # first configured name found, any case
    assert m.shape == mask.shape and m.sum() == 9 * 7 * 3
    np.testing.assert_array_equal(m, mask)
    with pytest.raises(InputError) as e:
        rtstruct_mask(d / "RS.dcm", ref, None, "P1")
    assert "it has: Body, GTV_Mass, Spinal cord" in str(e.value) and "imaging.roi_names" in str(e.value)
    with pytest.raises(InputError, match="gives an empty mask"):
        rtstruct_mask(d / "RS.dcm", ref, ["Body"], "P1")


def test_rtstruct_from_mask_contours_with_a_hole(tmp_path):
    shape = (3, 20, 20)
    mask = np.zeros(shape, bool)
    yy, xx = np.mgrid[:20, :20]
    mask[1] = (yy - 10) ** 2 + (xx - 9) ** 2 <= 36
    mask[1, 9:12, 8:11] = False  # a hole: two nested contours, combined by even-odd
    ref = write_series(np.zeros(shape), SP, ORG, tmp_path / "CT", "CT")
    write_rtstruct(mask, SP, ORG, ref, tmp_path / "RS.dcm", "GTV")
    np.testing.assert_array_equal(rtstruct_mask(tmp_path / "RS.dcm", read_series(tmp_path / "CT")), mask)


def test_rtstruct_geometry_errors(petct, tmp_path):
    d, _, _, mask = petct
    ref = read_series(d / "CT")
    shifted = sitk.Image(ref)
    shifted.SetOrigin((ORG[0], ORG[1], ORG[2] + 1.5))  # contours now between two slices
    with pytest.raises(InputError, match="does not lie on a slice"):
        rtstruct_mask(d / "RS.dcm", shifted, ["GTV_Mass"], "P1")
    small = sitk.Image(ref)
    small.SetOrigin((ORG[0] + 20 * SP[0], ORG[1], ORG[2]))  # image moved: tumour partly outside
    with pytest.raises(InputError, match="extends outside the reference image"):
        rtstruct_mask(d / "RS.dcm", small, ["GTV_Mass"], "P1")
    ct_file = sorted((d / "CT").glob("*.dcm"))[0]
    with pytest.raises(InputError, match="is a DICOM CT file, not an RTSTRUCT or SEG"):
        read_mask(ct_file, ref, patient="P1", what="mask_r1")


def test_seg_roundtrip_and_selection(petct):
    d, _, _, mask = petct
    ref = read_series(d / "CT")
    np.testing.assert_array_equal(seg_mask(d / "SEG.dcm", ref), mask)  # one segment: no name needed
    np.testing.assert_array_equal(read_mask(d / "SEG.dcm", ref, ["tumour"]), mask)
    with pytest.raises(InputError, match="no segment named Liver"):
        seg_mask(d / "SEG.dcm", ref, ["Liver"], "P1")


def test_header_problems_up_front(petct, tmp_path):
    d, _, pet, _ = petct
    assert header_problems(d / "PET", "image_pet", "P1", "PT", suv=True) == []
    assert header_problems(d / "RS.dcm", "mask_r1", "P1", roi_names=["GTV_Mass"]) == []
    nodose = tmp_path / "PET"
    write_series(pet[:2], SP, ORG, nodose, "PT", pet=PetTags(dose_bq=None))
    (p,) = header_problems(nodose, "image_pet", "P1", "PT", suv=True)
    assert "RadionuclideTotalDose" in p.line() and "patient P1" in p.line()
    (p,) = header_problems(d / "RS.dcm", "mask_r1", "P1", roi_names=["GTV"])
    assert "no ROI named GTV" in p.line()
    (p,) = header_problems(d / "CT", "image_pet", "P1", "PT")
    assert "holds a CT series, expected PT" in p.line()


# ----------------------------------------------------------------------------- through the stages


def _config(tmp_path) -> dict:
    from dlscore.config import load_config
    return load_config()


def test_phantom_through_preprocessing_and_slicing(petct, tmp_path):
    """ingestion -> SUV -> co-gridding -> RTSTRUCT mask -> slices, values checked by hand;
    no identifier of the DICOM headers in any output."""
    from dlscore.steps import preprocess
    d, _, _, _ = petct
    cfg = _config(tmp_path)
    cfg["imaging"]["roi_names"] = ["GTV_Mass"]
    man = pd.DataFrame([{"patient_id": "PSEUDO-01", "cohort": "A", "role": "ici", "label": 1,
                         "image_pet": str(d / "PET"), "image_ct": str(d / "CT"), "mask_r1": str(d / "RS.dcm"),
                         "mask_r2": str(d / "SEG.dcm")}])
    man.to_csv(tmp_path / "m.csv", index=False)
    cfg["imaging"]["roi_names"] = ["GTV_Mass", "Tumour"]
    from dlscore.manifest import read_manifest, validate_manifest
    v = validate_manifest(read_manifest(tmp_path / "m.csv"), ["pet", "ct"], ["r1", "r2"], tmp_path,
                          reference="ct", suv_modality="pet", roi_names=["GTV_Mass", "Tumour"])
    v["split"] = "ici"
    v.to_parquet(tmp_path / "v.parquet")
    preprocess.imaging(cfg, str(tmp_path / "m.csv"), "PSEUDO-01", str(tmp_path / "pre"), str(tmp_path / "sl"))
    preprocess.qc_montages(cfg, ["PSEUDO-01"], [str(tmp_path / "pre")], [str(tmp_path / "sl")], str(tmp_path / "qc"))
    qc = json.loads((tmp_path / "pre" / "qc.json").read_text())
    assert qc["tumour_volume_ml"] == pytest.approx(9 * 7 * 3 * 1.5 * 2.0 * 3.0 / 1000)  # 1.134 mL
    assert qc["suv_max"] == pytest.approx(12000 * 2.763367e-4, rel=1e-4)  # 3.316
    assert qc["tumour_slices"] == 3 and qc["kept_slices_r1"] == 3 and qc["kept_slices_r2"] == 3
    assert qc["suv_conversion"].startswith("DICOM BQML") and "60 min after injection" in qc["suv_conversion"]
    r1 = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "pre" / "mask_r1.nii.gz")))
    r2 = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "pre" / "mask_r2.nii.gz")))
    np.testing.assert_array_equal(r1, r2)  # RTSTRUCT and SEG of the same tumour agree
    from dlscore.slices import SliceSet
    ss = SliceSet.load(tmp_path / "sl" / "r1.npz")
    assert ss.images.shape == (3, 3, 64, 64)
    np.testing.assert_allclose(ss.z_mm, ORG[2] + SP[2] * np.array([2, 3, 4]))
    # square centre: voxel-edge box x 9.5..18.5, y 5.5..12.5 -> centre index (14, 9)
    np.testing.assert_allclose(ss.centre_mm[0, :2], [ORG[0] + 14 * SP[0], ORG[1] + 9 * SP[1]])
    # centre pixel of the PET channel: SUV 3.316 windowed to [0, 15] -> 0.221
    assert ss.images[1, 0, 32, 32] == pytest.approx(12000 * 2.763367e-4 / 15, abs=2e-3)
    assert (tmp_path / "qc" / "PSEUDO-01.png").stat().st_size > 5000
    _assert_no_identifier(tmp_path / "pre", tmp_path / "sl", tmp_path / "qc")


def _assert_no_identifier(*roots: Path) -> None:
    """No DICOM identifier of :data:`IDENT` in any file under ``roots`` (raw bytes, also UTF-16)."""
    needles = [IDENT.patient_name, IDENT.patient_name.replace("^", " "), IDENT.patient_id, IDENT.birth_date,
               IDENT.institution, IDENT.accession]
    for root in roots:
        for f in Path(root).rglob("*"):
            if f.is_file():
                data = f.read_bytes()
                for n in needles:
                    assert n.encode() not in data and n.encode("utf-16-le") not in data, (n, f)


@settings(max_examples=20, deadline=None)
@given(perm=st.permutations([0, 1, 2]), flips=st.tuples(st.booleans(), st.booleans(), st.booleans()),
       origin=st.tuples(*[st.floats(-500, 500)] * 3))
def test_slices_do_not_depend_on_orientation_conventions(perm, flips, origin):
    """The same physical tumour stored with axes permuted/flipped and any origin gives the
    same canonical volume, hence the same hyper-images."""
    from dlscore.preprocess import canonical
    from dlscore.slices import extract_slices
    rng = np.random.default_rng(3)
    arr = rng.random((6, 12, 10)).astype(np.float32)  # (z, y, x)
    mask = np.zeros(arr.shape, np.uint8)
    mask[2:5, 3:8, 2:6] = 1
    sp = (0.8, 1.1, 2.5)

    def image(a):
        im = sitk.GetImageFromArray(a)
        im.SetSpacing(sp)
        im.SetOrigin(origin)
        return im

    def restored(im):
        # same physical content, another index order: permute/flip the index axes and
        # compensate with direction and origin (sitk.PermuteAxes / Flip keep physical space)
        im = sitk.PermuteAxes(im, list(perm))
        return sitk.Flip(im, list(flips))

    ref = {k: canonical(image(a)) for k, a in (("ct", arr), ("mask", mask))}
    alt = {k: canonical(restored(image(a))) for k, a in (("ct", arr), ("mask", mask))}
    for k in ref:
        np.testing.assert_array_equal(sitk.GetArrayFromImage(alt[k]), sitk.GetArrayFromImage(ref[k]))
        assert alt[k].GetOrigin() == pytest.approx(ref[k].GetOrigin())
        assert alt[k].GetSpacing() == pytest.approx(ref[k].GetSpacing())
    a = extract_slices({"ct": sitk.GetArrayFromImage(alt["ct"])}, sitk.GetArrayFromImage(alt["mask"]).astype(bool),
                       alt["ct"].GetSpacing(), ["ct"], size=16, origin_xyz=alt["ct"].GetOrigin(),
                       direction=alt["ct"].GetDirection())
    b = extract_slices({"ct": arr}, mask.astype(bool), sp, ["ct"], size=16, origin_xyz=origin)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_allclose(a.centre_mm, b.centre_mm, atol=1e-6)


# ----------------------------------------------------------------------------- real data

STS = SHARED_DATA / "sts_petct"


@pytest.mark.skipif(not STS.exists(), reason=f"real STS PET/CT DICOM not found at {STS} (see ../shared/data/README.md)")
def test_real_sts_petct_dicom_rtstruct():
    """3 real patients: RTSTRUCT on the CT and on the PET grid give the same tumour volume
    (within 3 %), PET (already SUV, Units GML) goes onto the CT grid, hyper-images are cut."""
    from dlscore.preprocess import cogrid
    from dlscore.slices import extract_slices
    for pid in ("STS_001", "STS_002", "STS_003"):
        base = STS / pid
        ct = read_series(base / "CT/dicom/image", pid, "image_ct", "CT")
        pet = read_series(base / "PET/dicom/image", pid, "image_pet", "PT", suv=True)
        m_ct = rtstruct_mask(base / "CT/dicom/mask/RS.dcm", ct, None, pid)
        m_pet = rtstruct_mask(base / "PET/dicom/mask/RS.dcm", pet, None, pid)
        v_ct = m_ct.sum() * np.prod(ct.GetSpacing()) / 1000
        v_pet = m_pet.sum() * np.prod(pet.GetSpacing()) / 1000
        assert v_ct == pytest.approx(v_pet, rel=0.03), pid
        grid = cogrid({"ct": ct, "pet": pet}, "ct")
        suv = sitk.GetArrayFromImage(grid["pet"])
        assert 1.0 < suv[m_ct].max() <= sitk.GetArrayFromImage(pet).max() + 1e-4
        vols = {"ct": np.clip((sitk.GetArrayFromImage(grid["ct"]) + 1000) / 1400, 0, 1), "pet": np.clip(suv / 15, 0, 1)}
        ss = extract_slices(vols, m_ct, ct.GetSpacing(), ["pet", "ct", "fusion"])
        assert len(ss.z_index) >= 3 and ss.images.shape[1:] == (3, 64, 64)
