"""The journal-figure checks of dlscore.plots: fonts at print size, overlapping labels, fitting
a figure to a column, typography, and the check carried in the PNG."""

import numpy as np
import pytest

from dlscore.plots import (COLUMN_MM, DPI, MIN_FONT_PT, fit_to_column, legibility, new_figure, read_legibility,
                           save, typeset)


def test_a_font_that_prints_below_7_pt_is_reported():
    fig, ax = new_figure(3.35, 2.5)  # 85 mm: fonts print at their own size
    ax.set_xlabel("time (months)", fontsize=6)
    check = legibility(fig, "single")
    assert check["min_font_pt"] == pytest.approx(6, abs=0.2) and check["smallest"] == "time (months)"
    # the same figure drawn twice as wide prints at half the size in one column
    fig, ax = new_figure(6.7, 2.5)
    ax.set_xlabel("time (months)", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.set_title("t", fontsize=8)
    assert legibility(fig, "single")["min_font_pt"] < 5.0  # 8 pt x 85 mm / ~6.3 in
    assert legibility(fig, "double")["min_font_pt"] >= MIN_FONT_PT


def test_overlapping_labels_are_reported_and_hidden_ticks_ignored():
    fig, ax = new_figure()
    ax.text(0.5, 0.5, "High DLS", transform=ax.transAxes)
    ax.text(0.52, 0.5, "Low DLS", transform=ax.transAxes)
    ax.set_xlim(0.05, 0.95)  # ticks at 0 and 1 are kept by matplotlib but not drawn
    assert legibility(fig)["overlaps"] == [["High DLS", "Low DLS"]]
    fig, ax = new_figure()
    ax.text(0.1, 0.5, "High DLS", transform=ax.transAxes)
    ax.text(0.6, 0.5, "Low DLS", transform=ax.transAxes)
    assert legibility(fig)["overlaps"] == []


def test_fit_to_column_shrinks_the_axes_not_the_fonts():
    fig, ax = new_figure(6.0, 4.0)
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("x (mm)")
    ax.legend(["a long legend entry outside the axes"], loc="upper left", bbox_to_anchor=(1, 1))
    fit_to_column(fig, "single")
    fig.canvas.draw()
    width = fig.get_tightbbox(fig.canvas.get_renderer()).width
    assert width <= COLUMN_MM["single"] / 25.4 * 1.001
    assert ax.xaxis.label.get_fontsize() == 8 and legibility(fig)["min_font_pt"] >= MIN_FONT_PT


def test_save_writes_300_dpi_and_the_check_into_the_png(tmp_path):
    from PIL import Image
    fig, ax = new_figure()
    ax.plot(np.arange(3), np.arange(3))
    ax.set_title("PD-L1 TPS >= 1 % and <= 50 %")
    check = save(fig, tmp_path / "f.png")
    assert read_legibility(tmp_path / "f.png") == check and check["min_font_pt"] >= MIN_FONT_PT
    pdf = (tmp_path / "f.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and b"CreationDate" not in pdf  # vector copy, same bytes on a rerun
    with Image.open(tmp_path / "f.png") as im:
        assert round(im.info["dpi"][0]) == DPI
    fig, ax = new_figure()
    ax.set_title("TPS >= 1 %")
    typeset(fig)
    assert ax.get_title() == "TPS ≥ 1 %"
    from PIL import Image as I
    I.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    assert read_legibility(tmp_path / "plain.png") is None


def test_learning_curves_of_an_ensemble_and_the_frozen_weights_placeholder(tmp_path):
    import pandas as pd

    from dlscore.steps.score import training_figure
    h = pd.DataFrame({"epoch": [1, 2, 3] * 2, "train_loss": [0.8, 0.6, 0.5, 0.9, 0.7, 0.6],
                      "val_loss": [0.7, 0.6, 0.65, 0.72, 0.7, 0.69], "val_patient_auc": [0.6, 0.7, 0.68, 0.55, 0.6, 0.62],
                      "best": [True, True, False, True, True, True], "member": [1, 1, 1, 2, 2, 2]})
    h.to_csv(tmp_path / "history.csv", index=False)
    cfg = {"display_names": {"m": "PET/CT DLS"}}
    training_figure(cfg, "m", str(tmp_path / "history.csv"), tmp_path / "t.png")
    check = read_legibility(tmp_path / "t.png")
    assert check["min_font_pt"] >= MIN_FONT_PT and not check["overlaps"]
    assert {"member 1: training", "member 2: validation", "PET/CT DLS: learning curves\nDot: the epoch whose "
            "weights were kept (lowest validation loss)"} <= set(check["texts"])
    training_figure(cfg, "m", None, tmp_path / "frozen.png")
    assert any("frozen weights" in t for t in read_legibility(tmp_path / "frozen.png")["texts"])
    # fold networks trained without validation patients (split.validation_fraction 0)
    h.assign(val_loss=np.nan, val_patient_auc=np.nan, best=True).rename(columns={"member": "fold"}).to_csv(
        tmp_path / "fixed.csv", index=False)
    training_figure(cfg, "m", str(tmp_path / "fixed.csv"), tmp_path / "fixed.png")
    check = read_legibility(tmp_path / "fixed.png")
    assert check["min_font_pt"] >= MIN_FONT_PT and not check["overlaps"]
    assert "fold 1: training" in check["texts"] and not any("validation" in t and ":" in t[:8] for t in check["texts"])
    assert any(t.startswith("No validation patients") for t in check["texts"])
    assert any("the last epoch: no early stopping" in t for t in check["texts"])


def test_dls_by_label_is_drawn_the_same_twice_and_leaves_numpy_s_generator_alone(tmp_path):
    import pandas as pd

    from dlscore.plots.distribution import plot_dls_by_label
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"set": ["A"] * 20 + ["B"] * 20, "label": [0, 1] * 20, "dls": rng.uniform(0, 1, 40)})
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    for name in ("a", "b"):
        plot_dls_by_label(df, 0.5, tmp_path / f"{name}.png", "PD-L1 positive")
    assert (np.random.get_state()[1] == before).all()
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
