import numpy as np
import pytest

from dlscore.stats.calibration import brier, calibration_bins, hosmer_lemeshow, recalibration


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
def test_hl_and_slope_match_R(run_r):
    y, p = _sample(n=300, seed=3, shrink=0.8)
    out = run_r("lp <- log(p/(1-p)); f <- glm(y ~ lp, family=binomial);"
                "g <- cut(rank(p, ties.method='first'), breaks=quantile(rank(p, ties.method='first'), 0:10/10), include.lowest=TRUE);"
                "o <- tapply(y, g, sum); e <- tapply(p, g, sum); n <- tapply(p, g, length);"
                "hl <- sum((o-e)^2/(e*(1-e/n)));"
                + "cat('[', paste(sprintf('%.17g', c(coef(f), hl)), collapse=','), ']\\n')",
                data={"y": y, "p": p})
    r = recalibration(y, p)
    assert [r.intercept, r.slope] == pytest.approx(out[:2], abs=1e-6)
    assert hosmer_lemeshow(y, p)[0] == pytest.approx(out[2], rel=1e-6)


def test_calibration_plot_with_bins_at_0_and_100_percent(tmp_path):
    """Wilson bounds at 0 % / 100 % may miss the point by rounding; the plot must still draw."""
    from dlscore.plots.calibration import plot_calibration
    for n in range(6, 40, 3):
        y = np.r_[np.zeros(n), np.ones(n)]
        p = np.linspace(0.01, 0.99, 2 * n)
        plot_calibration([("set", y, p)], tmp_path / f"c{n}.png")
        assert (tmp_path / f"c{n}.png").exists()
