"""The bad-input catalogue: every entry is a broken input, the stage that stops it and the
one clear message (naming the patient, the file or column, and the fix) it must produce.

    python -m tests.test_bad_inputs      # prints the catalogue as the README's Markdown table

Manifest problems are found by the ``validate_manifest`` rule, before any imaging job;
mask contents by the patient's ``preprocess`` job; config problems when the workflow is
parsed.
"""

from __future__ import annotations

import copy
import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from dlscore.config import check_config, load_config
from dlscore.errors import InputError, ManifestError
from dlscore.manifest import read_manifest, validate_manifest, validate_markers
from tests.conftest import REPO
from tests.test_manifest import _manifest, tiny_image


@dataclass
class Case:
    name: str
    bad_input: str
    stage: str
    expect: str                          # fragment of the message
    run: Callable[[Path], None]          # raises the expected error


def _validate(tmp: Path, mutate: Callable[[pd.DataFrame, Path], pd.DataFrame]) -> None:
    d = mutate(_manifest(tmp), tmp)
    validate_manifest(d, ["ct", "pet"], base_dir=tmp, reference="ct", suv_modality="pet", roi_names=["GTV"])


def _dicom(flaw: str):
    """Row 0 of the manifest becomes a DICOM PET/CT patient (series folders + RTSTRUCT) with one flaw."""
    def f(d, tmp):
        from dlscore.cohorts.dicom_phantom import PetTags, write_rtstruct, write_series
        sp, org = (2.0, 2.0, 3.0), (0.0, 0.0, 0.0)
        vol = np.zeros((3, 12, 12))
        mask = np.zeros((3, 12, 12), bool)
        mask[1, 4:8, 4:8] = True
        ref = write_series(vol, sp, org, tmp / "CT", "CT")
        pet = PetTags(weight_kg=None) if flaw == "no_weight" else PetTags(units="CNTS") if flaw == "cnts" else PetTags()
        write_series(vol + 1000, sp, org, tmp / "PET", "CT" if flaw == "pet_is_ct" else "PT", pet=pet,
                     study_uid=ref.study_uid,
                     frame_of_reference=ref.frame_of_reference)
        write_rtstruct(mask, sp, org, ref, tmp / "RS.dcm", "Lesion 1" if flaw == "roi" else "GTV")
        if flaw == "two_series":
            write_series(vol, sp, org, tmp / "CT2", "CT")
            for f_ in (tmp / "CT2").glob("*.dcm"):
                f_.rename(tmp / "CT" / f"second_{f_.name}")
        if flaw == "empty_folder":
            (tmp / "EMPTY").mkdir()
        d = d.copy()
        d.at[0, "image_ct"] = "EMPTY" if flaw == "empty_folder" else "CT"
        d.at[0, "image_pet"] = "PET"
        d.at[0, "mask_r1"] = f"CT/{sorted(p.name for p in (tmp / 'CT').glob('*.dcm'))[0]}" if flaw == "mask_ct" else "RS.dcm"
        return d
    return f


def _rtstruct_outside(tmp):
    from dlscore.dicom import read_mask, read_series
    from dlscore.cohorts.dicom_phantom import write_rtstruct, write_series
    mask = np.zeros((3, 12, 12), bool)
    mask[1, 4:8, 4:8] = True
    ref = write_series(np.zeros((3, 12, 12)), (2.0, 2.0, 3.0), (0.0, 0.0, 0.0), tmp / "CT", "CT")
    write_rtstruct(mask, (2.0, 2.0, 3.0), (10.0, 0.0, 0.0), ref, tmp / "RS.dcm", "GTV")  # drawn 10 mm off
    read_mask(tmp / "RS.dcm", read_series(tmp / "CT"), ["GTV"], "P09", "mask_r1")


def _pet_cut_short(tmp):
    """A PET series that stops half-way through the tumour (the step co-grids, then refuses)."""
    from dlscore.cohorts.dicom_phantom import PetTags, write_rtstruct, write_series
    from dlscore.steps.preprocess import preprocess
    mask = np.zeros((8, 16, 16), bool)
    mask[2:7, 4:12, 4:12] = True
    ref = write_series(np.zeros((8, 16, 16)), (2.0, 2.0, 3.0), (0.0, 0.0, 0.0), tmp / "CT", "CT")
    write_series(np.full((3, 8, 8), 5000.0), (4.0, 4.0, 3.0), (0.0, 0.0, 0.0), tmp / "PET", "PT", pet=PetTags(),
                 study_uid=ref.study_uid, frame_of_reference=ref.frame_of_reference)  # z = 0..6 mm only
    write_rtstruct(mask, (2.0, 2.0, 3.0), (0.0, 0.0, 0.0), ref, tmp / "RS.dcm", "GTV")
    pd.DataFrame({"patient_id": ["P10"], "cohort": ["A"], "role": ["external"], "image_ct": ["CT"],
                  "image_pet": ["PET"], "mask_r1": ["RS.dcm"]}).to_csv(tmp / "m.csv", index=False)
    cfg = copy.deepcopy(load_config(REPO / "config/config.yaml"))
    cfg["imaging"].update(raters=["r1"], roi_names=["GTV"])
    preprocess(cfg, str(tmp / "m.csv"), "P10", str(tmp / "out"))


def _set(col, value, row=0):
    def f(d, _tmp):
        d = d.copy()
        d[col] = d[col].astype(object)
        d.at[row, col] = value
        return d
    return f


def _file(col, writer):
    def f(d, tmp):
        d = d.copy()
        d.at[0, col] = writer(tmp).name
        return d
    return f


def _garbage(tmp):
    p = tmp / "garbage.nii.gz"
    p.write_bytes(b"this is not an image")
    return p


def _truncated(tmp):
    src = tiny_image(tmp / "whole.nii.gz")
    raw = gzip.decompress(src.read_bytes())
    p = tmp / "truncated.nii.gz"
    p.write_bytes(gzip.compress(raw[:200]))  # header cut in the middle
    return p


def _two_splits(d, _tmp):
    d = d.copy()
    d.loc[0:3, "role"], d.loc[4:7, "role"] = "training", "validation"
    d.loc[4, "patient_id"] = d.loc[0, "patient_id"]
    return d


def _external_no_positive(d, _tmp):
    d = d.copy()
    d.loc[15:, "cohort"], d.loc[15:, "role"], d.loc[15:, "label"] = "EXT", "external", 0
    return d


def _preprocess_mask(values):
    def run(tmp):
        import SimpleITK as sitk

        from dlscore.preprocess import check_mask
        ref = sitk.ReadImage(str(tiny_image(tmp / "ref.nii.gz")))
        mask = sitk.ReadImage(str(tiny_image(tmp / "m.nii.gz", mask=True, values=values)))
        check_mask(mask, ref, "P07", str(tmp / "m.nii.gz"))
    return run


def _read_corrupt(tmp):
    from dlscore.io import read_image
    read_image(_garbage(tmp), "P03", "image_ct")


def _config(mutate):
    def run(_tmp):
        cfg = copy.deepcopy(load_config(REPO / "config/demo.yaml"))
        mutate(cfg)
        check_config(cfg)
    return run


def _covariate(spec, values):
    def run(_tmp):
        from dlscore.clinical import check_covariates
        check_covariates(pd.DataFrame({"patient_id": ["a", "b", "c"], "histology": values}), {"histology": spec})
    return run


def _marker(values):
    def run(_tmp):
        validate_markers(pd.DataFrame({"patient_id": ["a", "b"], "tmb": values}),
                         {"tmb_high": {"column": "tmb", "cutoff": 10}})
    return run


def _nan_scores(_tmp):
    from dlscore.stats import auc_delong
    auc_delong([0, 1, 0, 1], [0.1, np.nan, 0.3, 0.9])


def _one_class_auc(_tmp):
    from dlscore.stats import auc_delong
    auc_delong([1, 1, 1], [0.1, 0.2, 0.3])


def _unmapped_cbioportal(tmp):
    from dlscore.cohorts.ici import build_manifest
    (tmp / "c").mkdir()
    (tmp / "c" / "data_clinical_patient.txt").write_text("PATIENT_ID\tDCB\np1\tMaybe\n")
    build_manifest({"data_dir": str(tmp), "cohorts": {"A": {"folder": "c", "columns": {
        "PATIENT_ID": "patient_id", "DCB": "dcb"}, "values": {"dcb": {"Yes": 1, "No": 0}}}}})


def _missing_manifest(tmp):
    read_manifest(tmp / "nope.csv")


V = "validate_manifest"
CASES = [
    Case("missing_manifest", "manifest path does not exist", V, "manifest file does not exist", _missing_manifest),
    Case("missing_column", "no `mask_r1` column", V, "required column 'mask_r1' is missing",
         lambda t: _validate(t, lambda d, _: d.drop(columns="mask_r1"))),
    Case("misnamed_column", "`PatientID` instead of `patient_id`", V, "found 'PatientID': rename it",
         lambda t: _validate(t, lambda d, _: d.rename(columns={"patient_id": "PatientID"}))),
    Case("duplicate_id", "the same `patient_id` twice", V, "patient_id appears more than once",
         lambda t: _validate(t, _set("patient_id", "P01"))),
    Case("two_splits", "one patient listed as training and as validation", V, "a patient can be in one split only",
         lambda t: _validate(t, _two_splits)),
    Case("empty_id", "a row without `patient_id`", V, "has no patient_id", lambda t: _validate(t, _set("patient_id", ""))),
    Case("empty_cohort", "empty `cohort`", V, "cohort is empty", lambda t: _validate(t, _set("cohort", ""))),
    Case("bad_role", "role `train`", V, "role 'train' is not one of", lambda t: _validate(t, _set("role", "train"))),
    Case("no_image_path", "empty `image_ct` (a required modality)", V, "no image_ct given",
         lambda t: _validate(t, _set("image_ct", ""))),
    Case("missing_file", "`image_ct` points to a missing file", V, "image_ct file does not exist",
         lambda t: _validate(t, _set("image_ct", "nope.nii.gz"))),
    Case("corrupt_image", "an image file that is not an image", V, "image_pet cannot be read",
         lambda t: _validate(t, _file("image_pet", _garbage))),
    Case("truncated_image", "a truncated NIfTI", V, "image_ct cannot be read",
         lambda t: _validate(t, _file("image_ct", _truncated))),
    Case("mask_spacing", "mask with another voxel spacing than the CT", V, "mask_r1 is not on the grid of image_ct (spacing",
         lambda t: _validate(t, _file("mask_r1", lambda tmp: tiny_image(tmp / "m_sp.nii.gz", (2.0, 2.0, 2.0), mask=True)))),
    Case("mask_outside", "mask placed outside the image (other origin)", V, "(origin differ)",
         lambda t: _validate(t, _file("mask_r1", lambda tmp: tiny_image(tmp / "m_o.nii.gz", origin=(50.0, 0, 0), mask=True)))),
    Case("mask_is_image", "`mask_r1` is the CT file", V, "mask_r1 is the same file as image_ct",
         lambda t: _validate(t, lambda d, _: _set("mask_r1", d.at[0, "image_ct"])(d, _))),
    Case("label_not_binary", "label 2", V, "label is 2, expected 0 or 1", lambda t: _validate(t, _set("label", 2))),
    Case("label_text", "label `positive`", V, "label is 'positive', expected 0 or 1",
         lambda t: _validate(t, _set("label", "positive"))),
    Case("label_missing_training", "no label for a training patient", V, "label is empty in a training cohort",
         lambda t: _validate(t, lambda d, _: _set("label", np.nan)(d.assign(role="training"), _))),
    Case("tps_range", "TPS 150", V, "tps is 150, outside 0-100", lambda t: _validate(t, lambda d, _: _set("tps", 150)(d.assign(tps=1.0), _))),
    Case("tps_text", "TPS `high`", V, "tps is 'high', outside 0-100", lambda t: _validate(t, lambda d, _: _set("tps", "high")(d.assign(tps=1.0), _))),
    Case("negative_time", "PFS time −1", V, "pfs_time is negative", lambda t: _validate(t, _set("pfs_time", -1.0))),
    Case("time_text", "PFS time `12 months`", V, "pfs_time is '12 months', not a finite number",
         lambda t: _validate(t, _set("pfs_time", "12 months"))),
    Case("event_not_binary", "PFS event 2", V, "pfs_event is 2, expected 0 (censored) or 1",
         lambda t: _validate(t, _set("pfs_event", 2))),
    Case("time_without_event", "PFS time given, event empty", V, "pfs_event is empty while pfs_time is given",
         lambda t: _validate(t, _set("pfs_event", np.nan))),
    Case("dcb_not_binary", "DCB `yes`", V, "dcb is 'yes', expected 0 or 1",
         lambda t: _validate(t, lambda d, _: _set("dcb", "yes")(d.assign(dcb=0), _))),
    Case("ecog_range", "ECOG 7", V, "ecog is 7, outside 0-4", lambda t: _validate(t, lambda d, _: _set("ecog", 7)(d.assign(ecog=1), _))),
    Case("age_range", "age −3", V, "age is -3, outside 0-120", lambda t: _validate(t, lambda d, _: _set("age", -3)(d.assign(age=60), _))),
    Case("one_class", "development cohort with only label 0", V, "cohort A (development) has only label 0",
         lambda t: _validate(t, lambda d, _: d.assign(label=0))),
    Case("external_no_positive", "external cohort without a positive patient", V, "cohort EXT (external) has only label 0",
         lambda t: _validate(t, _external_no_positive)),
    Case("covariate_text", "covariate declared continuous holds text", V, "declare it categorical",
         _covariate({"type": "continuous"}, ["adeno", "squamous", "adeno"])),
    Case("covariate_reference", "reference level that does not occur", V, "reference level 'large cell' does not occur",
         _covariate({"type": "categorical", "reference": "large cell"}, ["adeno", "squamous", "adeno"])),
    Case("marker_missing", "scores-only marker column absent", V, "column 'tmb' is not in the manifest",
         lambda t: validate_markers(pd.DataFrame({"patient_id": ["a"]}), {"tmb_high": {"column": "tmb", "cutoff": 1}})),
    Case("marker_text", "marker value `n/a` (text)", V, "tmb is 'n/a', not a number", _marker(["12", "n/a"])),
    Case("cbioportal_value", "cBioPortal value without a coding", "cohort", "value 'Maybe' of DCB has no coding",
         _unmapped_cbioportal),
    Case("dicom_two_series", "a DICOM folder holding two series", V, "image_ct folder holds 2 DICOM series",
         lambda t: _validate(t, _dicom("two_series"))),
    Case("dicom_no_series", "a DICOM folder without any series", V, "image_ct folder holds 0 DICOM series",
         lambda t: _validate(t, _dicom("empty_folder"))),
    Case("dicom_wrong_modality", "`image_pet` points at the CT series", V, "image_pet folder holds a CT series, expected PT",
         lambda t: _validate(t, _dicom("pet_is_ct"))),
    Case("dicom_suv_tag", "PET series without PatientWeight", V, "PET header lacks PatientWeight (0010,1030)",
         lambda t: _validate(t, _dicom("no_weight"))),
    Case("dicom_pet_units", "PET in counts (Units CNTS)", V, "PET Units are 'CNTS'",
         lambda t: _validate(t, _dicom("cnts"))),
    Case("rtstruct_roi", "RTSTRUCT without the configured ROI name", V, "RTSTRUCT holds no ROI named GTV (it has: Lesion 1)",
         lambda t: _validate(t, _dicom("roi"))),
    Case("mask_is_ct_slice", "`mask_r1` is a CT slice, not an RTSTRUCT/SEG", V, "mask_r1 is a DICOM CT file, not an RTSTRUCT",
         lambda t: _validate(t, _dicom("mask_ct"))),
    Case("pet_cut_short", "PET field of view ends inside the tumour", "preprocess",
         "of the tumour lies outside the pet field of view", _pet_cut_short),
    Case("rtstruct_outside", "RTSTRUCT contours outside the image", "preprocess", "GTV extends outside the reference image",
         _rtstruct_outside),
    Case("empty_mask", "mask without a tumour voxel", "preprocess", "mask is empty", _preprocess_mask(0)),
    Case("mask_labels", "mask with labels 0/1/2", "preprocess", "mask holds labels [0, 2]", _preprocess_mask(2)),
    Case("unreadable_in_job", "image unreadable when the job reads it", "preprocess", "image_ct cannot be read",
         _read_corrupt),
    Case("config_typo", "config key `sead`", "workflow start", "unknown key(s) 'sead' (did you mean 'seed'?)",
         _config(lambda c: c.update(sead=1))),
    Case("config_type", "`stats.n_boot: many`", "workflow start", "'many' is not of type 'integer'",
         _config(lambda c: c["stats"].update(n_boot="many"))),
    Case("unknown_model", "`run_models` names an undefined model", "workflow start",
         "run_models lists 'sres_x', which is not defined", _config(lambda c: c.update(run_models=["sres_petct", "sres_x"]))),
    Case("primary_not_run", "`primary_model` not among `run_models`", "workflow start",
         "primary_model 'other' is not in run_models", _config(lambda c: c.update(primary_model="other"))),
    Case("reference_modality", "`imaging.reference` not a modality", "workflow start",
         "imaging.reference 'mr' is not one of the modalities", _config(lambda c: c["imaging"].update(reference="mr"))),
    Case("unknown_pair", "`clinical.hr_difference` names an unknown marker", "workflow start",
         "clinical.hr_difference names 'tmb'", _config(lambda c: c["clinical"].update(hr_difference=[["sres_petct", "tmb"]]))),
    Case("nan_scores", "NaN among the scores given to an AUC", "statistics", "scores must be finite", _nan_scores),
    Case("one_class_auc", "AUC asked of a cohort with one class", "statistics", "needs both classes", _one_class_auc),
]


# ----------------------------------------------------------------------------- hostile and careless input


def _plan(mutate: Callable[[pd.DataFrame, Path], pd.DataFrame], write: Callable | None = None):
    """What the workflow does when it is parsed: read the manifest and plan the patients."""
    def run(tmp):
        from dlscore.study import plan_patients
        d = mutate(_manifest(tmp), tmp)
        path = tmp / "manifest.csv"
        (write or (lambda df, p: df.to_csv(p, index=False)))(d, path)
        cfg = copy.deepcopy(load_config(REPO / "config/config.yaml"))
        cfg["manifest"] = str(path)
        plan_patients(cfg)
    return run


def _header_only(d, p):
    p.write_text(",".join(d.columns) + "\n")


def _two_label_columns(d, p):
    d.to_csv(p, index=False)
    lines = p.read_text().splitlines()
    lines[0] = lines[0].replace("pfs_time", "label")
    p.write_text("\n".join(lines) + "\n")


def _latin1(d, p):
    d = d.assign(site="Sao Paulo")
    d.at[0, "site"] = "S\u00e3o Paulo"
    p.write_bytes(d.to_csv(index=False).encode("latin-1"))


def _old_excel(_d, p):
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)


def _image_2d(tmp):
    import SimpleITK as sitk
    img = sitk.GetImageFromArray(np.zeros((6, 6), np.float32))
    sitk.WriteImage(img, str(tmp / "slice.nii.gz"))
    return tmp / "slice.nii.gz"


def _pet_far_away(d, tmp):
    d = d.copy()
    d.at[0, "image_pet"] = tiny_image(tmp / "far_pet.nii.gz", origin=(2000.0, 0.0, 0.0)).name
    return d


def _symlink(target_col):
    def f(d, tmp):
        d = d.copy()
        (tmp / "link_to_mask.nii.gz").symlink_to(tmp / d.at[0, target_col])
        d["mask_r2"] = np.nan
        d.at[0, "mask_r2"] = "link_to_mask.nii.gz"
        return d
    return f


def _mask_copy(d, tmp):
    d = d.copy()
    shutil.copy(tmp / d.at[0, "mask_r1"], tmp / "copy_of_mask.nii.gz")
    d["mask_r2"] = np.nan
    d.at[0, "mask_r2"] = "copy_of_mask.nii.gz"
    return d


def _link_loop(d, tmp):
    d = d.copy()
    (tmp / "loop.nii.gz").symlink_to(tmp / "loop.nii.gz")
    d.at[0, "image_ct"] = "loop.nii.gz"
    return d


def _small_split(tmp):
    from dlscore.manifest import assign_splits
    d = _manifest(tmp).assign(label=[0, 1] * 10)
    assign_splits(d, 0.05, 1)


def _cohorts(mutate):
    """Two cohorts of a scores-only study (development and a treated one) through the
    cross-cohort checks of ``validate_manifest``."""
    def run(_tmp):
        from dlscore.consistency import cohort_problems
        rng = np.random.default_rng(0)
        n = 40
        d = pd.DataFrame({"patient_id": [f"P{i}" for i in range(2 * n)], "cohort": ["DEV"] * n + ["EXT"] * n,
                          "role": ["ici"] * 2 * n, "tmb": rng.integers(20, 600, 2 * n).astype(float),
                          "smoking": rng.choice(["never", "former", "current"], 2 * n)})
        d, cfg = mutate(d, {"clinical": {"development_cohort": "DEV",
                                         "covariates": {"smoking": {"type": "categorical", "reference": "never"}}},
                            "scores_only": {"enabled": True, "markers": {"tmb_high": {"column": "tmb", "cutoff": 159}}}})
        problems = cohort_problems(d, cfg)
        if problems:
            raise ManifestError(problems)
    return run


def _panel_tmb(d, cfg):
    d.loc[d["cohort"] == "EXT", "tmb"] = d.loc[d["cohort"] == "EXT", "tmb"] / 30  # mutations per Mb
    return d, cfg


def _ever_never(d, cfg):
    ext = d["cohort"] == "EXT"
    d.loc[ext, "smoking"] = d.loc[ext, "smoking"].map({"never": "never", "former": "ever", "current": "ever"})
    return d, cfg


def _preprocess_image(arr_fn, suv_limit=100.0):
    def run(tmp):
        import SimpleITK as sitk

        from dlscore.preprocess import check_voxels
        arr = arr_fn()
        img = sitk.GetImageFromArray(arr)
        check_voxels(img, "P05", "image_pet", str(tmp / "pet.nii.gz"), suv_limit)
    return run


def _nan_voxels():
    a = np.ones((3, 6, 6), np.float32)
    a[1, 2, 2] = np.nan
    a[2, 2, 2] = np.inf
    return a


def _huge_tumour(tmp):
    from dlscore.preprocess import check_volume
    mask = np.zeros((20, 20, 20), bool)
    mask[5:15, 5:15, 5:15] = True
    check_volume(mask, (1000.0, 1000.0, 2500.0), "P06", str(tmp / "m.nii.gz"), 3000.0)


def _crafted_weights(tmp):
    import torch

    from dlscore.models import read_weights

    class Payload:  # unpickling it would create a file: the proof that code ran
        def __reduce__(self):
            return (Path.touch, (tmp / "CODE_RAN",))

    torch.save({"state_dict": {}, "spec": {}, "channels": ["ct"], "extra": Payload()}, tmp / "weights.pt")
    try:
        read_weights(tmp / "weights.pt")
    finally:
        assert not (tmp / "CODE_RAN").exists(), "loading the weights ran code"


def _config_channels(mutate):
    return _config(mutate)


def _cbioportal_sample_column(tmp):
    from dlscore.cohorts.ici import build_manifest
    (tmp / "c").mkdir()
    (tmp / "c" / "data_clinical_patient.txt").write_text("PATIENT_ID\tAGE\np1\t60\n")
    (tmp / "c" / "data_clinical_sample.txt").write_text("PATIENT_ID\tSAMPLE_ID\tTMB_NONSYNONYMOUS\np1\ts1\t7.2\n")
    build_manifest({"data_dir": str(tmp), "cohorts": {"A": {
        "folder": "c", "sample_columns": ["TMB_NONSYNONYMOUS"],
        "columns": {"PATIENT_ID": "patient_id", "AGE": "age", "TMB": "tmb"}}}})


W = "workflow start"
HOSTILE = [
    Case("cbioportal_sample_column", "a cBioPortal column mapped that is in neither clinical file", "cohort",
         "source column 'TMB' is not in data_clinical_patient.txt nor among sample_columns", _cbioportal_sample_column),
    Case("id_traversal", "`patient_id` `../../images` (would delete a sibling folder)", W,
         "patient_id '../../images' contains '/'", _plan(_set("patient_id", "../../images"))),
    Case("id_slash", "`patient_id` `a/b`", W, "patient_id 'a/b' contains '/'", _plan(_set("patient_id", "a/b"))),
    Case("cohort_traversal", "cohort `../../../../X`", W, "cohort '../../../../X' contains '/'",
         _plan(_set("cohort", "../../../../X"))),
    Case("id_spaces", "`patient_id` with a leading space", W, "has leading or trailing spaces",
         _plan(_set("patient_id", " P00"))),
    Case("id_long", "a 300-character `patient_id`", W, "is 300 characters long", _plan(_set("patient_id", "P" * 300))),
    Case("id_braces", "`patient_id` `P{1}` (Snakemake wildcard syntax)", W, "contains '{' '}'",
         _plan(_set("patient_id", "P{1}"))),
    Case("id_dot", "`patient_id` `.hidden`", W, "starts with '.'", _plan(_set("patient_id", ".hidden"))),
    Case("header_only", "a manifest with a header and no rows", W, "has a header but no patient rows",
         _plan(lambda d, _: d, _header_only)),
    Case("misnamed_column_plan", "`PatientID` header, found while planning", W, "found 'PatientID': rename it",
         _plan(lambda d, _: d.rename(columns={"patient_id": "PatientID"}))),
    Case("no_cohort_column", "no `cohort` column", W, "required column 'cohort' is missing",
         _plan(lambda d, _: d.drop(columns="cohort"))),
    Case("repeated_column", "two `label` columns", W, "column(s) 'label' appear more than once",
         _plan(lambda d, _: d, _two_label_columns)),
    Case("latin1_manifest", "a manifest saved as Latin-1, not UTF-8", W, "manifest is not UTF-8 text",
         _plan(lambda d, _: d, _latin1)),
    Case("xls_manifest", "an old Excel `.xls` manifest", W, "manifest is an old Excel (.xls) file",
         _plan(lambda d, _: d, _old_excel)),
    Case("image_2d", "a 2D image (one slice) as `image_ct`", V, "image_ct is a 2D image",
         lambda t: _validate(t, _file("image_ct", _image_2d))),
    Case("spacing_metres", "voxel spacing x1000 (metres read as mm)", V, "voxel spacing 1000, 1000, 2000 mm, outside",
         lambda t: _validate(t, _file("image_pet", lambda tmp: tiny_image(tmp / "big.nii.gz", (1000.0, 1000.0, 2000.0))))),
    Case("spacing_tiny", "voxel spacing 0.001 mm (a grid of hundreds of GiB)", V, "voxel spacing 0.001, 0.001, 0.002 mm",
         lambda t: _validate(t, _file("image_pet", lambda tmp: tiny_image(tmp / "tiny.nii.gz", (0.001, 0.001, 0.002))))),
    Case("pet_far_away", "PET 2 m away from the CT", V, "image_pet does not overlap image_ct in space",
         lambda t: _validate(t, _pet_far_away)),
    Case("time_inf", "`pfs_time` = inf", V, "pfs_time is 'inf', not a finite number", lambda t: _validate(t, _set("pfs_time", "inf"))),
    Case("os_before_pfs", "OS shorter than PFS", V, "os_time (2) is shorter than pfs_time (3)",
         lambda t: _validate(t, lambda d, _: d.assign(os_time=d["pfs_time"] + 1, os_event=1).pipe(_set("os_time", 2.0), _))),
    Case("dcb_progressed", "DCB 1 with progression at 2 months", V, "dcb is 1 but the patient progressed at 2 months",
         lambda t: _validate(t, lambda d, _: _set("pfs_time", 2.0)(d.assign(dcb=0), _).pipe(_set("dcb", 1), _))),
    Case("mask_by_other_path", "`mask_r2` is `mask_r1` through a symbolic link", V, "mask_r2 is the same file as mask_r1",
         lambda t: _validate(t, _symlink("mask_r1"))),
    Case("mask_copied", "`mask_r2` a copy of `mask_r1`", V, "mask_r2 has the same contents as mask_r1",
         lambda t: _validate(t, _mask_copy)),
    Case("link_loop", "`image_ct` a symbolic link loop", V, "image_ct is a symbolic link that leads nowhere",
         lambda t: _validate(t, _link_loop)),
    Case("split_too_small", "`split.validation_fraction: 0.05` of 20 patients", "split",
         "cannot be split 95%/5% into training and validation", _small_split),
    Case("panel_tmb", "TMB in mut/Mb in one cohort, exome count cutoff 159", V,
         "column 'tmb' looks like another scale or unit in cohort EXT", _cohorts(_panel_tmb)),
    Case("smoking_codes", "smoking coded ever/never in one cohort, never/former/current in the other", V,
         "covariate 'smoking' has level(s) ['ever'] in cohort EXT", _cohorts(_ever_never)),
    Case("ct_only_channels", "a CT-only study left with the default PET/CT channels", W,
         "slices.channels has 'pet', which is not one of imaging.modalities",
         _config(lambda c: (c["imaging"].update(modalities=["ct"], reference="ct"),
                            c["slices"].update(channels=["pet", "ct"], fusion=None),
                            c.update(run_models=["sres_ct"], primary_model="sres_ct"),
                            c["clinical"].update(hr_difference=[], auc_comparisons=[], four_groups=[])))),
    Case("model_channel", "a model on a channel the slices do not have", W, "models.sres_petct.channels has ['mr']",
         _config(lambda c: c["models"]["sres_petct"].update(channels=["pet", "mr"]))),
    Case("nan_voxels", "NaN/inf voxels in an image", "preprocess", "image_pet holds 2 non-finite voxel(s)",
         _preprocess_image(_nan_voxels)),
    Case("pet_activity", "a PET NIfTI in Bq/mL where SUV is expected", "preprocess",
         "looks like activity (Bq/mL), not SUV", _preprocess_image(lambda: np.full((3, 6, 6), 5400.0, np.float32))),
    Case("tumour_volume", "voxel spacing in metres: a tumour of billions of mL", "preprocess",
         "tumour volume is 2.5e+09 mL, more than 3000 mL", _huge_tumour),
    Case("crafted_weights", "frozen `weights.pt` with a pickled object that runs code", "score",
         "holds Python objects beyond tensors and plain values", _crafted_weights),
]
CASES += HOSTILE


# ----------------------------------------------------------------------------- degenerate data: "not computable" rows
# These inputs are valid, but a number cannot be estimated from them: the table row says why
# (the run goes on). Each ``run`` returns the text the table carries.


def _km_case(t, e, h):
    def run(_tmp):
        from dlscore.survival import compare_groups
        res = compare_groups(np.asarray(t, float), np.asarray(e), np.asarray(h, bool))
        assert not np.isfinite(res["hr"]), res
        return res["estimable"]
    return run


def _constant_dls(_tmp):
    from dlscore.stats import youden_cutoff
    try:
        youden_cutoff([0, 1, 0, 1, 1], [0.5] * 5)
    except ValueError as err:
        return f"not computable: {err} (training split)"
    raise AssertionError("a constant DLS gave a cutoff")


def _marker_absent(tmp):
    """The survival step on a marker recorded in DEV only (a lifelines ValueError after minutes before)."""
    from dlscore.steps import survival
    cfg = copy.deepcopy(load_config(REPO / "config/config.yaml"))
    cfg.update(scores_only={"enabled": True, "markers": {"tmb_high": {"column": "tmb", "cutoff": 159,
                                                                       "label": "TMB > 158"}}})
    cfg["survival"].update(splits=["ici"], endpoints={"pfs": cfg["survival"]["endpoints"]["pfs"]})
    n = 12
    man = pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "cohort": ["DEV"] * 8 + ["EXT"] * 4,
                        "role": "ici", "split": "ici", "pfs_time": np.arange(1.0, n + 1), "pfs_event": [1, 0] * 6})
    man.to_parquet(tmp / "validated.parquet")
    pd.DataFrame({"patient_id": man["patient_id"], "rater": "r1",
                  "dls": [10.0, 300, 50, 400, 20, 170, 90, 600] + [np.nan] * 4}).to_parquet(tmp / "s.parquet")
    pd.DataFrame({"model": ["tmb_high"], "cutoff": [159.0], "rule": ["configured"]}).to_csv(tmp / "c.csv", index=False)
    survival.survival(cfg, str(tmp / "validated.parquet"), {"tmb_high": str(tmp / "s.parquet")}, str(tmp / "c.csv"),
                    str(tmp / "out.csv"), str(tmp / "risk.csv"), {})
    out = pd.read_csv(tmp / "out.csv").set_index("set")
    assert np.isfinite(out.at["DEV (ici)", "logrank_p"])
    return out.at["EXT (ici)", "note"]


def _diverging_subgroup(_tmp):
    from dlscore.clinical import cox_fit
    t = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    e = [1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1]
    x = pd.DataFrame({"high": [1.0] * 5 + [0.0] * 6})
    fit = cox_fit(t, e, x)
    assert fit["terms"].empty, fit["terms"]
    return fit["note"]


T_ = "statistics (table row)"
NOT_COMPUTABLE = [
    Case("subgroup_monotone", "a subgroup whose events all fall in one arm while the other is at risk "
         "(Cox fit diverges: HR 1.7e7 before)", T_, "no: monotone likelihood",
         _km_case([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1], [1] * 5 + [0] * 6)),
    Case("cox_diverges", "a Cox model whose coefficient tends to infinity", T_, "not estimable", _diverging_subgroup),
    Case("cohort_censored", "a cohort without any event", T_, "no events in this set",
         _km_case([3, 5, 8, 13], [0, 0, 0, 0], [1, 0, 1, 0])),
    Case("one_patient", "a one-patient cohort", T_, "a single patient", _km_case([3], [1], [1])),
    Case("constant_dls", "a constant DLS (collapsed network) for the Youden cutoff", T_,
         "the score is constant (0.5 for all 5 patients)", _constant_dls),
    Case("marker_absent", "a marker absent in one cohort (crashed clinical_validation before)", T_,
         "not recorded in EXT", _marker_absent),
]


@pytest.mark.parametrize("case", NOT_COMPUTABLE, ids=[c.name for c in NOT_COMPUTABLE])
def test_degenerate_data_gives_not_computable(tmp_path, case):
    note = case.run(tmp_path)
    assert case.expect in note, note


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gives_one_clear_error(tmp_path, case):
    with pytest.raises((ManifestError, InputError, ValueError)) as err:
        case.run(tmp_path)
    msg = str(err.value)
    assert case.expect in msg, msg
    if isinstance(err.value, (ManifestError, InputError)):
        assert "Fix:" in msg, msg
        assert len(getattr(err.value, "problems", [err.value])) == 1, f"one input, one message:\n{msg}"


def test_catalogue_is_large_enough():
    assert len(CASES) >= 30 and len({c.name for c in CASES}) == len(CASES)


def markdown_table(tmp: Path) -> str:
    lines = ["| # | bad input | stopped by | message (abridged) |", "|---|---|---|---|"]
    for i, c in enumerate(CASES + NOT_COMPUTABLE, 1):
        d = tmp / c.name
        d.mkdir()
        try:
            msg = c.run(d) or "(no error!)"
        except Exception as e:  # noqa: BLE001
            msg = str(e).splitlines()[-1].strip().lstrip("- ")
            msg = msg.replace(str(d) + "/", "")
        lines.append(f"| {i} | {c.bad_input} | `{c.stage}` | {msg.replace('|', '/')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as t:
        print(markdown_table(Path(t)))
    shutil.rmtree(Path(tempfile.gettempdir()) / "unused", ignore_errors=True)
