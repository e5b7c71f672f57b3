import numpy as np
import pytest
import SimpleITK as sitk

from dlscore.errors import InputError
from dlscore.io import read_image, write_image
from dlscore.preprocess import check_mask, cogrid, normalise, zscore_region


def _img(arr, spacing=(1.0, 1.0, 2.0), origin=(0.0, 0.0, 0.0)):
    im = sitk.GetImageFromArray(arr)
    im.SetSpacing(spacing)
    im.SetOrigin(origin)
    return im


def test_mask_geometry_mismatch_names_file_and_amount():
    ref = _img(np.zeros((4, 10, 10), np.float32))
    mask = _img(np.ones((4, 10, 10), np.uint8), origin=(0.0, 0.5, 0.0))
    with pytest.raises(InputError) as e:
        check_mask(mask, ref, "P1", "/data/P1_mask.nii.gz")
    msg = str(e.value)
    assert "patient P1" in msg and "/data/P1_mask.nii.gz" in msg and "origin differs by 0.500 mm" in msg


@pytest.mark.parametrize("arr, expect", [
    (np.zeros((4, 10, 10), np.uint8), "mask is empty"),
    (np.full((4, 10, 10), 2, np.uint8), "labels [2]"),
])
def test_bad_mask_values(arr, expect):
    with pytest.raises(InputError, match=expect.replace("[", r"\[").replace("]", r"\]")):
        check_mask(_img(arr), _img(np.zeros((4, 10, 10), np.float32)), "P", "m.nii.gz")


def test_pet_is_put_on_the_ct_grid_in_physical_space():
    ct = _img(np.zeros((10, 40, 40), np.float32), spacing=(1.0, 1.0, 2.0))
    pet_arr = np.zeros((10, 10, 10), np.float32)
    pet_arr[:, :, 5:] = 10.0  # uptake for x >= 5 * 4 mm = 20 mm (minus half a voxel)
    pet = _img(pet_arr, spacing=(4.0, 4.0, 2.0), origin=(-1.5, -1.5, 0.0))
    g = cogrid({"ct": ct, "pet": pet}, "ct")
    assert g["pet"].GetSize() == ct.GetSize() and g["pet"].GetSpacing() == ct.GetSpacing()
    row = sitk.GetArrayFromImage(g["pet"])[5, 20]
    assert row[10] == pytest.approx(0.0) and row[30] == pytest.approx(10.0)
    assert 0 < row[16] < 10  # linear transition around x = 16.5 mm


def test_normalise_window_and_zscore():
    a = np.array([-2000.0, -1000.0, -300.0, 400.0, 3000.0])
    np.testing.assert_allclose(normalise(a, "window", -1000, 400), [0, 0, 0.5, 1, 1])
    z = normalise(np.arange(10.0), "zscore", mask=np.ones(10, bool))
    assert z.mean() == pytest.approx(0.5, abs=1e-6)


def test_zscore_region_otsu_ignores_the_noisy_background():
    """A 'head' of intensity ~100 in a field of view of noise ~3: above_minimum takes nearly
    every voxel (noise included), Otsu only the head, so the head's z-score no longer depends on
    how much air surrounds it; the tumour is left out on request."""
    rng = np.random.default_rng(0)
    a = np.abs(rng.normal(0, 3, (8, 40, 40)))
    head = np.zeros(a.shape, bool)
    head[:, 10:30, 10:30] = True
    a[head] = rng.normal(100, 10, head.sum())
    tumour = np.zeros(a.shape, bool)
    tumour[3:5, 18:22, 18:22] = True
    a[tumour] += 50
    assert zscore_region(a).mean() > 0.99
    otsu = zscore_region(a, "otsu")
    assert (otsu == head).all()
    assert (zscore_region(a, "otsu", tumour) == (head & ~tumour)).all()
    wider = np.pad(a, ((0, 0), (20, 20), (20, 20)), constant_values=1.0)  # more air, same head
    z1 = normalise(a, "zscore", mask=zscore_region(a, "otsu"))[head]
    z2 = normalise(wider, "zscore", mask=zscore_region(wider, "otsu"))[np.pad(head, ((0, 0), (20, 20), (20, 20)))]
    np.testing.assert_allclose(z1, z2, atol=1e-6)
    assert zscore_region(np.zeros((2, 2)), "otsu").all()  # empty region: every voxel
    with pytest.raises(ValueError, match="z-score region"):
        zscore_region(a, "brain")


def test_unreadable_file_gives_one_clear_error(tmp_path):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not a nifti")
    with pytest.raises(InputError) as e:
        read_image(bad, "P7", "image_ct")
    assert "patient P7" in str(e.value) and "cannot be read" in str(e.value) and "Fix:" in str(e.value)
    with pytest.raises(InputError, match="does not exist"):
        read_image(tmp_path / "missing.nii.gz", "P7")


def test_written_images_carry_no_metadata(tmp_path):
    im = _img(np.zeros((2, 3, 3), np.float32))
    im.SetMetaData("0010|0010", "DOE^JANE")
    write_image(im, tmp_path / "x.nii.gz")
    raw = (tmp_path / "x.nii.gz").read_bytes()
    import gzip
    assert b"DOE^JANE" not in gzip.decompress(raw)


def test_tumour_outside_a_modality_field_of_view_is_measured():
    """A PET that stops half-way through the tumour: the co-gridded PET there is fill, not
    tissue; outside_fov says how much of the tumour that is (the preprocess step stops above
    checks.max_tumour_outside_fov)."""
    from dlscore.preprocess import outside_fov
    ct = _img(np.zeros((10, 20, 20)))
    mask = np.zeros((10, 20, 20), bool)
    mask[2:8, 5:15, 5:15] = True  # slices z = 2..7 (4..14 mm)
    full = _img(np.ones((12, 10, 10)), spacing=(2.0, 2.0, 2.0), origin=(0.0, 0.0, -2.0))
    half = _img(np.ones((3, 10, 10)), spacing=(2.0, 2.0, 2.0), origin=(0.0, 0.0, 3.0))  # covers z = 3..7 mm
    frac = outside_fov({"ct": ct, "pet": full, "mr": half}, "ct", mask)
    assert frac["pet"] == 0.0
    assert frac["mr"] == pytest.approx(4 / 6)  # the 4 slices at 8..14 mm lie beyond it
