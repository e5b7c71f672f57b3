"""Figure 1 (study flow), the methods text and the TRIPOD+AI checklist written from a run.

The run here is a small set of tables in the shape the workflow writes; test_workflow.py checks
the same properties on the demo run's own outputs."""

import copy

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO, numbers_not_from
from dlscore.config import load_config
from dlscore.flow import Analysis, primary_rows, study_flow
from dlscore.methods import methods_markdown
from dlscore.plots.flow import plot_flow
from dlscore.tripod import ITEMS, checklist


def _manifest() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for cohort, role, split, n in (("DEV", "development", "training", 20), ("DEV", "development", "validation", 8),
                                   ("ICI", "ici", "ici", 15)):
        for i in range(n):
            rows.append({"patient_id": f"{cohort}-{split[:2]}{i:02d}", "cohort": cohort, "role": role, "split": split,
                         "label": float(rng.integers(0, 2)), "pfs_time": rng.uniform(1, 30),
                         "pfs_event": 1.0, "has_image_pet": True, "has_image_ct": True})
    man = pd.DataFrame(rows)
    ici = man.index[man["cohort"] == "ICI"]
    man.loc[ici[:2], "label"] = np.nan  # 2 ICI patients without a label
    man.loc[ici[2:5], "pfs_time"] = np.nan  # 3 without PFS
    man.loc[ici[5], "has_image_pet"] = False  # imaged without PET
    return man


def _level(config) -> dict:
    """The confidence level the text prints, derived from stats.alpha."""
    return {"level": 100 * (1 - config["stats"]["alpha"])}


def _tables() -> dict:
    disc = pd.DataFrame({"model": "sres_petct", "analysis": "primary",
                         "set": ["training", "validation", "ICI (ici)"], "n": [20, 8, 13], "n_pos": [9, 4, 6],
                         "auc": [0.912, 0.801, 0.7734], "auc_ci_low": [0.81, 0.52, 0.5012],
                         "auc_ci_high": [1.0, 1.0, 0.9921], "auc_ci_method": "DeLong",
                         "metric_ci_method": "stratified percentile bootstrap, 500 replicates, cutoff fixed"})
    surv = pd.DataFrame({"model": "sres_petct", "set": ["ICI (ici)"], "endpoint": "pfs", "n": [11], "hr": [0.512],
                         "hr_ci_low": [0.2213], "hr_ci_high": [1.184], "logrank_p": [0.0004321],
                         "hr_method": "Cox PH (Efron ties), Wald CI",
                         "median_ci_method": "KM Greenwood 'log' CI (R survfit default)"})
    splits = pd.DataFrame({"cohort": ["DEV", "DEV", "ICI"], "split": ["training", "validation", "ici"],
                           "n": [20, 8, 15], "n_positive": [9, 4, 6]})
    return {"splits": splits, "study_flow": study_flow(_manifest(), []),
            "provenance": pd.DataFrame({"key": ["config_hash", "git_commit", "version:torch", "version:lifelines"],
                                        "value": ["abc123", "deadbeef", "2.13.0+cpu", "0.30.3"]}),
            "discrimination": disc, "survival": surv,
            "cutoffs": pd.DataFrame({"model": ["sres_petct"], "cutoff": [0.4987],
                                     "rule": ["maximum Youden index on the training split"]})}


@pytest.fixture
def config():
    cfg = load_config(REPO / "config/demo.yaml")
    cfg["run_models"] = ["sres_petct", "sres_ct"]
    return cfg


def test_flow_counts_come_from_the_tables_and_reasons_from_the_manifest(tmp_path):
    man, t = _manifest(), _tables()
    analyses = [Analysis("AUC", primary_rows(t["discrimination"], "sres_petct", analysis="primary"),
                         {"label": "unknown label"}, "tables/discrimination.csv"),
                Analysis("PFS", primary_rows(t["survival"], "sres_petct", endpoint="pfs"),
                         {"pfs_time": "no pfs time", "pfs_event": "no pfs event"}, "tables/survival.csv")]
    flow = study_flow(man, analyses, ["pet", "ct"])
    top = flow[flow["level"] == "manifest"].iloc[0]
    assert top["n"] == len(man) == 43
    coh = flow[flow["level"] == "cohort"].set_index("set")
    assert coh.loc["DEV", "n"] == 28 and coh.loc["ICI", "n"] == 15
    assert coh.loc["ICI", "reasons"] == "1 without pet (zero channel)" and coh.loc["DEV", "reasons"] == ""
    a = flow[(flow["level"] == "analysis") & (flow["set"] == "ICI (ici)")].set_index("analysis")
    assert (a.loc["AUC", "n"], a.loc["AUC", "excluded"], a.loc["AUC", "reasons"]) == (13, 2, "2 unknown label")
    # the table's n wins; the manifest explains 3 missing PFS times, the table left out 4: said plainly
    assert (a.loc["PFS", "n"], a.loc["PFS", "excluded"]) == (11, 4)
    assert a.loc["PFS", "reasons"] == "4 left out by the analysis (see tables/survival.csv)"
    # no PFS row for the development sets: no analysis box line for them
    assert not ((flow["set"] == "training") & (flow["analysis"] == "PFS")).any()
    plot_flow(flow, tmp_path / "flow.png")
    assert (tmp_path / "flow.png").stat().st_size > 10_000


def test_primary_rows_do_not_mix_models_sharing_a_prefix():
    t = pd.DataFrame({"marker": ["sres_pet DLS high", "sres_petct DLS high", "IHC"], "auc_n": [1, 2, 3]})
    assert primary_rows(t, "sres_pet")["auc_n"].tolist() == [1]
    assert primary_rows(t, "sres_petct")["auc_n"].tolist() == [2]


def test_every_number_of_the_methods_text_comes_from_the_run(config):
    t = _tables()
    text = methods_markdown(config, t)
    assert numbers_not_from(text, [config, _level(config), *t.values()]) == []
    assert "0.77 (95 % CI 0.50-0.99)" in text and "p = 0.00043" in text and "sres_petct 0.4987" in text
    # a number that is in neither is caught (the check itself can fail)
    assert numbers_not_from(text.replace("## Software", "AUC 0.8123\n\n## Software"),
                            [config, _level(config), *t.values()]) == ["0.8123"]
    # only the references cited are listed, numbered in order of use
    refs = text.split("## References")[1]
    assert "1. Paszke" in refs and "Youden" in refs and "Shrout" in refs


@pytest.mark.parametrize("edit, expect", [
    (("slices", "margin_mm", 12.5), "enlarged by 12.5 mm"),
    (("stats", "n_boot", 777), "up to 777 replicates"),
    (("stats", "alpha", 0.1), "intervals are 90 % CIs"),
    (("split", "method", "kfold"), "stratified 5-fold cross-validation"),
    (("slices", "channels", ["pet", "ct", "fusion", "mask"]), "The mask channel is r1's tumour mask"),
    (("slices", "channels", ["pet", "ct", "distance"]), "exp(d / 5.0 mm)) of the signed 3-D distance"),
    (("imaging", "normalise", {"ct": {"method": "zscore", "region": "otsu", "exclude_tumour": True},
                               "pet": {"method": "window", "low": 0.0, "high": 15.0}}),
     "CT z-score over the voxels above the Otsu threshold (head/body), tumour excluded"),
])
def test_the_methods_text_changes_with_the_config(config, edit, expect):
    t = _tables()
    before = methods_markdown(config, t)
    edited = copy.deepcopy(config)
    section, key, value = edit
    edited[section][key] = value
    after = methods_markdown(edited, t)
    assert after != before and expect in after and expect not in before
    assert numbers_not_from(after, [edited, _level(edited), *t.values()]) == []


def test_tripod_items_are_answered_only_by_outputs_the_run_produced():
    produced = {o for it in ITEMS for o in it.outputs} - {"tables/subgroup_auc.csv"}
    c = checklist(produced).set_index("item")
    assert len(c) == len(ITEMS) and c.index.is_unique
    assert c.loc["20a", "status"] == "answered" and "figures/study_flow.png" in c.loc["20a", "answered_in"]
    assert c.loc["17", "status"] == "author" and c.loc["17", "answered_in"] == ""
    assert c.loc["23b", "status"] == "author" and c.loc["23b", "missing_outputs"] == "tables/subgroup_auc.csv"
    assert c.loc["10", "status"] == "partly"  # counts from the run, the justification from the authors
    assert (checklist([])["status"] == "author").all()


def test_a_study_without_labels_or_development_cohort_says_so(config):
    """A tables-only immunotherapy study: no label, nothing trained, no split drawn."""
    t = _tables()
    t["splits"] = pd.DataFrame({"cohort": ["ICI"], "split": ["ici"], "n": [15], "n_labelled": [0],
                                "n_positive": [np.nan]})
    text = methods_markdown(config, t)
    assert "ici 15, label not recorded" in text and " positive)" not in text.split("## Image")[0]
    assert "No model was developed in this run" in text and "split at random" not in text


def test_the_methods_text_says_when_fold_networks_train_without_early_stopping(config):
    t = _tables()
    cv = copy.deepcopy(config)
    cv["split"].update(method="kfold", validation_fraction=0.29)
    assert "a fraction 0.29 of the training patients was kept for early stopping" in methods_markdown(cv, t)
    cv["split"]["validation_fraction"] = 0
    text = methods_markdown(cv, t)
    assert "trained on all of its training patients for a fixed number of epochs (no early stopping)" in text
    assert "kept for early stopping" not in text
    assert numbers_not_from(text, [cv, _level(cv), *t.values()]) == []
