import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlscore.stats import (auc_delong, bootstrap_metrics, delong_test, delong_test_unpaired,
                           metrics_at_cutoff, roc_curve_points, wilson_ci, youden_cutoff)
from tests.conftest import r_json


def _naive_auc(y, s):
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0) + 0.5 * (diff == 0)).mean()


def _naive_delong_var(y, s):
    """O(n^2) DeLong (1988) placements, the textbook definition."""
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size


def _data(seed=1, n=120, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    s = rng.normal(size=n) + 1.0 * y
    if ties:
        s = np.round(s, 0)
    return y, s


@pytest.mark.parametrize("ties", [False, True])
def test_fast_delong_matches_naive(ties):
    y, s = _data(ties=ties)
    r = auc_delong(y, s)
    assert r.auc == pytest.approx(_naive_auc(y, s), abs=1e-12)
    assert r.se**2 == pytest.approx(_naive_delong_var(y, s), rel=1e-10)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(-3, 3)), min_size=4, max_size=40))
def test_delong_property_ties(pairs):
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=float)
    if y.min() == y.max():
        return
    r = auc_delong(y, s)
    assert r.auc == pytest.approx(_naive_auc(y, s), abs=1e-12)
    if y.sum() > 1 and (1 - y).sum() > 1:
        assert r.se**2 == pytest.approx(_naive_delong_var(y, s), rel=1e-9, abs=1e-15)
    assert 0 <= r.ci_low <= r.auc <= r.ci_high <= 1


def test_no_silent_flip():
    y, s = _data()
    assert auc_delong(y, -s).auc == pytest.approx(1 - auc_delong(y, s).auc)


def test_rejects_bad_labels():
    with pytest.raises(ValueError, match="0/1"):
        auc_delong([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="both classes"):
        auc_delong([1, 1, 1], [0.1, 0.2, 0.3])


@pytest.mark.needs_r
@pytest.mark.parametrize("ties", [False, True])
def test_auc_ci_matches_pROC(run_r, ties):
    y, s = _data(ties=ties)
    out = run_r("r <- roc(y, s, direction='<', levels=c(0,1), quiet=TRUE); ci <- ci.auc(r, method='delong');"
                + r_json("ci[1]", "ci[2]", "ci[3]", "sqrt(var(r, method='delong'))"),
                packages=("pROC",), data={"y": y, "s": s})
    r = auc_delong(y, s)
    assert [r.ci_low, r.auc, r.ci_high, r.se] == pytest.approx(out, abs=1e-10)


@pytest.mark.needs_r
def test_paired_and_unpaired_delong_match_pROC(run_r):
    y, s = _data(seed=3)
    rng = np.random.default_rng(9)
    s2 = s + rng.normal(scale=1.5, size=s.size)
    y2, s3 = _data(seed=4, n=90)
    out = run_r(
        "r1 <- roc(y, s, direction='<', levels=c(0,1), quiet=TRUE);"
        "r2 <- roc(y, s2, direction='<', levels=c(0,1), quiet=TRUE);"
        "r3 <- roc(y2, s3, direction='<', levels=c(0,1), quiet=TRUE);"
        "t <- roc.test(r1, r2, method='delong', paired=TRUE);"
        "u <- roc.test(r1, r3, method='delong', paired=FALSE);"
        + r_json("t$statistic", "t$p.value", "u$statistic", "u$p.value"),
        packages=("pROC",), data={"y": y, "s": s, "s2": s2, "y2": y2, "s3": s3})
    t = delong_test(y, s, s2)
    u = delong_test_unpaired(y, s, y2, s3)
    assert [t.z, t.p, u.z, u.p] == pytest.approx(out, rel=1e-8, abs=1e-12)


@pytest.mark.needs_r
def test_youden_and_metrics_match_pROC(run_r):
    y, s = _data(seed=5)
    out = run_r("r <- roc(y, s, direction='<', levels=c(0,1), quiet=TRUE);"
                "b <- coords(r, 'best', best.method='youden', ret=c('threshold','sensitivity','specificity'), transpose=FALSE);"
                + r_json("b$threshold[1]", "b$sensitivity[1]", "b$specificity[1]"),
                packages=("pROC",), data={"y": y, "s": s})
    cut = youden_cutoff(y, s)
    m = metrics_at_cutoff(y, s, cut)
    assert [cut, m["sen"], m["spec"]] == pytest.approx(out, abs=1e-12)


def test_roc_points_monotone():
    y, s = _data()
    thr, sens, spec = roc_curve_points(y, s)
    assert sens[0] == 1 and spec[0] == 0 and sens[-1] == 0 and spec[-1] == 1
    assert np.all(np.diff(sens) <= 0) and np.all(np.diff(spec) >= 0)


def test_bootstrap_is_seeded_stratified_and_covers():
    y, s = _data(n=200)
    cut = youden_cutoff(y, s)
    a = bootstrap_metrics(y, s, cut, n_boot=2000, seed=7)
    b = bootstrap_metrics(y, s, cut, n_boot=2000, seed=7)
    assert a == b
    m = metrics_at_cutoff(y, s, cut)
    for k in ("acc", "sen", "spec", "ppv", "npv"):
        assert a[k][0] <= m[k] <= a[k][1]
        lo, hi = wilson_ci(int(round(m[k] * 100)), 100)
        assert lo < hi
    assert bootstrap_metrics(y, s, cut, n_boot=2000, seed=8) != a


def test_wilson_reference_value():
    # Agresti & Coull (1998) style worked value: 8/10 -> (0.4902, 0.9433)
    lo, hi = wilson_ci(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)


def test_model_comparisons_pair_models_on_shared_patients():
    import numpy as np
    import pandas as pd

    from dlscore.stats.discrimination import model_comparisons
    from dlscore.stats import delong_test
    rng = np.random.default_rng(4)
    y = np.tile([0, 1], 30)
    a = pd.DataFrame({"patient_id": [f"P{i}" for i in range(60)], "label": y, "dls": y + rng.normal(0, 0.8, 60)})
    b = a.assign(dls=y + rng.normal(0, 1.5, 60)).sample(frac=1, random_state=1)  # other order
    b = b[b["patient_id"] != "P0"]  # model b did not score P0
    one_class = a[a["label"] == 1]
    rows = model_comparisons({"fused": {"EXT": a, "ICI": one_class}, "pet": {"EXT": b, "ICI": one_class}})
    assert len(rows) == 1  # the one-class set is skipped
    r = rows[0]
    ref = delong_test(y[1:], a["dls"].to_numpy()[1:], b.set_index("patient_id").loc[a["patient_id"][1:], "dls"].to_numpy())
    assert (r["model"], r["comparator"], r["set"], r["n"]) == ("fused", "model pet", "EXT", 59)
    assert np.isclose(r["diff"], ref.diff) and np.isclose(r["p"], ref.p)


def test_model_cutoff_fixed_youden_and_not_computable():
    from dlscore.stats.discrimination import FIXED, YOUDEN, model_cutoff
    y, s = np.array([0, 0, 1, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8, 0.9])
    assert model_cutoff(y, s, 0.5) == {"cutoff": 0.5, "origin": FIXED, "rule": "fixed in the config "
                                       "(models.<name>.cutoff)", "n_training": 5}
    c = model_cutoff(y, s)
    assert c["origin"] == YOUDEN and c["cutoff"] == youden_cutoff(y, s)
    bad = model_cutoff(y, np.full(5, 0.3))
    assert np.isnan(bad["cutoff"]) and bad["rule"].startswith("not computable: ")


def test_primary_row_says_why_a_number_is_missing():
    from dlscore.stats.discrimination import primary_row
    y, s = np.array([0, 1, 0, 1, 1, 0]), np.array([0.2, 0.7, 0.4, 0.9, 0.3, 0.1])
    one_class = primary_row(np.ones(4), np.arange(4.0), {"set": "x"}, {"cutoff": 0.5, "rule": "r", "origin": "o"},
                            50, 1, 0.05)
    assert one_class["note"] == "AUC not computable: needs both classes" and "auc" not in one_class
    no_cut = primary_row(y, s, {}, {"cutoff": float("nan"), "rule": "not computable: x", "origin": "o"}, 50, 1, 0.05)
    assert no_cut["auc"] == pytest.approx(auc_delong(y, s).auc) and "sen" not in no_cut
    assert no_cut["note"] == "metrics at the cutoff not computable: x"
    full = primary_row(y, s, {}, {"cutoff": 0.5, "rule": "r", "origin": "o"}, 50, 1, 0.05)
    assert (full["tp"], full["fn"], full["tn"], full["fp"]) == (2, 1, 3, 0) and full["sen"] == pytest.approx(2 / 3)


@pytest.mark.needs_r
def test_no_useful_cutoff_when_the_score_points_the_wrong_way(r_data, run_r):
    """pROC::aSAH. A score reversed so that no threshold beats chance: pROC's best Youden
    threshold is infinite (no patient can use it), we say 'no useful cutoff'. -s100b (AUC < 0.5,
    direction kept): pROC still returns a threshold; we refuse it too, the direction is never
    flipped. s100b itself: the same threshold as pROC."""
    d = r_data("aSAH", "pROC")
    y = (d["outcome"] == "Poor").astype(int).to_numpy()
    rev = np.where(y == 1, 0.0, 1.0) + np.arange(len(y)) * 1e-3 * (y == 1)  # every positive below every negative
    out = run_r("data(aSAH); y <- as.integer(aSAH$outcome == 'Poor');"
                "best <- function(s) coords(roc(y, s, levels = c(0, 1), direction = '<', quiet = TRUE), 'best', "
                "best.method = 'youden', transpose = TRUE)['threshold'];"
                + r_json("sum(is.finite(best(rev)))", "auc(roc(y, -aSAH$s100b, levels = c(0, 1), direction = '<', quiet = TRUE))",
                         "best(aSAH$s100b)"), packages=("pROC",), data={"rev": rev})
    assert out[0] == 0 and out[1] < 0.5  # pROC: thresholds -Inf and Inf, both J = 0
    for score in (rev, -d["s100b"].to_numpy()):
        with pytest.raises(ValueError, match="no useful cutoff"):
            youden_cutoff(y, score)
    assert youden_cutoff(y, d["s100b"].to_numpy()) == pytest.approx(out[2], abs=1e-9)


@pytest.mark.needs_r
def test_auc_p_value_against_half_from_pROC_variance(r_data, run_r):
    from dlscore.stats.discrimination import auc_fields
    d = r_data("aSAH", "pROC")
    y = (d["outcome"] == "Poor").astype(int).to_numpy()
    out = run_r("data(aSAH); r <- roc(aSAH$outcome, aSAH$s100b, levels = c('Good', 'Poor'), direction = '<',"
                "quiet = TRUE);" + r_json("auc(r)", "2 * pnorm(-abs(auc(r) - 0.5) / sqrt(var(r)))"), packages=("pROC",))
    f = auc_fields(y, d["s100b"].to_numpy(), 0.05)
    assert [f["auc"], f["auc_p"]] == pytest.approx(out, abs=1e-9)
    assert np.isnan(auc_fields(np.array([0, 0, 1, 1]), np.array([1, 2, 3, 4]), 0.05)["auc_p"])  # separated: SE 0


@pytest.mark.needs_r
def test_subgroup_aucs_and_unpaired_test_match_pROC(r_data, run_r):
    """pROC::aSAH: s100b AUC for poor outcome in women and men, and roc.test(paired = FALSE)."""
    import pandas as pd

    from dlscore.stats.discrimination import subgroup_auc_rows
    d = r_data("aSAH", "pROC")
    frame = pd.DataFrame({"label": (d["outcome"] == "Poor").astype(int), "dls": d["s100b"], "gender": d["gender"]})
    rows = pd.DataFrame(subgroup_auc_rows(frame, ["gender", "absent"], {"model": "s100b"}, 0.05)).set_index("level")
    out = run_r("data(aSAH); r <- function(g) roc(aSAH$outcome[aSAH$gender == g], aSAH$s100b[aSAH$gender == g], "
                "levels = c('Good', 'Poor'), direction = '<', quiet = TRUE); f <- r('Female'); m <- r('Male');"
                "t <- roc.test(f, m, paired = FALSE, method = 'delong');"
                + r_json("auc(f)", "ci.auc(f)[c(1, 3)]", "auc(m)", "t$p.value"), packages=("pROC",))
    assert [rows.loc["Female", "auc"], rows.loc["Female", "auc_ci_low"], rows.loc["Female", "auc_ci_high"],
            rows.loc["Male", "auc"], rows.loc["Female vs Male", "p"]] == pytest.approx(out, abs=1e-9)
