"""From a messy DICOM export to a study (dlscore.dicom_index, dlscore.cohorts.dicom_export).

The phantom export is what archives hand out: patient folders named by the hospital id,
CT and PET of one patient in one folder, a CT split over two folders, files without an
extension, a second CT, an RTSTRUCT whose referenced series is absent, a SEG, a PET of
another study, a compressed (RLE, JPEG 2000) series, a text file, and an Excel clinical
table keyed by hospital id. Checked: the index, the manifest, the pairing report and that
no hospital identifier reaches results/ (tables and a whole imaging run, feature stage).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

from dlscore.cohorts.dicom_export import build, extend_key, read_key
from dlscore.cohorts.dicom_phantom import Identity, PetTags, write_rtstruct, write_seg, write_series
from dlscore.dicom import read_mask, read_series
from dlscore.dicom_index import crawl, public_index, series_table
from dlscore.errors import InputError, ManifestError

from .conftest import REPO, config_override, run_snakemake, snakemake_cmd

SHAPE, SP, ORIGIN = (8, 40, 40), (2.0, 2.0, 3.0), (-40.0, -40.0, 0.0)


def _ident(i: int) -> Identity:
    return Identity(patient_name=f"Zyxwv^Patient{i}", patient_id=f"HOSP{i:04d}X", birth_date="19471231",
                    institution="Qwerty General Hospital", accession=f"ACCN{i:05d}")


def _images():
    z, y, x = np.mgrid[:SHAPE[0], :SHAPE[1], :SHAPE[2]]
    mask = ((x - 20) ** 2 + (y - 20) ** 2 < 49) & (z >= 2) & (z <= 5)
    ct = np.where(mask, 40.0, -50.0)
    pet = np.where(mask, 8000.0, 1500.0)  # Bq/mL
    return ct, pet, mask


def _move_all(src: Path, dst: Path, prefix: str, ext: str = "") -> list[Path]:
    dst.mkdir(parents=True, exist_ok=True)
    out = []
    for i, f in enumerate(sorted(src.iterdir())):
        out.append(dst / f"{prefix}{i:03d}{ext}")
        shutil.move(str(f), out[-1])
    src.rmdir()
    return out


def _compress(files, uid) -> None:
    for f in files:
        ds = pydicom.dcmread(f)
        ds.compress(uid)
        ds.save_as(f)


def make_export(root: Path) -> dict:
    """The messy export; returns what each patient should give."""
    from pydicom.uid import JPEG2000Lossless, RLELossless
    ct, pet, mask = _images()
    tmp = root.parent / "staging"
    # 1: CT + PET in one folder, files without extension, CT RLE-compressed; RTSTRUCT beside them
    i1 = _ident(1)
    ref = write_series(ct, SP, ORIGIN, tmp / "a", "CT", i1)
    write_series(pet, SP, ORIGIN, tmp / "b", "PT", i1, PetTags(), study_uid=ref.study_uid,
                 frame_of_reference=ref.frame_of_reference)
    d1 = root / i1.patient_id / "IMAGES"
    _compress(_move_all(tmp / "a", d1, "IM1_"), RLELossless)
    _move_all(tmp / "b", d1, "IM2_")
    write_rtstruct(mask, SP, ORIGIN, ref, d1 / "RS1", "GTV", i1, extra_rois=("BODY",))
    # 2: CT split over two folders (JPEG 2000), PET, SEG referencing the CT
    i2 = _ident(2)
    ref = write_series(ct, SP, ORIGIN, tmp / "c", "CT", i2)
    files = _move_all(tmp / "c", root / "study2" / "CT_part1", "ct", ".dcm")
    _compress(files, JPEG2000Lossless)
    (root / "study2" / "CT_part2").mkdir()
    for f in files[: len(files) // 2]:
        shutil.move(str(f), root / "study2" / "CT_part2" / f.name)
    write_series(pet, SP, ORIGIN, root / "study2" / "PET", "PT", i2, PetTags(), study_uid=ref.study_uid,
                 frame_of_reference=ref.frame_of_reference)
    write_seg(mask, SP, ORIGIN, ref, root / "study2" / "SEG" / "seg.dcm", "GTV", i2)
    # 3: two CT series of the same study (8 and 6 slices): ambiguous without a rule
    i3 = _ident(3)
    ref = write_series(ct, SP, ORIGIN, root / i3.patient_id / "s1", "CT", i3)
    write_series(ct[:6], SP, ORIGIN, root / i3.patient_id / "s2", "CT", i3, study_uid=ref.study_uid)
    write_series(pet, SP, ORIGIN, root / i3.patient_id / "s3", "PT", i3, PetTags(), study_uid=ref.study_uid,
                 frame_of_reference=ref.frame_of_reference)
    write_rtstruct(mask, SP, ORIGIN, ref, root / i3.patient_id / "rs.dcm", "GTV", i3)
    # 4: the RTSTRUCT references a CT series that is not in the export
    i4 = _ident(4)
    ref = write_series(ct, SP, ORIGIN, root / i4.patient_id / "ct", "CT", i4)
    write_series(pet, SP, ORIGIN, root / i4.patient_id / "pet", "PT", i4, PetTags(), study_uid=ref.study_uid,
                 frame_of_reference=ref.frame_of_reference)
    ghost = type(ref)(ref.study_uid, pydicom.uid.generate_uid(), ref.frame_of_reference,
                      tuple(pydicom.uid.generate_uid() for _ in ref.sop_uids))
    write_rtstruct(mask, SP, ORIGIN, ghost, root / i4.patient_id / "rs.dcm", "GTV", i4)
    # 5: the PET belongs to another study and frame of reference: no PET/CT pair
    i5 = _ident(5)
    ref = write_series(ct, SP, ORIGIN, root / i5.patient_id / "ct", "CT", i5)
    write_series(pet, SP, ORIGIN, root / i5.patient_id / "pet", "PT", i5, PetTags())
    write_rtstruct(mask, SP, ORIGIN, ref, root / i5.patient_id / "rs.dcm", "GTV", i5)
    (root / "README.txt").write_text("exported by PACS for Zyxwv^Patient1\n")
    shutil.rmtree(tmp, ignore_errors=True)
    return {i.patient_id: i for i in map(_ident, range(1, 6))}


SERIES = {"ct": {"modality": "CT"}, "pet": {"modality": "PT", "with": "ct"}}
MASKS = {"r1": {"roi": "^GTV$", "on": "ct"}}


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    ids = make_export(base / "tree")
    clinical = pd.DataFrame({"MRN": [i.patient_id for i in ids.values()] + ["HOSP9999X"],
                             "label": [1, 0, 1, 0, 1, 0], "age": [61, 70, 55, 48, 66, 80]})
    clinical.to_excel(base / "clinical.xlsx", sheet_name="patients", index=False)
    section = {"root": str(base / "tree"), "key_file": str(base / "secure" / "key.csv"), "workers": 2,
               "series": SERIES, "masks": MASKS, "clinical": str(base / "clinical.xlsx"),
               "clinical_sheet": "patients", "clinical_id_column": "MRN", "cohort": "HOSP", "role": "development"}
    return base, ids, section


def _status(report: pd.DataFrame, pid: str, item: str) -> pd.Series:
    r = report[(report["patient_id"] == pid) & (report["item"] == item)]
    assert len(r) == 1, report
    return r.iloc[0]


def test_index_reads_every_series_of_a_messy_tree(export):
    base, ids, _ = export
    files, n_not = crawl(base / "tree", base / "cache.parquet", workers=2)
    assert n_not == 1  # README.txt
    s = series_table(files)
    assert len(s) == 16  # 5 CT + 1 extra CT + 5 PET + 4 RTSTRUCT + 1 SEG
    by = s.set_index("series_uid")
    ct2 = s[(s["hospital_id"] == "HOSP0002X") & (s["modality"] == "CT")].iloc[0]
    assert ct2["n_folders"] == 2 and ct2["n_files"] == 8
    assert ct2["transfer_syntax"] == "1.2.840.10008.1.2.4.90"
    one = s[s["hospital_id"] == "HOSP0001X"]
    assert sorted(one["modality"]) == ["CT", "PT", "RTSTRUCT"] and set(one["n_folders"]) == {1}
    rs = one[one["modality"] == "RTSTRUCT"].iloc[0]
    assert rs["roi_names"] == "GTV|BODY" and rs["referenced_series"] in by.index
    assert np.allclose(s.loc[s["modality"].isin(["CT", "PT"]), "slice_spacing"], 3.0)
    # the cache: a second crawl reads nothing again and gives the same table
    again, _ = crawl(base / "tree", base / "cache.parquet", workers=1)
    pd.testing.assert_frame_equal(files, again)
    pub = public_index(s, {h: f"P{k}" for k, h in enumerate(sorted(ids), 1)})
    text = pub.to_csv()
    assert not any(h in text for h in ids) and "1.2.840" not in text.replace("1.2.840.10008", "")
    assert set(pub["day"]) == {0.0}


def test_pairing_builds_the_manifest_and_reports_every_ambiguity(export):
    base, ids, section = export
    manifest, tables = build(section, str(base / "results"))
    key = read_key(section["key_file"])
    assert sorted(key) == sorted(ids) and list(key.values()) == ["P001", "P002", "P003", "P004", "P005"]
    rep = tables["dicom_pairing"]
    assert list(manifest["patient_id"]) == ["P001", "P002"]
    assert "several" not in rep.to_csv()
    assert "2 candidates for the CT series and no rule decides" in _status(rep, "P003", "image_ct")["detail"]
    d4 = _status(rep, "P004", "mask_r1")
    assert d4["status"] == "excluded" and "reference series not in the export" in d4["detail"]
    assert "link: frame_of_reference" in d4["detail"]
    d5 = _status(rep, "P005", "image_pet")
    assert d5["status"] == "excluded" and "in the study or frame of reference of the ct" in d5["detail"]
    assert "1 clinical row(s) have no images" in rep.to_csv() and "HOSP9999X" not in rep.to_csv()
    # the clinical table joined through the key; the hospital-id column is gone
    assert list(manifest["label"]) == [1, 0] and "MRN" not in manifest.columns
    assert list(manifest["cohort"]) == ["HOSP", "HOSP"]
    # every chosen series reads back through its link folder: CT (RLE, JPEG 2000) exact, PET in SUV
    ct, pet, mask = _images()
    for pid in ("P001", "P002"):
        row = manifest.set_index("patient_id").loc[pid]
        assert "HOSP" not in row["image_ct"] and Path(row["image_ct"]).is_dir()
        img = read_series(row["image_ct"], pid, "image_ct", "CT")
        import SimpleITK as sitk
        assert np.array_equal(sitk.GetArrayFromImage(img), ct)
        m = read_mask(row["mask_r1"], img, ["GTV"], pid)
        assert m.sum() == mask.sum()
        suv = sitk.GetArrayFromImage(read_series(row["image_pet"], pid, "image_pet", "PT", suv=True))
        assert suv.max() > 1.0 and suv.max() < 10.0
    # the rules resolve what was ambiguous: the CT with most slices; the mask by frame of reference
    rules = {**section, "series": {"ct": {"modality": "CT", "choose": "most_slices"}, "pet": SERIES["pet"]},
             "masks": {"r1": {**MASKS["r1"], "link": "frame_of_reference"}}}
    manifest2, tables2 = build(rules, str(base / "results"))
    assert list(manifest2["patient_id"]) == ["P001", "P002", "P003", "P004"]
    rep2 = tables2["dicom_pairing"]
    assert "chosen among 2 candidates by most slices (8)" in _status(rep2, "P003", "image_ct")["detail"]
    assert "linked by frame of reference" in _status(rep2, "P004", "mask_r1")["detail"]
    assert read_key(section["key_file"]) == key  # pseudonyms never change
    # a reader chosen by a file pattern: rater 2 = the SEG of study2/ (absent elsewhere: left empty)
    two = {**rules, "masks": {**rules["masks"], "r2": {"on": "ct", "file": r"^study2/SEG/"}}}
    manifest3, tables3 = build(two, str(base / "results"))
    r2 = manifest3.set_index("patient_id")["mask_r2"]
    assert r2["P002"].endswith("mask_r2.dcm") and (r2.drop("P002") == "").all()
    assert _status(tables3["dicom_pairing"], "P001", "mask_r2")["status"] == "missing"


def test_index_command_writes_the_pseudonymous_index(export, tmp_path, capsys):
    from dlscore.dicom_index import main
    base, ids, _ = export
    key = tmp_path / "key.csv"
    pd.DataFrame({"hospital_id": ["HOSP0001X", "HOSP0002X"], "patient_id": ["A1", "A2"]}).to_csv(key, index=False)
    main([str(base / "tree"), str(tmp_path / "index.csv"), "--key", str(key), "--workers", "1"])
    idx = pd.read_csv(tmp_path / "index.csv")
    assert sorted(set(idx["patient"])) == ["A1", "A2"] and len(idx) == 6
    assert "3 patients not in the key file left out" in capsys.readouterr().out
    assert not any(h in (tmp_path / "index.csv").read_text() for h in ids)


def test_key_file_must_stay_outside_results_and_pseudonyms_are_stable(export, tmp_path):
    base, _, section = export
    with pytest.raises(ManifestError, match="inside the results folder"):
        build({**section, "key_file": str(tmp_path / "results" / "key.csv")}, str(tmp_path / "results"))
    key = extend_key({"A": "P007", "B": "X1"}, ["C", "A", "D"], "P")
    assert key == {"A": "P007", "B": "X1", "C": "P008", "D": "P009"}
    with pytest.raises(ManifestError, match="no DICOM file"):
        empty = tmp_path / "empty"
        empty.mkdir()
        build({**section, "root": str(empty)}, str(tmp_path / "results"))


def test_undecodable_pixel_data_names_the_transfer_syntax_and_the_decoder(tmp_path):
    ct, _, _ = _images()
    write_series(ct, SP, ORIGIN, tmp_path / "ct", "CT")
    for f in (tmp_path / "ct").iterdir():
        ds = pydicom.dcmread(f)
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.90"  # claims JPEG 2000, holds garbage
        ds.PixelData = pydicom.encaps.encapsulate([b"\x00\x01garbage" * 8])
        ds.save_as(f)
    with pytest.raises(InputError) as err:
        read_series(tmp_path / "ct", "P9", "image_ct", "CT")
    assert "JPEG 2000" in str(err.value) and "pylibjpeg-openjpeg" in str(err.value)


def _needles(ids) -> list[bytes]:
    out = [b"19471231", b"Qwerty General Hospital", b"Zyxwv"]
    for i in ids.values():
        out += [i.patient_id.encode(), i.accession.encode()]
    return out + [n.decode().encode("utf-16-le") for n in out]


def test_feature_study_from_the_export_keeps_hospital_ids_out_of_results(export, tmp_path):
    """The workflow from the tree: cohort (index, pairing) -> validation -> preprocessing ->
    QC montages -> hyper-images -> radiomics (stop_after: features); nothing in results/ or
    in Snakemake's log carries a hospital identifier."""
    base, ids, section = export
    results = tmp_path / "results"
    tree = tmp_path / "tree"
    shutil.copytree(section["root"], tree)
    section = {**section, "root": str(tree)}
    override = config_override(tmp_path, "export.yaml", {
        "study": "export", "stop_after": "features", "phantom": {"enabled": False},
        "dicom_export": {**section, "enabled": True, "key_file": str(tmp_path / "secure" / "key.csv"),
                         "series": {"ct": {"modality": "CT", "choose": "most_slices"}, "pet": SERIES["pet"]}},
        "imaging": {"modalities": ["pet", "ct"], "raters": ["r1"], "roi_names": ["GTV"]},
        "signature": {"enabled": False}, "radiomics": {"modalities": ["pet", "ct"]},
    })
    import time
    start = time.time()
    res = run_snakemake(results, "config/demo.yaml", override)
    assert list(pd.read_csv(results / "dicom_export/manifest.csv")["patient_id"]) == ["P001", "P002", "P003"]
    pairing = pd.read_csv(results / "tables/dicom_pairing.csv")
    assert set(pairing.loc[pairing["status"] == "excluded", "patient_id"]) == {"P004", "P005"}
    assert set(pd.read_parquet(results / "manifest/validated.parquet")["split"]) == {"not split"}
    feats = pd.read_parquet(results / "radiomics/features.parquet")
    assert len(feats) == 3 and len(pd.read_csv(results / "tables/radiomics_features.csv")) == 3
    assert not (results / "models").exists() and not (results / "tables/discrimination.csv").exists()
    assert (results / "qc/montages/P001.png").is_file() and (results / "figures/hyperimages.png").is_file()
    needles = _needles(ids)
    raw = b"".join(f.read_bytes() for f in tree.rglob("*") if f.is_file())
    assert all(n in raw for n in needles[:5])  # the export does carry them: the search below can find them
    leaks = []
    logs = [f for f in (REPO / ".snakemake/log").glob("*.log") if f.stat().st_mtime >= start - 1]
    for f in [*results.rglob("*"), *logs]:
        if f.is_file() and not f.is_symlink():
            data = f.read_bytes()
            leaks += [(str(f), n) for n in needles if n in data]
    text = (res.stdout + res.stderr).encode()
    leaks += [("console", n) for n in needles if n in text]
    assert not leaks, leaks[:5]
    assert not any(p.is_symlink() for p in results.rglob("*"))

    # unchanged export: nothing to do; a series added to it: the manifest is rebuilt
    import subprocess
    dry = [c for c in snakemake_cmd(results, "config/demo.yaml", override) if c != "-q"] + ["-n", "--quiet", "host"]
    out = subprocess.run(dry, cwd=REPO, capture_output=True, text=True)
    assert "Nothing to be done" in out.stdout + out.stderr, out.stdout[-2000:]
    ct, _, _ = _images()
    write_series(ct[:4], SP, ORIGIN, tree / "late_arrival", "CT", _ident(2))
    out = subprocess.run(dry, cwd=REPO, capture_output=True, text=True)
    assert "cohort " in out.stdout and "Nothing to be done" not in out.stdout, out.stdout[-2000:]
