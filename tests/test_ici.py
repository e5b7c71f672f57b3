"""Scores-only (tables-only) studies: the cBioPortal mapping, and the real ICI cohorts
(Hellmann 2018, Rizvi 2015) end to end. The real-data tests skip, with the reason, when
../shared/data/ici is absent; the mapping tests make their own small files."""


import pandas as pd
import pytest
import yaml

from dlscore.errors import ManifestError
from dlscore.cohorts.ici import build_manifest
from tests.conftest import REPO, SHARED_DATA, run_snakemake

ICI = SHARED_DATA / "ici"
needs_ici = pytest.mark.skipif(not (ICI / "nsclc_mskcc_2018" / "data_clinical_patient.txt").exists(),
                               reason=f"ICI cohorts not found at {ICI} (see ../shared/data/README.md)")


def _write(folder, rows):
    folder.mkdir(parents=True)
    text = ("#Patient Identifier\tStatus\tBenefit\n#meta\tmeta\tmeta\n#STRING\tSTRING\tSTRING\n#1\t1\t1\n"
            "PATIENT_ID\tPFS_STATUS\tDCB\tTPS\n" + "".join("\t".join(r) + "\n" for r in rows))
    (folder / "data_clinical_patient.txt").write_text(text)


def _spec(tmp_path, values=None):
    return {"data_dir": str(tmp_path), "cohorts": {"A": {
        "folder": "a", "columns": {"PATIENT_ID": "patient_id", "PFS_STATUS": "pfs_event", "DCB": "dcb", "TPS": "tps"},
        "values": values or {"pfs_event": {"1:Event": 1, "0:Censor": 0},
                             "dcb": {"Yes": 1, "No": 0, "Not Evaluable": None}},
        "thresholds": {"tps_ge1": ["tps", 1]}}}}


def test_mapping_codes_values_and_reports_missing(tmp_path):
    _write(tmp_path / "a", [("p1", "1:Event", "Yes", "0"), ("p2", "0:Censor", "Not Evaluable", "55"),
                            ("p3", "1:Event", "No", ""), ("p4", "", "", "")])
    man, rep = build_manifest(_spec(tmp_path))
    assert man["patient_id"].tolist() == ["p1", "p2", "p3"]          # p4 has no clinical value
    assert man["pfs_event"].tolist() == [1, 0, 1] and man["dcb"].isna().tolist() == [False, True, False]
    assert man["tps_ge1"].tolist()[:2] == [0.0, 1.0] and pd.isna(man["tps_ge1"].iloc[2])
    r = rep.set_index("column")
    assert r.at["dcb", "missing_because"] == "Not Evaluable: 1"
    assert "p4" in r.at["(patients)", "missing_because"]


def test_unmapped_value_is_one_clear_error(tmp_path):
    _write(tmp_path / "a", [("p1", "1:Event", "Maybe", "3"), ("p2", "2:Other", "No", "4")])
    with pytest.raises(ManifestError) as err:
        build_manifest(_spec(tmp_path))
    msg = str(err.value)
    assert "'Maybe'" in msg and "'2:Other'" in msg and "ici.cohorts.A.values.dcb" in msg and "p1" in msg


@needs_ici
def test_real_cohorts_mapping():
    cfg = yaml.safe_load((REPO / "config/ici_hellmann2018.yaml").read_text())["ici"]
    cfg["data_dir"] = str(ICI)
    man, rep = build_manifest(cfg)
    h, r = man[man["cohort"] == "Hellmann2018"], man[man["cohort"] == "Rizvi2015"]
    assert len(h) == 75 and len(r) == 34                  # one Rizvi row has no clinical value
    assert h["dcb"].sum() == 37 and h["pdl1_tps"].notna().sum() == 70
    assert r["dcb"].notna().sum() == 31 and r["pdl1_ge1"].notna().sum() == 30
    assert r["ecog"].isna().all() and h["ecog"].notna().all()


def _run_study(out, *config):
    """The README's command; config/ici_hellmann2018.yaml reads ../shared/data/ici (= ICI)."""
    run_snakemake(out, "config/ici_hellmann2018.yaml", config=config)
    return out


@pytest.fixture(scope="module")
def ici_run(tmp_path_factory):
    return _run_study(tmp_path_factory.mktemp("ici") / "a")


@pytest.fixture(scope="module")
def ici_runs(ici_run, tmp_path_factory):
    base = tmp_path_factory.mktemp("ici_repeat")
    return ici_run, _run_study(base / "b"), _run_study(base / "c", "seed=7")


@needs_ici
@pytest.mark.slow
def test_ici_study_end_to_end(ici_run):
    out = ici_run
    sv = pd.read_csv(out / "tables/survival.csv").set_index(["model", "set"])
    tmb = sv.loc[("tmb_high", "Hellmann2018 (ici)")]
    assert tmb["hr"] < 1 and tmb["hr_ci_high"] < 1       # TMB-high: longer PFS (Hellmann 2018)
    dcb = pd.read_csv(out / "tables/dcb.csv")
    riz = dcb[(dcb["set"] == "Rizvi2015 (ici)") & (dcb["marker"] == "PD-L1 TPS >= 1 %")].iloc[0]
    assert "not recorded" in riz["auc_note"]             # categorical PD-L1: stated, not dropped
    hd = pd.read_csv(out / "tables/hr_difference.csv")
    assert (hd["n_boot"] == 10000).all() and hd["ci_low"].lt(hd["diff"]).all()
    for f in ("figures/km_tmb_high_Rizvi2015_pfs.png", "figures/forest_pdl1_ge1_Hellmann2018_pfs.png",
              "tables/ici_mapping.csv", "tables/cindex.csv", "tables/cox_multivariable.csv", "tables/nomogram.csv",
              "tables/survival_calibration.csv", "summary.html"):
        assert (out / f).stat().st_size > 0, f


@needs_ici
@pytest.mark.long
def test_same_config_same_tables_other_seed_other_bootstrap(ici_runs):
    a, b, c = ici_runs
    tables = sorted(p.name for p in (a / "tables").glob("*.csv"))
    assert len(tables) > 10
    for name in tables:
        assert (a / "tables" / name).read_bytes() == (b / "tables" / name).read_bytes(), name
    ha, hc = pd.read_csv(a / "tables/hr_difference.csv"), pd.read_csv(c / "tables/hr_difference.csv")
    assert ha["diff"].tolist() == hc["diff"].tolist()          # estimates do not depend on the seed ...
    assert ha["ci_low"].tolist() != hc["ci_low"].tolist()      # ... bootstrap CIs do
