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


def _text_manifest(tmp_path, sep=",", encoding="utf-8"):
    d = _manifest(tmp_path, 4)
    path = tmp_path / "manifest.txt"
    path.write_bytes(d.to_csv(index=False, sep=sep).encode(encoding))
    return d, path


@pytest.mark.parametrize("sep,encoding", [(";", "utf-8"), ("\t", "utf-8"), (",", "utf-8-sig"), (",", "utf-16"),
                                          (";", "utf-16")])
def test_manifest_separator_and_encoding_are_read(tmp_path, sep, encoding):
    from dlscore.manifest import read_manifest
    d, path = _text_manifest(tmp_path, sep, encoding)
    got = read_manifest(path)
    assert list(got.columns) == list(d.columns)
    assert got["patient_id"].tolist() == d["patient_id"].tolist() and got["label"].tolist() == d["label"].tolist()
    assert got["pfs_time"].tolist() == d["pfs_time"].tolist()


def test_excel_manifest_is_read(tmp_path):
    from dlscore.manifest import read_manifest
    d = _manifest(tmp_path, 4).assign(patient_id=["007", "008", "009", "010"])
    d.to_excel(tmp_path / "m.xlsx", index=False)
    got = read_manifest(tmp_path / "m.xlsx")
    assert got["patient_id"].tolist() == ["007", "008", "009", "010"]  # ids stay text
    assert got["label"].tolist() == d["label"].tolist()
    v = validate_manifest(got, ["ct", "pet"], base_dir=tmp_path)
    assert len(v) == 4


def test_validated_table_holds_no_input_path(tmp_path):
    """The validate step writes which inputs a patient has, never their paths."""
    from dlscore.steps import manifest
    from dlscore.config import load_config
    from tests.conftest import REPO
    _manifest(tmp_path, 20).to_csv(tmp_path / "manifest.csv", index=False)
    cfg = load_config(REPO / "config/config.yaml")
    manifest.validate(cfg, str(tmp_path / "manifest.csv"), str(tmp_path / "c.parquet"))
    manifest.split(cfg, str(tmp_path / "c.parquet"), str(tmp_path / "v.parquet"), str(tmp_path / "splits.csv"))
    v = pd.read_parquet(tmp_path / "v.parquet")
    assert not [c for c in v if c.startswith(("image_", "mask_"))]
    assert v["has_image_ct"].all() and v["has_mask_r1"].all()
    assert str(tmp_path).encode() not in (tmp_path / "v.parquet").read_bytes()
    files = manifest.patient_files(str(tmp_path / "manifest.csv"), "P03")
    assert files["image_ct"] == str(tmp_path / "p3_ct.nii.gz")


def test_full_disk_is_one_clear_message(tmp_path, capsys):
    import errno

    from dlscore.runlog import job_log
    with pytest.raises(SystemExit) as ex:
        with job_log(tmp_path / "job.log"):
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "slices.npz"))
    assert ex.value.code == 1
    err = capsys.readouterr().err
    assert "ERROR: slices.npz: the disk is full (No space left on device). Fix: free space" in err
    assert "Traceback" not in err and "Traceback" in (tmp_path / "job.log").read_text()
