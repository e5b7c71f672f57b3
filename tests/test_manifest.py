import pandas as pd
import pytest

from dlscore.errors import ManifestError
from dlscore.manifest import assign_splits, validate_manifest


def _manifest(tmp_path, n=20):
    rows = []
    for i in range(n):
        for k in ("ct", "pet", "m1"):
            (tmp_path / f"p{i}_{k}.nii.gz").write_bytes(b"x")
        rows.append({"patient_id": f"P{i:02d}", "cohort": "A", "role": "development", "image_ct": f"p{i}_ct.nii.gz",
                     "image_pet": f"p{i}_pet.nii.gz", "mask_r1": f"p{i}_m1.nii.gz", "label": i % 2,
                     "pfs_time": 3.0 + i, "pfs_event": 1})
    return pd.DataFrame(rows)


def test_valid_manifest_resolves_paths(tmp_path):
    out = validate_manifest(_manifest(tmp_path), ["ct", "pet"], base_dir=tmp_path)
    assert out["image_ct"].str.startswith(str(tmp_path)).all()


@pytest.mark.parametrize("mutate, expect", [
    (lambda d: d.drop(columns="mask_r1"), "required column 'mask_r1' is missing"),
    (lambda d: d.assign(patient_id=["P00"] * len(d)), "patient P00: patient_id: patient_id appears more than once"),
    (lambda d: d.assign(label=[2] + [0] * (len(d) - 1)), "patient P00: label: label is 2, expected 0 or 1"),
    (lambda d: d.assign(role=["train"] + ["development"] * (len(d) - 1)), "role 'train' is not one of"),
    (lambda d: d.assign(image_ct=["nope.nii.gz"] + list(d.image_ct[1:])), "image_ct file does not exist"),
    (lambda d: d.assign(pfs_time=[-1.0] + list(d.pfs_time[1:])), "pfs_time is negative"),
    (lambda d: d.assign(pfs_event=[2] + list(d.pfs_event[1:])), "pfs_event is 2, expected 0 (censored) or 1"),
    (lambda d: d.assign(tps=[150] + [1] * (len(d) - 1)), "tps is 150, outside 0-100"),
])
def test_bad_rows_name_patient_column_and_fix(tmp_path, mutate, expect):
    with pytest.raises(ManifestError) as err:
        validate_manifest(mutate(_manifest(tmp_path)), ["ct", "pet"], base_dir=tmp_path)
    assert expect in str(err.value) and "Fix:" in str(err.value)


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
