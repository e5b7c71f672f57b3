"""Manifest validation and split assignment (the bad-input catalogue is tests/test_bad_inputs.py)."""

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from dlscore.errors import ManifestError
from dlscore.manifest import assign_splits, validate_manifest


def tiny_image(path, spacing=(1.0, 1.0, 2.0), origin=(0.0, 0.0, 0.0), mask=False, values=None):
    """A 6 x 6 x 3 NIfTI (a mask holds a 2 x 2 x 1 tumour, or ``values``)."""
    arr = np.zeros((3, 6, 6), np.uint8 if mask else np.float32)
    if values is not None:
        arr[1, 2:4, 2:4] = values
    elif mask:
        arr[1, 2:4, 2:4] = 1
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    sitk.WriteImage(img, str(path))
    return path


def _manifest(tmp_path, n=20):
    rows = []
    for i in range(n):
        for k in ("ct", "pet", "m1"):
            tiny_image(tmp_path / f"p{i}_{k}.nii.gz", mask=k == "m1")
        rows.append({"patient_id": f"P{i:02d}", "cohort": "A", "role": "development", "image_ct": f"p{i}_ct.nii.gz",
                     "image_pet": f"p{i}_pet.nii.gz", "mask_r1": f"p{i}_m1.nii.gz", "label": i % 2,
                     "pfs_time": 3.0 + i, "pfs_event": 1})
    return pd.DataFrame(rows)


def test_valid_manifest_resolves_paths(tmp_path):
    out = validate_manifest(_manifest(tmp_path), ["ct", "pet"], base_dir=tmp_path)
    assert out["image_ct"].str.startswith(str(tmp_path)).all()


def test_all_problems_reported_together(tmp_path):
    d = _manifest(tmp_path).assign(label=[5, 7] + [0] * 18)
    with pytest.raises(ManifestError) as err:
        validate_manifest(d, ["ct", "pet"], base_dir=tmp_path)
    assert len(err.value.problems) == 2


def test_split_is_stratified_seeded_and_disjoint(tmp_path):
    d = validate_manifest(_manifest(tmp_path, 40), ["ct", "pet"], base_dir=tmp_path)
    a, b = assign_splits(d, 0.25, 1), assign_splits(d, 0.25, 1)
    pd.testing.assert_frame_equal(a, b)
    assert set(a["split"]) == {"training", "validation"}
    va = a[a["split"] == "validation"]
    assert len(va) == 10 and va["label"].sum() == 5
    assert not set(va["patient_id"]) & set(a.loc[a["split"] == "training", "patient_id"])
    assert not assign_splits(d, 0.25, 2)["split"].equals(a["split"])
