import numpy as np
import pytest

from dlscore.stats import icc
from dlscore.stats.agreement import FORMS
from tests.conftest import r_json

# Shrout & Fleiss (1979) Table 2: 6 targets x 4 judges, published ICC values.
SF = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
SF_PUBLISHED = {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71, "ICC1k": 0.44, "ICC2k": 0.62, "ICC3k": 0.91}


@pytest.mark.parametrize("form", FORMS)
def test_shrout_fleiss_published(form):
    assert icc(SF, form).icc == pytest.approx(SF_PUBLISHED[form], abs=0.005)


@pytest.mark.needs_r
def test_icc_matches_psych(run_r):
    rng = np.random.default_rng(2)
    truth = rng.normal(size=40)
    x = np.column_stack([truth + rng.normal(scale=0.4, size=40), truth + 0.3 + rng.normal(scale=0.5, size=40)])
    out = run_r("m <- cbind(a, b); r <- ICC(m, lmer=FALSE)$results;"
                + r_json("r$ICC", "r$`lower bound`", "r$`upper bound`", "r$p"),
                packages=("psych",), data={"a": x[:, 0], "b": x[:, 1]})
    ours = [icc(x, f) for f in FORMS]
    n = len(FORMS)
    assert [r.icc for r in ours] == pytest.approx(out[:n], abs=1e-10)
    assert [r.ci_low for r in ours] == pytest.approx(out[n:2 * n], abs=1e-8)
    assert [r.ci_high for r in ours] == pytest.approx(out[2 * n:3 * n], abs=1e-8)
    assert [r.p for r in ours] == pytest.approx(out[3 * n:], abs=1e-12)


@pytest.mark.needs_r
def test_icc_with_a_missing_rating_matches_psych_complete_cases(run_r):
    """Shrout & Fleiss's published ratings with one rating missing: psych::ICC refuses and
    asks for na.omit (complete cases); we use the complete cases and say how many were left out."""
    x = SF.astype(float)
    x[2, 1] = np.nan
    out = run_r("m <- cbind(j1, j2, j3, j4); m[m == -999] <- NA; r <- ICC(na.omit(m), lmer = FALSE)$results;"
                + r_json("r$ICC", "r$`lower bound`", "r$`upper bound`", "r$p"), packages=("psych",),
                data={f"j{i + 1}": np.where(np.isnan(x[:, i]), -999.0, x[:, i]) for i in range(4)})
    n = len(FORMS)
    ours = [icc(x, f) for f in FORMS]
    assert [r.icc for r in ours] == pytest.approx(out[:n], abs=1e-10)
    assert [r.ci_low for r in ours] + [r.ci_high for r in ours] == pytest.approx(out[n:3 * n], abs=1e-8)
    assert [r.p for r in ours] == pytest.approx(out[3 * n:4 * n], abs=1e-12)
    assert ours[0].n_subjects == 5 and ours[0].n_incomplete == 1
    with pytest.raises(ValueError, match="fewer than 2 subjects"):
        icc([[1, 2], [np.nan, 3], [2, np.nan]])
