"""The config is the source of truth: after a finished run, editing one setting schedules
exactly the jobs that read it and what lies downstream of them (``snakemake -n``), and an
unchanged config schedules nothing. The session's small phantom study (conftest.SMALL_STUDY:
two models) is run once and shared with other tests; every edit is a dry run."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import REPO, config_override, snakemake_cmd

pytestmark = pytest.mark.long  # needs the shared whole study: `make test-long` / `make test-all`

IMAGING = {"preprocess", "qc_table", "qc_montages", "radiomics", "radiomics_table", "hyperimage_figure"}
PER_MODEL = {"train", "score", "explain"}
MODEL_STATS = {"cutoffs", "discrimination", "calibration", "clinical_utility", "reproducibility", "association", "signature",
               "survival", "clinical_validation", "summary", "manuscript", "table_views"}


def scheduled(results, *configs) -> dict[str, int]:
    """rule -> number of jobs a dry run schedules."""
    cmd = [a for a in snakemake_cmd(results, *configs) if a != "-q"]  # -q hides the job table
    res = subprocess.run([*cmd, "-n"], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    out = res.stdout + res.stderr
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1]
    per_rule = dict(re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M))  # the table is printed twice
    jobs: dict[str, int] = {}
    for rule, n in per_rule.items():
        if rule not in ("job", "total", "all"):  # preprocess_c1, preprocess_c2 ... (chunks) count as preprocess
            step = re.sub(r"_c\d+$", "", rule)
            jobs[step] = jobs.get(step, 0) + int(n)
    return jobs


@pytest.fixture(scope="module")
def study(small_study):
    """The session's finished small study (conftest.SMALL_STUDY): only dry runs against it."""
    return small_study


def _edit(tmp, name, values):
    return config_override(tmp, name, values)


def test_unchanged_config_schedules_nothing(study):
    tmp, base, results = study
    assert scheduled(results, "config/demo.yaml", base) == {}


@pytest.mark.parametrize("name,edit,expected", [
    ("report_notes", {"report_notes": ["a new caveat"]}, {"summary"}),
    ("n_boot", {"stats": {"n_boot": 200}},  # the study has 300
     {"discrimination", "association", "clinical_validation", "summary", "manuscript", "table_views"}),  # not cutoffs, KM,
    # signature; table_views: the rounded view of every table that changed
    # the KM figures (two groups, and the four groups of the clinical validation) and what quotes their tables
    ("at_risk_step", {"survival": {"at_risk_step": 3}}, {"survival", "clinical_validation", "summary", "manuscript",
                                                                "table_views"}),
    ("epochs", {"models": {"sres_ct": {"epochs": 3}}}, {"train", "score", "explain"} | MODEL_STATS),
    ("seed", {"seed": 7}, {"split", "qc_table", "hyperimage_figure", "provenance"} | PER_MODEL | MODEL_STATS),
    ("margin", {"slices": {"margin_mm": 15.0}}, IMAGING | PER_MODEL | MODEL_STATS),
])
def test_an_edit_reruns_what_reads_it(study, name, edit, expected):
    tmp, base, results = study
    jobs = scheduled(results, "config/demo.yaml", base, _edit(tmp, f"{name}.yaml", edit))
    assert set(jobs) == expected, {"unexpected": set(jobs) - expected, "missing": expected - set(jobs)}
    if name == "epochs":  # the other model is not retrained
        assert (jobs["train"], jobs["score"], jobs["explain"]) == (1, 1, 1), jobs
    if name == "seed":  # no patient is preprocessed again
        assert "preprocess" not in jobs and "validate_manifest" not in jobs


def test_config_hash_is_the_hash_of_the_settings_that_made_the_table(study):
    """Two configs that differ only in report_notes share every table's hash but the summary's."""
    import pandas as pd

    import yaml

    from dlscore.config import deep_update, load_config
    from dlscore.settings import step_params
    tmp, base, results = study
    cfg = deep_update(load_config(REPO / "config/demo.yaml"), yaml.safe_load(base.read_text()))
    other = {**cfg, "report_notes": ["x"]}
    for step in ("validate_manifest", "survival", "clinical_validation", "discrimination"):
        assert step_params(cfg, step)["config_hash"] == step_params(other, step)["config_hash"], step
    assert step_params(cfg, "summary")["config_hash"] != step_params(other, "summary")["config_hash"]
    sv = pd.read_csv(results / "tables/survival.csv")
    assert set(sv["config_hash"]) == {step_params(cfg, "survival")["config_hash"]}
