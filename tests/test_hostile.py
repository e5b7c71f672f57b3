"""Hostile and careless input through the real workflow (``snakemake`` as the README runs it):
nothing outside ``results/`` changes, a clear error is one message without a traceback on the
console, cross-cohort traps stop the run naming cohorts, columns and the fix, degenerate data
give "not computable" rows, and no input folder name reaches ``results/`` or the report.
Each run stops at validation or is a small scores-only study (seconds)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO, snakemake_cmd
from tests.test_manifest import _manifest


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _run(results, *configfiles, config=()):
    return subprocess.run([*snakemake_cmd(results, *configfiles, config=config)], cwd=REPO, capture_output=True,
                          text=True)


def _image_study(tmp: Path, mutate=lambda d: d) -> Path:
    """A brought cohort: manifest beside an ``images/`` folder, results under the study folder."""
    study = tmp / "study"
    (study / "images").mkdir(parents=True)
    d = _manifest(study / "images", 20)
    for c in ("image_ct", "image_pet", "mask_r1"):
        d[c] = "images/" + d[c]
    mutate(d).to_csv(study / "manifest.csv", index=False)
    return study


@pytest.mark.parametrize("column,value", [("patient_id", "../../images"), ("patient_id", "../../../somewhere"),
                                          ("cohort", "../../../../X"), ("patient_id", "a/b")])
def test_path_traversal_changes_nothing_outside_results(tmp_path, column, value):
    study = _image_study(tmp_path, lambda d: d.assign(**{column: d[column].where(d.index != 0, value)}))
    (tmp_path / "somewhere").mkdir()
    (tmp_path / "somewhere" / "keep.txt").write_text("unrelated data")
    before = _tree_digest(tmp_path)
    res = _run(study / "results", "config/config.yaml", config=[f"manifest={study / 'manifest.csv'}"])
    assert res.returncode != 0
    console = res.stdout + res.stderr
    assert f"{column} '{value}' contains '/'" in console and "row 2" in console, console[-2000:]
    assert "Traceback" not in console, console[-3000:]
    after = _tree_digest(tmp_path)
    assert after == before, "files outside results/ changed"
    assert not (study / "results" / "slices").exists()


def test_clear_error_is_one_message_without_traceback(tmp_path):
    study = _image_study(tmp_path, lambda d: d.assign(label=d["label"].where(d.index != 3, 2)))
    results = study / "results"
    res = _run(results, "config/config.yaml", config=[f"manifest={study / 'manifest.csv'}"])
    console = res.stdout + res.stderr
    assert res.returncode != 0
    assert "ERROR: 1 problem(s) in manifest:\n  - patient P03: label: label is 2, expected 0 or 1." in console
    assert "Traceback" not in console, console[-3000:]
    log = (results / "logs" / "validate_manifest.log").read_text()
    assert "Traceback" in log and "label is 2" in log  # the details are kept in the job's log


def _cbioportal(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "data_clinical_patient.txt", sep="\t", index=False)


def test_held_out_cbioportal_cohort_in_other_units_and_codes(tmp_path):
    """A second cBioPortal cohort whose TMB is panel mut/Mb (the development cohort's cutoff is
    an exome count) and whose smoking is coded ever/never: stopped before any analysis."""
    rng = np.random.default_rng(3)
    dev = [{"PATIENT_ID": f"d{i}", "SMOKING": rng.choice(["Never", "Former", "Current"]),
            "TMB": int(rng.integers(10, 900)), "PFS_MONTHS": float(rng.uniform(1, 30)), "PFS_STATUS": "1:Event"}
           for i in range(50)]
    ext = [{"PATIENT_ID": f"e{i}", "SMOKING": rng.choice(["Ever", "Never"]), "TMB": round(float(rng.uniform(0.5, 40)), 1),
            "PFS_MONTHS": float(rng.uniform(1, 30)), "PFS_STATUS": "1:Event"} for i in range(40)]
    _cbioportal(tmp_path / "data" / "dev", dev)
    _cbioportal(tmp_path / "data" / "panel", ext)
    cols = {"PATIENT_ID": "patient_id", "SMOKING": "smoking", "TMB": "tmb", "PFS_MONTHS": "pfs_time",
            "PFS_STATUS": "pfs_event"}
    events = {"pfs_event": {"1:Event": 1, "0:Censor": 0}}
    study = yaml.safe_load((REPO / "config/ici_hellmann2018.yaml").read_text())
    study.update(ici={"enabled": True, "data_dir": str(tmp_path / "data"), "cohorts": {
        "Dev": {"folder": "dev", "columns": cols,
                "values": {"smoking": {"Never": "never", "Former": "former", "Current": "current"}, **events}},
        "Panel": {"folder": "panel", "columns": cols, "values": {"smoking": {"Ever": "ever", "Never": "never"},
                                                                 **events}}}})
    study["scores_only"]["markers"] = {"tmb_high": study["scores_only"]["markers"]["tmb_high"]}
    study["clinical"].update(development_cohort="Dev", subgroups=["smoking"], hr_difference=[], auc_comparisons=[],
                             covariates={"smoking": {"type": "categorical", "reference": "never"}},
                             multivariable={"p_enter": 0.05, "forced": []})
    study["association"] = {"continuous": ["tmb"], "categorical": ["smoking"], "correlate": [], "groups": {}}
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(study))
    res = _run(tmp_path / "results", cfg)
    console = res.stdout + res.stderr
    assert res.returncode != 0
    assert "2 problem(s) in cohorts (compared with the development cohort)" in console, console[-3000:]
    assert "marker tmb_high: column 'tmb' looks like another scale or unit in cohort Panel: all 40 patients of " \
           "cohort Panel are below the cutoff 159" in console
    assert "covariate 'smoking' has level(s) ['ever'] in cohort Panel that cohort Dev (development) does not have" \
           in console
    assert "ici.cohorts.Panel.values.smoking" in console and "convert 'tmb' of cohort Panel" in console
    assert "Traceback" not in console
    assert not (tmp_path / "results" / "tables" / "survival.csv").exists()  # only the mapping report was written


NAME = "Smith_John_19510302"


def test_degenerate_scores_only_study_and_no_folder_name_in_outputs(tmp_path):
    """The README's scores-only example (a marker column called ``dls``) with a marker absent
    in one cohort, a cohort without events and a one-patient cohort runs through with
    "not computable" rows; the manifest sits in a folder named after a patient, which must
    not appear in results/ or the report."""
    rng = np.random.default_rng(1)
    rows = []
    for coh, n, censored, tmb in (("DEV", 80, False, True), ("EXT", 40, False, False), ("CENS", 12, True, True),
                                  ("ONE", 1, False, True)):
        for i in range(n):
            dls = rng.uniform()
            t, c = rng.exponential(10 * (0.5 if dls > 0.42 else 1)), rng.exponential(15)
            ev = 0 if censored else int(t < c)
            rows.append({"patient_id": f"{coh}{i:03d}", "cohort": coh, "role": "ici", "dls": round(dls, 4),
                         "tmb": float(rng.integers(10, 600)) if tmb else np.nan, "pfs_time": round(min(t, c), 2),
                         "pfs_event": ev, "age": int(rng.integers(40, 80))})
    folder = tmp_path / NAME
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    study = {"study": "degenerate", "manifest": str(folder / "manifest.csv"),
             "scores_only": {"enabled": True, "markers": {
                 "dls_high": {"column": "dls", "cutoff": 0.42, "label": "DLS >= 0.42", "low_label": "DLS < 0.42"},
                 "tmb_high": {"column": "tmb", "cutoff": 159, "label": "TMB > 158", "continuous": "tmb"}}},
             "clinical": {"development_cohort": "DEV", "covariates": {"age": {"type": "continuous"}},
                          "hr_difference": [["dls_high", "tmb_high"]], "auc_comparisons": []},
             "survival": {"splits": ["ici"], "endpoints": {"os": None}}, "stats": {"n_boot": 200}}
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(study))
    results = tmp_path / "results"
    res = _run(results, cfg)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    rep = subprocess.run([*snakemake_cmd(results, cfg), "--report", str(results / "report.html")], cwd=REPO,
                         capture_output=True, text=True)
    assert rep.returncode == 0, rep.stderr[-3000:]
    sv = pd.read_csv(results / "tables/survival.csv").set_index(["model", "set"])
    assert sv.at[("tmb_high", "EXT (ici)"), "note"] == "not computable: tmb_high not recorded in EXT"
    assert sv.at[("dls_high", "CENS (ici)"), "estimable"].startswith("no: no events in this set")
    assert sv.at[("dls_high", "ONE (ici)"), "estimable"] == "no: a single patient"
    assert np.isfinite(sv.at[("dls_high", "DEV (ici)"), "hr"])
    hd = pd.read_csv(results / "tables/hr_difference.csv").set_index("set")
    assert hd.at["EXT (ici)", "note"] == "not computable: TMB > 158 not recorded in EXT"
    cox = pd.read_csv(results / "tables/cox_univariable.csv")
    assert (cox["note"] == "not computable: TMB > 158 not recorded in EXT").any()
    needles = [NAME.encode(), b"Smith_John", str(folder).encode()]
    found = [(str(f), n) for f in results.rglob("*") if f.is_file() for n in needles if n in f.read_bytes()]
    assert not found, found
