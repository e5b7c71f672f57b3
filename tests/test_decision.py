import numpy as np
import pytest

from dlscore.stats.decision import net_benefit


def test_net_benefit_by_hand():
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.4, 0.6, 0.2, 0.1])
    nb = net_benefit(y, p, [0.5]).iloc[0]
    # treat p >= 0.5: TP = 1, FP = 1; odds = 1
    assert nb["net_benefit"] == pytest.approx(1 / 5 - 1 / 5 * 1)
    assert nb["treat_all"] == pytest.approx(2 / 5 - 3 / 5 * 1)
    assert nb["treat_none"] == 0


def test_perfect_model_reaches_prevalence_and_threshold_bounds():
    y = np.array([1, 0, 1, 0])
    nb = net_benefit(y, y.astype(float), [0.1, 0.5, 0.9])
    np.testing.assert_allclose(nb["net_benefit"], 0.5)
    with pytest.raises(ValueError):
        net_benefit(y, y, [0.0])
