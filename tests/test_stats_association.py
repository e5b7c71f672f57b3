"""Association statistics against R (stats package) and against direct computation."""

import numpy as np
import pandas as pd
import pytest

from dlscore.stats.association import (
    bootstrap_mean,
    categorical_test,
    compare_groups_continuous,
    correlation,
    group_from_breaks,
    mann_whitney,
    table_one,
)
from dlscore.stats.roc import auc_delong, bootstrap_auc
from tests.conftest import r_json


@pytest.fixture
def sample():
    rng = np.random.default_rng(7)
    g = rng.integers(0, 3, size=60)
    x = np.round(3 * rng.normal(size=60)) + g     # integers: exact ties in R too -> normal approx.
    b = (rng.random(60) < 0.4).astype(int)
    return x, g, b


@pytest.mark.needs_r
def test_tests_match_r(run_r, sample):
    x, g, b = sample
    out = run_r(
        "w <- suppressWarnings(wilcox.test(x[b == 1], x[b == 0]));"
        "we <- wilcox.test(u[1:8], u[9:15]);"
        "k <- kruskal.test(x, factor(g)); a <- oneway.test(x ~ factor(g), var.equal = TRUE);"
        "s <- suppressWarnings(cor.test(x, g, method = 'spearman', exact = FALSE));"
        "pb <- cor.test(x, b); tk <- TukeyHSD(aov(x ~ factor(g)))$`factor(g)`;"
        "f <- fisher.test(matrix(c(7, 2, 3, 9), 2)); ch <- fisher.test(matrix(c(7, 2, 3, 9, 4, 4), 2));"
        + r_json("w$statistic", "w$p.value", "we$statistic", "we$p.value", "k$statistic", "k$p.value",
                 "a$statistic", "a$p.value", "s$estimate", "s$p.value", "pb$estimate", "pb$p.value",
                 "tk[, 'diff']", "tk[, 'lwr']", "tk[, 'upr']", "tk[, 'p adj']", "f$p.value", "ch$p.value"),
        data={"x": x, "g": g, "b": b, "u": np.arange(15) * 1.37 % 5})
    u = np.arange(15) * 1.37 % 5
    w, p, _ = mann_whitney(x[b == 1], x[b == 0])
    we, pe, method = mann_whitney(u[:8], u[8:])
    assert "exact" in method
    omni, post = compare_groups_continuous(x, g)
    sp = correlation(x, g, "spearman")
    pb = correlation(x, b, "point-biserial")
    ours = [w, p, we, pe, omni["kruskal_h"], omni["kruskal_p"], omni["anova_f"], omni["anova_p"], sp.r, sp.p,
            pb.r, pb.p, *post["mean_diff"], *post["tukey_ci_low"], *post["tukey_ci_high"], *post["tukey_p"],
            categorical_test(np.array([[7, 3], [2, 9]]))[0],
            categorical_test(np.array([[7, 3, 4], [2, 9, 4]]))[0]]
    # R's ptukey is accurate to ~1e-7 only; everything else to 1e-9
    assert ours[:12] == pytest.approx(out[:12], rel=1e-9, abs=1e-12)
    assert ours[12:24] == pytest.approx(out[12:24], abs=1e-9)
    assert ours[24:27] == pytest.approx(out[24:27], abs=1e-6)
    assert ours[27:] == pytest.approx(out[27:], rel=1e-9)


def test_table_one_layout():
    df = pd.DataFrame({"label": [0, 0, 1, 1, 1, np.nan], "age": [50, 60, 70, np.nan, 65, 40],
                       "sex": ["f", "m", "m", "m", None, "f"]})
    t = table_one(df, "label", ["age"], ["sex"])
    assert list(t.columns) == ["variable", "level", "overall", "label=0", "label=1", "p", "test"]
    assert t.iloc[0][["overall", "label=0", "label=1"]].tolist() == ["5", "2", "3"]
    age = t[(t["variable"] == "age") & (t["level"] == "median [IQR]")].iloc[0]
    assert age["label=0"] == "55 [52.5–57.5]"
    assert (t[(t["variable"] == "age") & (t["level"] == "missing")]["label=1"] == "1").all()
    sex = t[t["variable"] == "sex"].set_index("level")
    assert sex.at["m", "label=1"] == "2 (100 %)" and sex.at["f", "test"] == "Fisher's exact"
    assert sex.at["f", "p"] == 1.0 and np.isnan(sex.at["m", "p"])


def test_correlation_degenerate_and_errors():
    assert np.isnan(correlation([1, 1, 1, 1, 1], [1, 2, 3, 4, 5]).r)
    with pytest.raises(ValueError, match="0/1"):
        correlation([1, 2, 3, 4, 5], [0, 1, 2, 1, 0], "point-biserial")


def test_bootstrap_mean_se_close_to_analytic():
    x = np.random.default_rng(3).normal(2.0, 1.0, 400)
    r = bootstrap_mean(x, 4000, seed=1)
    assert r["mean"] == pytest.approx(x.mean())
    assert r["se"] == pytest.approx(x.std(ddof=1) / np.sqrt(x.size), rel=0.06)
    assert r["ci_low"] < r["mean"] < r["ci_high"]
    assert bootstrap_mean(x, 500, seed=1) == bootstrap_mean(x, 500, seed=1)


def test_group_from_breaks():
    g = group_from_breaks([0, 0.5, 1, 49, 50, 100, np.nan], [1, 50], ["<1", "1-49", ">=50"])
    assert g.tolist()[:6] == ["<1", "<1", "1-49", "1-49", ">=50", ">=50"] and pd.isna(g.iloc[6])


def test_bootstrap_auc_replicates_are_exact_aucs():
    """Every vectorised replicate equals the AUC of the resampled data computed directly."""
    rng = np.random.default_rng(5)
    y = (rng.random(80) < 0.4).astype(int)
    s = np.round(rng.normal(y), 1)  # ties
    lo, hi, reps = bootstrap_auc(y, s, n_boot=50, seed=11)
    pos, neg = s[y == 1], np.sort(s[y == 0])  # the function resamples the sorted negatives
    r = np.random.default_rng(11)
    ip = r.integers(0, pos.size, (50, pos.size))
    ineg = r.integers(0, neg.size, (50, neg.size))
    for k in range(50):
        yy = np.r_[np.ones(pos.size), np.zeros(neg.size)]
        assert reps[k] == pytest.approx(auc_delong(yy, np.r_[pos[ip[k]], neg[ineg[k]]]).auc, abs=1e-12)
    assert lo < auc_delong(y, s).auc < hi


@pytest.mark.needs_r
def test_anova_and_tukey_keep_a_one_patient_group_as_R_does(r_data, run_r):
    """survival::lung, age by ph.ecog: ECOG 3 has one patient; R's aov/TukeyHSD keep it."""
    d = r_data("lung", "survival").dropna(subset=["ph.ecog"])
    assert (d["ph.ecog"] == 3).sum() == 1
    omni, post = compare_groups_continuous(d["age"], d["ph.ecog"].astype(int))
    out = run_r("data(lung); l <- lung[!is.na(lung$ph.ecog), ]; a <- summary(aov(age ~ factor(ph.ecog), l))[[1]];"
                "tk <- TukeyHSD(aov(age ~ factor(ph.ecog), l))$`factor(ph.ecog)`;"
                "k <- kruskal.test(age ~ factor(ph.ecog), l);"
                + r_json("a[1, 'F value']", "a[1, 'Pr(>F)']", "k$statistic", "k$p.value", "tk[, 'diff']",
                         "tk[, 'lwr']", "tk[, 'upr']", "tk[, 'p adj']"), packages=("survival",))
    assert omni["groups"] == 4 and omni["n"] == len(d)
    assert [omni["anova_f"], omni["anova_p"], omni["kruskal_h"], omni["kruskal_p"]] == pytest.approx(out[:4], abs=1e-9)
    assert post["mean_diff"].tolist() == pytest.approx(out[4:10], abs=1e-9)
    assert [*post["tukey_ci_low"], *post["tukey_ci_high"]] == pytest.approx(out[10:22], abs=1e-6)
    assert post["tukey_p"].tolist() == pytest.approx(out[22:], abs=1e-6)


@pytest.mark.needs_r
def test_fisher_rxc_matches_r_fisher_test_on_birthwt(r_data, run_r):
    """MASS::birthwt (data we did not make): race x smoke (3 x 2), race x ptl (3 x 4), low x ftv
    (2 x 6, sparse), smoke x ht: exact p as R's fisher.test. race x ftv (3 x 6) has too many
    tables to enumerate within the budget: a seeded Monte Carlo p, named, within its sampling
    error of R's exact p."""
    from dlscore.stats.exact import fisher_exact_rxc
    d = r_data("birthwt", "MASS")
    pairs = [("race", "smoke"), ("race", "ptl"), ("low", "ftv"), ("smoke", "ht"), ("race", "ftv")]
    out = run_r("data(birthwt); v <- c(" + ",".join(
        f"fisher.test(table(birthwt${a}, birthwt${b}), workspace = 2e7)$p.value" for a, b in pairs) + ");"
        + r_json("v"), packages=("MASS",))
    ours = [fisher_exact_rxc(pd.crosstab(d[a], d[b]).to_numpy()) for a, b in pairs[:4]]
    assert all(m == "Fisher's exact" for _, m in ours)
    assert [p for p, _ in ours] == pytest.approx(out[:4], rel=1e-7)
    race_ftv = pd.crosstab(d["race"], d["ftv"]).to_numpy()
    p_mc, method = fisher_exact_rxc(race_ftv, n_sim=20_000, seed=3)
    assert "Monte Carlo" in method and "20000" in method
    assert abs(p_mc - out[4]) < 4 * np.sqrt(out[4] * (1 - out[4]) / 20_000)
    assert fisher_exact_rxc(race_ftv, max_tables=100, n_sim=2000, seed=3) == \
        fisher_exact_rxc(race_ftv, max_tables=100, n_sim=2000, seed=3)  # seeded: the same p every run


def test_fisher_rxc_degenerate_tables():
    from dlscore.stats.exact import fisher_exact_rxc
    assert fisher_exact_rxc(np.array([[3, 0], [4, 0]]))[1] == "not testable (one level)"
    p, m = fisher_exact_rxc(np.array([[5, 0, 0], [0, 5, 0], [0, 0, 5]]))
    assert m == "Fisher's exact" and 0 < p < 1e-5
    assert fisher_exact_rxc(np.array([[2, 2, 2], [2, 2, 2]]))[0] == pytest.approx(1.0)


@pytest.mark.needs_r
def test_linear_regression_matches_r_lm_on_birthwt(r_data, run_r):
    """MASS::birthwt: bwt ~ age + lwt + race (factor, reference 1) + smoke, as R's lm."""
    from dlscore.clinical import design_matrix
    from dlscore.stats.association import linear_regression
    d = r_data("birthwt", "MASS")
    d.loc[[3, 10], "lwt"] = np.nan  # complete cases, as lm's na.omit
    X, _ = design_matrix(d, {"age": {"type": "continuous"}, "lwt": {"type": "continuous"},
                             "race": {"type": "categorical", "reference": 1}, "smoke": {"type": "binary"}})
    t = linear_regression(d["bwt"], X).set_index("term")
    out = run_r("data(birthwt); b <- birthwt; b$lwt[c(4, 11)] <- NA; b$race <- factor(b$race);"
                "f <- lm(bwt ~ age + lwt + race + smoke, b); s <- summary(f); ci <- confint(f);"
                "fs <- s$fstatistic;" + r_json("coef(f)", "ci[, 1]", "ci[, 2]", "s$coefficients[, 4]", "s$r.squared",
                                                  "s$adj.r.squared", "pf(fs[1], fs[2], fs[3], lower.tail = FALSE)",
                                                  "nobs(f)"), packages=("MASS",))
    k = len(t)
    assert t["coef"].tolist() == pytest.approx(out[:k], rel=1e-9)
    assert t["ci_low"].tolist() + t["ci_high"].tolist() == pytest.approx(out[k:3 * k], rel=1e-9)
    assert t["p"].tolist() == pytest.approx(out[3 * k:4 * k], rel=1e-7)
    assert [t["r2"].iloc[0], t["r2_adj"].iloc[0], t["f_p"].iloc[0], t["n"].iloc[0]] == pytest.approx(out[4 * k:], rel=1e-7)
    collinear = linear_regression(d["bwt"], X.assign(age2=X["age"] * 2))
    assert collinear["note"].iloc[0] == "not computable: collinear terms"
