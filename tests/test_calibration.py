import numpy as np
import pytest

from dlscore.stats.calibration import brier, calibration_bins, hosmer_lemeshow, recalibration
from tests.conftest import r_json


def _sample(n=4000, seed=0, shrink=1.0):
    rng = np.random.default_rng(seed)
    lp = rng.normal(0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    return y, 1 / (1 + np.exp(-lp / shrink))


def test_perfectly_calibrated_predictions():
    y, p = _sample()
    r = recalibration(y, p)
    assert r.slope_ci_low < 1 < r.slope_ci_high and r.citl_ci_low < 0 < r.citl_ci_high
    assert hosmer_lemeshow(y, p)[2] > 0.01
    assert brier(y, p) < 0.25


def test_overconfident_predictions_have_slope_below_one():
    y, p = _sample(shrink=0.5)  # logits doubled
    r = recalibration(y, p)
    assert r.slope == pytest.approx(0.5, abs=0.05)
    assert hosmer_lemeshow(y, p)[2] < 0.001


def test_bins_partition_patients():
    y, p = _sample(n=103)
    b = calibration_bins(y, p, 5)
    assert sum(r["n"] for r in b) == 103
    assert all(r["observed_ci_low"] <= r["observed"] <= r["observed_ci_high"] for r in b)


def test_brier_value():
    assert brier([1, 0], [0.8, 0.4]) == pytest.approx((0.04 + 0.16) / 2)


@pytest.mark.needs_r
def test_recalibration_slope_matches_R(run_r):
    y, p = _sample(n=300, seed=3, shrink=0.8)
    out = run_r("lp <- log(p/(1-p)); f <- glm(y ~ lp, family=binomial);" + r_json("coef(f)"), data={"y": y, "p": p})
    r = recalibration(y, p)
    assert [r.intercept, r.slope] == pytest.approx(out[:2], abs=1e-6)


#: ResourceSelection::hoslem.test's rule (version 0.3-6), in base R: the reference, not our algorithm
HOSLEM = ("hoslem <- function(y, yhat, g) { qq <- unique(quantile(yhat, probs = seq(0, 1, 1/g)));"
          "cutyhat <- cut(yhat, breaks = qq, include.lowest = TRUE);"
          "obs <- xtabs(cbind(1 - y, y) ~ cutyhat); ex <- xtabs(cbind(1 - yhat, yhat) ~ cutyhat);"
          "chisq <- sum((obs - ex)^2 / ex); c(chisq, 1 - pchisq(chisq, g - 2)) };")


@pytest.mark.needs_r
@pytest.mark.parametrize("formula", ["low ~ smoke + race", "low ~ age + lwt + smoke + ptl + ht + ui"])
def test_hosmer_lemeshow_matches_hoslem_test_on_birthwt(r_data, run_r, formula):
    """MASS::birthwt: a discrete model (6 distinct predictions, many ties) and a continuous one."""
    import statsmodels.formula.api as smf
    d = r_data("birthwt", "MASS")
    d["race"] = d["race"].astype(str)
    yhat = smf.logit(formula, d).fit(disp=0).predict(d).to_numpy()
    out = run_r(HOSLEM + f"data(birthwt, package = 'MASS'); f <- glm({formula.replace('race', 'factor(race)')}, "
                "family = binomial, data = birthwt);" + r_json("hoslem(birthwt$low, fitted(f), 10)", "fitted(f)"),
                packages=("MASS",))
    assert yhat.tolist() == pytest.approx(out[2:], abs=1e-7)
    chi2, df, pv = hosmer_lemeshow(d["low"].to_numpy(), np.asarray(out[2:]), 10)
    assert (chi2, pv) == pytest.approx(out[:2], abs=1e-6) and df == 8


def test_hosmer_lemeshow_does_not_depend_on_row_order():
    rng = np.random.default_rng(0)
    p = rng.choice([0.1, 0.2, 0.35, 0.5, 0.7], 200)  # a discrete model: every group boundary ties
    y = (rng.random(200) < p).astype(float)
    ref = hosmer_lemeshow(y, p)
    for seed in range(5):
        k = np.random.default_rng(seed).permutation(200)
        assert hosmer_lemeshow(y[k], p[k]) == pytest.approx(ref, abs=1e-12)


def test_calibration_plot_with_bins_at_0_and_100_percent(tmp_path):
    """Wilson bounds at 0 % / 100 % may miss the point by rounding; the plot must still draw."""
    from dlscore.plots.calibration import plot_calibration
    for n in range(6, 40, 3):
        y = np.r_[np.zeros(n), np.ones(n)]
        p = np.linspace(0.01, 0.99, 2 * n)
        plot_calibration([("set", y, p)], tmp_path / f"c{n}.png")
        assert (tmp_path / f"c{n}.png").exists()
