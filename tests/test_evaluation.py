"""Evaluation sets (one type for planning and steps), the cohort registry, the summary page."""

import numpy as np
import pandas as pd
import pytest

from dlscore.cohorts import REGISTRY, active, manifest_path
from dlscore.evaluation import EvalSet, evaluation_sets, planned_sets
from dlscore.summary import summary_html


def _frame():
    return pd.DataFrame({"patient_id": list("abcdefg"),
                         "split": ["training", "training", "validation", "external", "external", "ici", "unlabelled"],
                         "cohort": ["DEV", "DEV", "DEV", "EXT1", "EXT2", "ICI", "DEV"]})


def test_sets_in_reporting_order_with_names_and_slugs():
    sets = evaluation_sets(_frame(), ("training", "validation", "external", "ici"))
    assert [(es.name, es.slug, len(g)) for es, g in sets] == [
        ("training", "training", 2), ("validation", "validation", 1), ("EXT1 (external)", "EXT1", 1),
        ("EXT2 (external)", "EXT2", 1), ("ICI (ici)", "ICI", 1)]
    assert evaluation_sets(_frame(), ("unlabelled",))[0][0] == EvalSet("unlabelled")
    assert EvalSet.of("external", "EXT1") == EvalSet("external", "EXT1") and EvalSet.of("training", "DEV").cohort is None


def test_planned_sets_are_the_sets_the_steps_find():
    """Output names are planned before the split is drawn: the same sets (bar 'unlabelled')."""
    roles = [("development", "DEV"), ("external", "EXT1"), ("external", "EXT2"), ("ici", "ICI")]
    planned = planned_sets(roles, ("training", "validation", "external", "ici", "unlabelled"))
    found = [es for es, _ in evaluation_sets(_frame(), ("training", "validation", "external", "ici"))]
    assert planned == found
    assert planned_sets([("ici", "ICI")], ("training", "ici")) == [EvalSet("ici", "ICI")]


def test_registry_one_cohort_at_a_time():
    assert set(REGISTRY) == {"phantom", "lgg", "ici", "nsclc_rg", "dicom_export"}
    assert active({"lgg": {"enabled": True}}).key == "lgg"
    assert active({"manifest": "m.csv"}) is None
    assert manifest_path({"results": "r", "ici": {"enabled": True}}) == "r/ici/manifest.csv"
    assert manifest_path({"results": "r", "manifest": "my/m.csv"}) == "my/m.csv"
    with pytest.raises(ValueError, match="switch on one per study"):
        active({"lgg": {"enabled": True}, "ici": {"enabled": True}})


def test_summary_page_from_tables():
    splits = pd.DataFrame({"cohort": ["DEV"], "split": ["training"], "n": [10], "config_hash": ["x"]})
    sv = pd.DataFrame({"model": ["m", "m"], "set": ["EXT (external)", "ICI (ici)"], "endpoint": ["pfs", "pfs"],
                       "n": [30, 12], "hr": [0.5, np.nan], "hr_ci_low": [0.3, np.nan], "hr_ci_high": [0.8, np.nan],
                       "logrank_p": [0.004, np.nan], "note": ["", "not computable: no events in this set"]})
    disc = pd.DataFrame({"model": ["m"], "analysis": ["primary"], "set": ["EXT (external)"], "n": [30], "n_pos": [12],
                         "auc": [0.8123], "auc_ci_low": [0.7], "auc_ci_high": [0.9]})
    mv = pd.DataFrame({"set": ["EXT (external)"], "endpoint": ["pfs"], "term": ["high:m"], "covariates": ["ecog"],
                       "hr": [0.6], "hr_ci_low": [0.4], "hr_ci_high": [0.9]})
    cal = pd.DataFrame({"model": ["m", "m"], "set": ["training", "EXT (external)"], "slope": [1.0, 0.4],
                        "slope_ci_low": [0.8, 0.2], "slope_ci_high": [1.2, 0.6], "citl": [0.0, 0.1],
                        "citl_ci_low": [-0.2, -0.1], "citl_ci_high": [0.2, 0.3]})
    page = summary_html("demo <b>", "PD-L1", False, ["m"], ["a <caveat>"],
                        {"splits": splits, "survival": sv, "discrimination": disc, "cox_multivariable": mv,
                         "calibration": cal, "marker_coverage": pd.DataFrame(
                             {"set": ["ICI (ici)"], "marker": ["TMB"], "n": [40], "n_recorded": [25],
                              "flag": ["missing in more than 20% of the set"]})})
    assert "TMB, ICI (ici): recorded in 25 of 40 patients" in page
    assert "adjusted for ecog: HR 0.60 (0.40–0.90)" in page
    assert "Miscalibrated outside training" in page and "EXT (external): slope 0.40" in page
    assert "AUC 0.81 (0.70–0.90)" in page and "HR high vs low 0.50 (0.30–0.80), log-rank p = 0.004" in page
    assert "not computable: no events in this set" in page and "config_hash" not in page
    assert "demo &lt;b&gt;" in page and "a &lt;caveat&gt;" in page  # every value is escaped


def test_score_basis_names_the_networks_behind_a_set():
    import pandas as pd

    from dlscore.evaluation import score_basis
    oof = pd.DataFrame({"score_source": ["out-of-fold (fold 1)", "out-of-fold (fold 3)"]})
    assert score_basis(oof)["scores"].startswith("out-of-fold")
    ext = pd.DataFrame({"score_source": ["mean of the 5 fold networks"] * 2})
    assert score_basis(ext) == {"scores": "mean of the 5 fold networks"}
    assert score_basis(pd.DataFrame({"dls": [0.1]})) == {}  # holdout studies keep their columns


def test_summary_of_a_cross_validated_study_states_the_design_and_the_clinical_baseline():
    splits = pd.DataFrame({"cohort": ["DEV", "DEV", "EXT"], "split": ["development", "development", "external"],
                           "fold": pd.array([1, 2, pd.NA], dtype="Int64"), "n": [10, 10, 8], "config_hash": "x"})
    sv = pd.DataFrame({"model": ["m"], "set": ["EXT (external)"], "endpoint": ["os"], "n": [8], "hr": [np.nan],
                       "note": ["not computable: no events in this set"]})
    base = pd.DataFrame({"set": ["EXT (external)"] * 3, "model": ["Clinical", "DLS", "DLS + clinical"],
                         "n": [8] * 3, "auc": [0.80, 0.60, 0.82], "auc_ci_low": [0.6, 0.4, 0.6],
                         "auc_ci_high": [0.95, 0.8, 0.97],
                         "verdict": ["", "DLS not better than the clinical baseline (AUC 0.60 vs 0.80, paired DeLong "
                                         "p = 0.2)", ""]})
    page = summary_html("lgg", "IDH mutant", False, ["m"], [], {"splits": splits, "survival": sv,
                                                                 "signature_baselines": base})
    assert "Cross-validated training: 2 networks per model" in page and "early-stopped on the validation" not in page
    assert "<b>DLS not better than the clinical baseline" in page and "Clinical 0.80 (0.60–0.95)" in page
    holdout = summary_html("d", "x", False, ["m"], [], {"splits": splits.drop(columns="fold"), "survival": sv,
                                                         "signature_baselines": base[base["model"] != "Clinical"]})
    assert "Cross-validated" not in holdout and "a model with no image" not in holdout
