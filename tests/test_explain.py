"""Grad-CAM maps, the choice of patients to explain and the two figures."""

import numpy as np
import pandas as pd
import pytest
import torch

from dlscore.explain import cam_layers, central_slice, gradcam_maps, pick_patients
from dlscore.models import build_model
from dlscore.plots.gradcam import feature_clustermap, gradcam_figure


def _bright_square(n=4, c=3, size=32):
    x = np.zeros((n, c, size, size), np.float32) + 0.05
    x[:, :, size // 8:size * 7 // 8 // 2, size // 2 + size // 16:size - size // 16] = 1.0  # the only structure: top right
    return x


def test_sres_gradcam_is_one_map_for_all_channels_in_0_1():
    torch.manual_seed(0)
    model = build_model({"arch": "sres", "widths": [4, 8, 8, 8], "n_features": 8}, 3)
    x = _bright_square()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    m = gradcam_maps(model, x)
    assert m.shape == x.shape and m.min() >= 0 and m.max() <= 1
    assert np.allclose(m[:, 0], m[:, 1]) and np.allclose(m[:, 0], m[:, 2])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # weights untouched
    assert cam_layers(model) == [(None, "net.project")]


def test_gradcam_follows_the_evidence():
    """A model whose logit is the mean of its input's top-right quadrant: the map must be
    highest there (Grad-CAM on a conv layer that copies the input)."""
    model = _quadrant_model()
    x = _bright_square(n=2, c=1, size=64)
    m = gradcam_maps(model, x)
    top_right, bottom_left = m[:, 0, :32, 32:].mean(), m[:, 0, 32:, :32].mean()
    assert top_right > bottom_left + 0.2


def test_fusion_gradcam_gives_each_sequence_its_map_and_none_to_a_missing_one():
    torch.manual_seed(0)
    model = build_model({"arch": "seqfusion", "depth": 18, "width": 4, "n_features": 8, "heads": 2}, 3)
    x = _bright_square(n=3)
    x[1, 2] = 0.0  # patient 1 lacks sequence 2
    m = gradcam_maps(model, x)
    assert m.shape == x.shape and m.min() >= 0 and m.max() <= 1
    assert not m[1, 2].any()
    assert [c for c, _ in cam_layers(model)] == [0, 1, 2]


def test_patients_to_explain_are_drawn_per_class_reproducibly():
    rng = np.random.default_rng(1)
    sc = pd.DataFrame({"patient_id": [f"P{i:02d}" for i in range(40)], "label": np.tile([0, 1], 20),
                       "dls": rng.random(40), "split": ["external"] * 20 + ["training"] * 20})
    a, b = pick_patients(sc, 3, seed=5), pick_patients(sc, 3, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert a["label"].tolist() == [1, 1, 1, 0, 0, 0] and set(a["split"]) == {"external"}
    assert not pick_patients(sc, 3, seed=6)["patient_id"].equals(a["patient_id"])
    only_neg = sc.assign(label=np.where(sc["split"] == "external", 0, sc["label"]))
    assert set(pick_patients(only_neg, 2, seed=5)["split"]) == {"training"}  # external lacks positives
    assert central_slice(np.zeros((5, 1, 2, 2)), np.array([3.0, 9.0, 4.0, 1.0, 2.0])) == 1
    assert central_slice(np.zeros((5, 1, 2, 2))) == 2


def test_figures_are_written(tmp_path):
    x = _bright_square(n=2)
    gradcam_figure(x, x * 0.5, ["pet", "ct", "fusion"], ["A", "B"], tmp_path / "cam.png", [60.0, 70.0], x * 0.2)
    from dlscore.plots.gradcam import activation_figure
    activation_figure(x, ["pet", "ct", "fusion"], [("block 1", x[:, 0]), ("block 2", x[:, 1])], ["A", "B"],
                      tmp_path / "act.png", [60.0, 70.0])
    rng = np.random.default_rng(0)
    feats = pd.DataFrame(rng.normal(size=(12, 6)), index=[f"P{i}" for i in range(12)],
                         columns=[f"f{i:03d}" for i in range(6)])
    side = pd.DataFrame({"label": ["0", "1"] * 6, "cohort": ["A"] * 6 + ["B"] * 6}, index=feats.index)
    feature_clustermap(feats, side, tmp_path / "heat.png", "title")
    assert all((tmp_path / f).stat().st_size > 10_000 for f in ("cam.png", "heat.png", "act.png"))


@pytest.mark.parametrize("bad", ["unknown"])
def test_unknown_architecture_has_no_target_layer(bad):
    with pytest.raises(TypeError, match="no Grad-CAM target layer"):
        cam_layers(torch.nn.Linear(2, 1))


def test_maps_are_scaled_by_their_maximum_and_empty_ones_stay_empty():
    from dlscore.explain import scale_maps
    m = np.zeros((2, 3, 3), np.float32)
    m[0, 1, 1], m[0, 0, 0] = 4.0, 1.0
    out = scale_maps(m)
    assert out[0, 1, 1] == 1.0 and out[0, 0, 0] == 0.25 and not out[1].any()


def test_ensemble_gradcam_averages_its_members():
    from dlscore.models import EnsembleMean
    torch.manual_seed(0)
    spec = {"arch": "sres", "widths": [4, 8, 8, 8], "n_features": 8}
    a, b = build_model(spec, 3), build_model(spec, 3)
    ens = EnsembleMean([a, b])
    assert cam_layers(ens) == [(None, "net.members.0.project"), (None, "net.members.1.project")]
    x = _bright_square(n=2, size=64)
    m = gradcam_maps(ens, x)
    assert m.shape == x.shape and m.min() >= 0 and m.max() <= 1


def _quadrant_model():
    """A model whose logit is the mean of its input (each conv copies its input): its evidence
    for the positive class lies where the input is bright."""
    from dlscore.models import SResCNN
    model = SResCNN(1, widths=(1, 1, 1, 1), n_features=1, dropout=0.0)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.Conv2d):
                mod.weight.zero_()
                mod.weight[:, :, mod.weight.shape[2] // 2, mod.weight.shape[3] // 2] = 1.0
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.reset_parameters()
                mod.eval()
        model.head.weight.fill_(1.0)
        model.head.bias.zero_()
    return model


def test_negative_class_gradcam_is_the_evidence_against():
    """Where the positive-class map is strongest the input raises the logit: the negative-class
    score (minus the logit) has no positive gradient there, so its map is empty."""
    x = _bright_square(n=2, c=1, size=64)
    model = _quadrant_model()
    pos, neg = gradcam_maps(model, x), gradcam_maps(model, x, negative=True)
    assert pos[:, 0, :32, 32:].mean() > pos[:, 0, 32:, :32].mean() + 0.2
    assert neg.max() == 0.0  # every weight positive: nothing in the input speaks for label 0


def test_activation_maps_of_every_residual_stage():
    from dlscore.explain import activation_layers, activation_maps
    torch.manual_seed(0)
    model = build_model({"arch": "sres", "widths": [4, 8, 8, 8], "n_features": 8}, 3)
    x = _bright_square(n=2)
    maps = activation_maps(model, x)
    assert [n for n, _ in maps] == [f"residual block {i}" for i in (1, 2, 3, 4)] == [n for n, _ in activation_layers(model)]
    assert all(m.shape == (2, 32, 32) and 0 <= m.min() and m.max() <= 1 for _, m in maps)
    fusion = build_model({"arch": "seqfusion", "depth": 18, "width": 4, "n_features": 8, "heads": 2}, 3)
    assert [n for n, _ in activation_maps(fusion, x)][0] == "layer1 (sequence 1)"
    # the maps follow the input: a copying network's first stage is brightest on the square
    m1 = activation_maps(_quadrant_model(), _bright_square(n=1, c=1, size=64))[0][1]
    assert m1[0, :32, 32:].mean() > m1[0, 32:, :32].mean() + 0.3


def test_feature_clusters_recover_planted_groups_and_the_table_tests_them(run_r):
    from dlscore.explain import feature_clusters
    from dlscore.steps.score import cluster_table
    from tests.conftest import r_json
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=6, size=(3, 10))
    truth = np.repeat([0, 1, 2], [15, 12, 9])
    feats = centres[truth] + rng.normal(size=(36, 10))
    got = feature_clusters(feats, 3)
    assert len(set(zip(truth, got))) == 3  # the same partition, up to the names
    label = pd.Series(np.where(truth == 0, 1.0, 0.0), index=[f"P{i}" for i in range(36)])
    label.iloc[:2] = np.nan
    t = cluster_table(pd.Series([f"G{c}" for c in got], index=label.index), label, "m")
    assert t["n"].sum() == 36 and t["n_unknown"].sum() == 2
    counts = t[["n_positive", "n_negative"]].to_numpy()
    out = run_r(f"m <- matrix(c({','.join(map(str, counts.T.ravel()))}), ncol = 2);"
                "c <- suppressWarnings(chisq.test(m, correct = FALSE)); f <- fisher.test(m);"
                + r_json("c$statistic", "c$p.value", "f$p.value"))
    assert [t["chi2"].iloc[0], t["chi2_p"].iloc[0], t["fisher_p"].iloc[0]] == pytest.approx(out, rel=1e-7)
