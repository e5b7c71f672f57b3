"""Manuscript-ready tables: journal formatting of p and CIs, names, and 'not computable' kept."""

import math

import pandas as pd
import pytest

from dlscore.manuscript_tables import estimate_ci, manuscript_tables
from dlscore.typography import p_value


@pytest.mark.parametrize("p, text", [(1.9e-10, "<0.001"), (0.00099, "<0.001"), (0.001, "0.001"),
                                     (0.0034, "0.003"), (0.0099, "0.010"), (0.01, "0.01"), (0.0449, "0.04"),
                                     (0.05, "0.05"), (0.523, "0.52"), (0.994, ">0.99"), (1.0, ">0.99"),
                                     (float("nan"), ""), (None, "")])
def test_p_values_print_as_journals_print_them(p, text):
    assert p_value(p) == text


def test_estimates_and_intervals():
    assert estimate_ci(0.8123, 0.66, 0.934) == "0.81 (0.66–0.93)"
    assert estimate_ci(0.1, -0.493, 0.693) == "0.10 (−0.49 to 0.69)"  # a dash would read as a minus
    assert estimate_ci(22.78, 12.1, math.inf, 1) == "22.8 (12.1–NR)"  # upper limit not reached
    assert estimate_ci(0.5, None, float("nan")) == "0.50" and estimate_ci(float("nan"), 0, 1) == ""


def test_tables_use_display_names_and_keep_the_reason_a_row_is_not_computable():
    disc = pd.DataFrame({"model": ["m1", "m1"], "label": "x", "analysis": "primary", "set": ["training", "EXT"],
                         "n": [20, 8], "n_pos": [8, 0], "auc": [0.8123, float("nan")],
                         "auc_ci_low": [0.6, float("nan")], "auc_ci_high": [0.95, float("nan")],
                         "auc_p": [0.0004, float("nan")], "sen": [0.5, float("nan")], "sen_ci_low": [0.2, None],
                         "sen_ci_high": [0.8, None], "note": ["", "not computable: one class"]})
    surv = pd.DataFrame({"model": ["m1"], "set": ["ICI"], "endpoint": ["pfs"], "unit": ["months"], "n_high": [8],
                         "events_high": [5], "n_low": [22], "events_low": [19], "median_high": [math.inf],
                         "median_high_ci_low": [12.1], "median_high_ci_high": [math.inf], "median_low": [4.33],
                         "median_low_ci_low": [2.47], "median_low_ci_high": [7.94], "hr": [0.251],
                         "hr_ci_low": [0.0729], "hr_ci_high": [0.865], "logrank_p": [0.0188]})
    note_only = pd.DataFrame({"note": ["nothing to report (dcb): see config clinical"]})
    out = manuscript_tables({"discrimination": disc, "survival": surv, "dcb": note_only},
                            {"m1": "PET/CT DLS", "pfs": "Progression-free survival"})
    assert set(out) == {"discrimination", "survival", "dcb"}
    d = out["discrimination"]
    assert d["Model"].tolist() == ["PET/CT DLS"] * 2
    assert d["AUC (95 % CI)"].tolist() == ["0.81 (0.60–0.95)", "not computable: one class"]
    assert d["p (AUC vs 0.5)"].tolist() == ["<0.001", ""]
    s = out["survival"].iloc[0]
    assert s["Endpoint"] == "Progression-free survival" and s["Median, high (months, 95 % CI)"] == "NR (12.1–NR)"
    assert s["HR, high vs low (95 % CI)"] == "0.25 (0.07–0.86)" and s["p (log-rank)"] == "0.02"
    assert out["dcb"]["note"].iloc[0].startswith("nothing to report")


def test_table_one_variables_print_with_their_units():
    t1 = pd.DataFrame({"variable": ["patients", "age", "sex"], "level": ["n", "median [IQR]", "female"],
                       "overall": ["72", "62 [57–67]", "30 (42 %)"], "p": [float("nan"), 0.66412, 0.0004],
                       "test": ["", "Kruskal-Wallis", "Fisher's exact"], "config_hash": "x"})
    out = manuscript_tables({"table1": t1}, {"age": "Age (years)", "sex": "Sex"})["table1"]
    assert out["Variable"].tolist() == ["Patients", "Age (years)", "Sex"]
    assert out["p"].tolist() == ["", "0.66", "<0.001"] and "config_hash" not in out


def test_p_in_figure_text():
    from dlscore.typography import p_text
    assert [p_text(p) for p in (4e-25, 0.0188, 0.995, float("nan"))] == ["p < 0.001", "p = 0.02", "p > 0.99", "p n/a"]
