import numpy as np
import pytest
import SimpleITK as sitk

from dlscore.radiomics import extract_features


def test_sphere_volume_and_per_modality_columns():
    z, y, x = np.ogrid[:30, :40, :40]
    mask = ((z - 15) ** 2 * 4 + (y - 20) ** 2 + (x - 20) ** 2 <= 10**2).astype(np.uint8)
    sp = (1.0, 1.0, 0.5)

    def img(a):
        im = sitk.GetImageFromArray(a.astype(np.float32))
        im.SetSpacing(sp)
        return im

    rng = np.random.default_rng(0)
    ct = img(40 + rng.normal(0, 10, mask.shape))
    pet = img(1 + 5 * mask + rng.random(mask.shape))
    m = sitk.GetImageFromArray(mask)
    m.SetSpacing(sp)
    f = extract_features({"pet": pet, "ct": ct}, m, "config/radiomics_params.yaml", ["pet", "ct"],
                         {"ct": 25.0, "pet": 0.25})
    vol = 4 / 3 * np.pi * 10 * 10 * 2.5  # mm^3: semi-axes 10, 10 and 5 voxels x 0.5 mm = 2.5 mm
    assert f["original_shape_VoxelVolume"] == pytest.approx(mask.sum() * 0.5)
    assert f["original_shape_MeshVolume"] == pytest.approx(vol, rel=0.05)
    assert "pet_original_firstorder_Maximum" in f and "ct_original_glcm_Contrast" in f
    assert not any(k.startswith("ct_original_shape") for k in f)  # shape once per mask
    assert f["pet_original_firstorder_Maximum"] == pytest.approx(sitk.GetArrayFromImage(pet)[mask == 1].max(), rel=1e-5)
