"""Privacy: a whole study on DICOM inputs whose headers carry distinctive identifiers (patient
name, ID, birth date, institution, accession number); none of them may appear in results/
(tables, figures, models, logs, benchmarks, the summary and the Snakemake report) or in
Snakemake's own log. Ingestion maps every patient to the manifest's pseudonymous id.

Also the end-to-end check of the DICOM path (series, PET in Bq/mL -> SUV, RTSTRUCT for rater
1 and DICOM SEG for rater 2) on a small phantom study (~3 min on 2 cores).
"""

from __future__ import annotations


import pandas as pd
import pytest
import yaml

from dlscore.cohorts.phantom import identity, planned_patients

from .conftest import REPO, config_override, run_snakemake

pytestmark = pytest.mark.long  # a whole study (~3 min): `make test-long`, run by .ci/run

SMALL = {
    "phantom": {"format": "dicom",
                "cohorts": [{"name": "DEV", "role": "development", "n": 30, "second_rater": True},
                            {"name": "EXT", "role": "external", "n": 12, "ct_spacing": [0.8, 0.8, 2.5],
                             "ct_size": [112, 112, 28], "pet_spacing": [4.07, 4.07, 2.5]},
                            {"name": "ICI", "role": "ici", "n": 24}]},
    "imaging": {"roi_names": ["GTV"]},
    "models": {"sres_petct": {"epochs": 2, "patience": 2}},
    "run_models": ["sres_petct"],  # the demo also trains the modality ablations; one model suffices here
    "stats": {"n_boot": 200},
    "compute": {"patients_per_job": 33},  # 66 patients: two chunk jobs per step (both cores busy)
}


def _needles(cfg: dict) -> list[bytes]:
    out = []
    for p in planned_patients(cfg["phantom"]):
        ident = identity(p.patient_id)
        for v in (ident.patient_name, ident.patient_name.replace("^", " "), ident.patient_name.split("^")[0],
                  ident.patient_id, ident.institution, ident.accession):
            out += [v.encode(), v.encode("utf-16-le")]
    out.append(identity("X").birth_date.encode())
    return out


@pytest.fixture(scope="module")
def dicom_study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("privacy")
    override = config_override(tmp, "dicom.yaml", SMALL)
    results = tmp / "results"
    res = run_snakemake(results, "config/demo.yaml", override)
    run_snakemake(results, "config/demo.yaml", override, extra=["--report", str(results / "report.html")])
    with open(REPO / "config/demo.yaml") as fh:
        cfg = yaml.safe_load(fh)
    cfg["phantom"].update(SMALL["phantom"])
    return results, cfg, res.stdout + res.stderr


def test_dicom_inputs_really_carry_the_identifiers(dicom_study):
    """The test is only meaningful if the inputs hold what we grep for."""
    import pydicom
    results, cfg, _ = dicom_study
    p = planned_patients(cfg["phantom"])[0]
    f = sorted((results / "phantom/images" / p.patient_id / "CT").glob("*.dcm"))[0]
    ds = pydicom.dcmread(f, stop_before_pixels=True)
    ident = identity(p.patient_id)
    assert str(ds.PatientName) == ident.patient_name and ds.PatientID == ident.patient_id
    assert ds.InstitutionName == ident.institution and ds.AccessionNumber == ident.accession


def test_no_identifier_in_any_output(dicom_study):
    results, cfg, console = dicom_study
    needles = _needles(cfg)
    scanned = 0
    roots = [d for d in results.iterdir() if d.name != "phantom"]  # phantom/ holds the DICOM inputs themselves
    files = [f for r in roots for f in ([r] if r.is_file() else r.rglob("*")) if f.is_file()]
    files += list((REPO / ".snakemake" / "log").glob("*.snakemake.log"))[-2:]
    for f in files:
        data = f.read_bytes()
        for n in needles:
            assert n not in data, f"identifier {n!r} found in {f}"
        scanned += 1
    for n in (n.decode() for n in needles if b"\x00" not in n):
        assert n not in console, f"identifier {n!r} printed by the workflow"
    assert scanned > 100, scanned
    assert (results / "report.html").exists()


def test_dicom_study_runs_through_with_pseudonyms_and_suv(dicom_study):
    results, cfg, _ = dicom_study
    qc = pd.read_csv(results / "tables/qc.csv")
    n = sum(c["n"] for c in cfg["phantom"]["cohorts"])
    assert len(qc) == n and set(qc["patient_id"]) == {p.patient_id for p in planned_patients(cfg["phantom"])}
    assert qc["suv_conversion"].str.startswith("DICOM BQML").all()
    man = pd.read_csv(results / "phantom/manifest.csv").set_index("patient_id")
    # SUV from Bq/mL (weight, dose, 60 min decay) is the phantom's planted SUV; SUVmax on the
    # CT grid after PSF blur is below the planted peak but in its range
    q = qc.set_index("patient_id")
    ratio = q["suv_max"] / man.loc[q.index, "truth_suv_max"]
    assert ratio.between(0.3, 1.2).all(), ratio.describe()
    assert (q["kept_slices_r1"] > 0).all() and q["kept_slices_r2"].notna().sum() == 30
    rep = pd.read_csv(results / "tables/reproducibility.csv")
    assert len(rep) > 0
    d = pd.read_csv(results / "tables/discrimination.csv")
    assert set(d["set"]) >= {"EXT (external)"}
    assert (results / "qc/montages" / f"{planned_patients(cfg['phantom'])[0].patient_id}.png").exists()
