"""Result tables and their views for reading (dlscore.tables)."""

import math

import pandas as pd

from dlscore.tables import html_page, readable, write_table


def test_html_page_has_the_caption_escaped_cells_and_no_hash_column():
    t = pd.DataFrame({"Model": ["PET/CT DLS <v2>"], "p": ["<0.001"], "config_hash": ["abc"]})
    page = html_page(t, "Table 1. Patient characteristics", note="rounded & short")
    assert "<caption>Table 1. Patient characteristics</caption>" in page and "config_hash" not in page
    assert "PET/CT DLS &lt;v2&gt;" in page and "&lt;0.001" in page  # escaped, not markup
    assert "rounded &amp; short" in page


def test_readable_rounds_numbers_prints_p_as_journals_and_keeps_text_and_counts():
    t = pd.DataFrame({"model": ["a", "b", "c"], "n": [214, 30, 12], "auc": [0.812345, 0.5, float("nan")],
                      "hr_upper": [math.inf, 1.23456, -0.0123456], "volume_ml": [12345.678, 101.27, 0.000123456],
                      "logrank_p": [3e-12, 0.0412, 0.995], "p_holm": [0.00567, 1.0, float("nan")],
                      "r2_adj": [0.123456, 0.5, 0.25], "note": ["", "not computable: one class", None],
                      "config_hash": "x"})
    r = readable(t)
    assert list(r.columns) == [c for c in t.columns if c != "config_hash"] and len(r) == 3
    assert r["n"].tolist() == ["214", "30", "12"]
    assert r["auc"].tolist() == ["0.812", "0.5", ""]
    assert r["hr_upper"].tolist() == ["∞", "1.23", "−0.0123"]
    assert r["volume_ml"].tolist() == ["12346", "101", "0.000123"]
    assert r["logrank_p"].tolist() == ["<0.001", "0.04", ">0.99"]
    assert r["p_holm"].tolist() == ["0.006", ">0.99", ""]
    assert r["r2_adj"].tolist() == ["0.123", "0.5", "0.25"]  # adj is not a p-value
    assert r["note"].tolist() == ["", "not computable: one class", ""]


def test_readable_view_of_a_written_table_equals_the_view_of_the_frame(tmp_path):
    t = pd.DataFrame({"set": ["train", "external"], "auc": [0.91234567, 0.80123456], "p": [0.0001, 0.2]})
    write_table(t, tmp_path / "t.csv", {"seed": 1})
    assert readable(pd.read_csv(tmp_path / "t.csv")).equals(readable(t))
