import numpy as np
import pytest

from dlscore.survival import compare_groups
from tests.conftest import r_json


def _data(seed=0, n=80):
    rng = np.random.default_rng(seed)
    high = rng.random(n) < 0.5
    t = rng.exponential(np.where(high, 10.0, 5.0))
    c = rng.uniform(2, 20, n)
    return np.round(np.minimum(t, c), 1), (t <= c).astype(int), high  # rounding makes ties


def test_groups_counts_and_direction():
    t, e, h = _data()
    r = compare_groups(t, e, h)
    assert r["n_high"] + r["n_low"] == len(t) and r["events_high"] == e[h].sum()
    assert r["hr"] < 1 and r["hr_ci_low"] < r["hr"] < r["hr_ci_high"]
    assert r["median_high"] > r["median_low"]


def test_rejects_bad_events():
    with pytest.raises(ValueError, match="0 \\(censored\\) or 1"):
        compare_groups([1, 2, 3], [0, 2, 1], [True, False, True])


@pytest.mark.needs_r
def test_logrank_and_cox_match_R_survival(run_r):
    t, e, h = _data()
    out = run_r(
        "g <- as.numeric(h); f <- coxph(Surv(t, e) ~ g, ties='efron'); s <- summary(f);"
        "lr <- survdiff(Surv(t, e) ~ g);"
        "km <- survfit(Surv(t, e) ~ g);"
        "m <- summary(km)$table[, 'median'];"
        + r_json("coef(f)", "sqrt(vcov(f))", "s$conf.int[1, 3]", "s$conf.int[1, 4]", "s$coefficients[1, 5]",
                 "lr$chisq", "m[2]", "m[1]"),
        packages=("survival",), data={"t": t, "e": e, "h": h.astype(float)})
    r = compare_groups(t, e, h)
    assert np.log(r["hr"]) == pytest.approx(out[0], abs=1e-6)
    assert [r["hr_ci_low"], r["hr_ci_high"], r["hr_p"]] == pytest.approx(out[2:5], abs=1e-6)
    assert r["logrank_chi2"] == pytest.approx(out[5], abs=1e-6)
    assert [r["median_high"], r["median_low"]] == pytest.approx(out[6:8], abs=1e-9)


def test_no_events_in_one_group_is_not_estimable():
    t = np.array([1.0, 2, 3, 4, 5, 6])
    e = np.array([1, 1, 1, 0, 0, 0])
    h = np.array([False, False, False, True, True, True])
    r = compare_groups(t, e, h)
    assert np.isnan(r["hr"]) and r["estimable"].startswith("no: no events")
    assert np.isfinite(r["logrank_p"])


@pytest.mark.needs_r
@pytest.mark.parametrize("t, e", [
    ([1, 2, 3, 4], [1, 1, 1, 1]),                    # S = 0.5 exactly on [2, 3): median 2.5
    ([1, 2, 2, 3, 5, 8, 9, 12], [1, 1, 0, 1, 1, 0, 1, 0]),
    ([3, 3, 4, 6, 6, 7, 10, 15, 15, 20], [1, 0, 1, 1, 1, 0, 1, 1, 0, 0]),
])
def test_median_rule_small_cases(run_r, t, e):
    from dlscore.survival import median_with_ci
    out = run_r("k <- survfit(Surv(t, e) ~ 1); m <- summary(k)$table;"
                + r_json("m['median']", "m['0.95LCL']", "m['0.95UCL']"),
                packages=("survival",), data={"t": t, "e": e})
    ours = median_with_ci(t, e)
    assert [np.inf if v is None else v for v in out] == pytest.approx(list(ours), abs=1e-9)


@pytest.mark.needs_r
def test_km_table_and_median_ci_match_R(run_r):
    from dlscore.survival import km_table, median_with_ci
    t, e, h = _data(seed=4, n=60)
    out = run_r("k <- survfit(Surv(t, e) ~ 1); m <- summary(k)$table;"
                + r_json("k$surv", "k$lower", "k$upper", "m['median']", "m['0.95LCL']", "m['0.95UCL']"),
                packages=("survival",), data={"t": t, "e": e})
    km = km_table(t, e)
    n = len(km)
    np.testing.assert_allclose(km["surv"], out[:n], atol=1e-12)
    np.testing.assert_allclose(km["lower"], out[n:2 * n], atol=1e-10)
    np.testing.assert_allclose(km["upper"], out[2 * n:3 * n], atol=1e-10)
    assert list(median_with_ci(t, e)) == pytest.approx([np.inf if v is None else v for v in out[3 * n:]], abs=1e-9)


@pytest.mark.needs_r
def test_monotone_likelihood_is_not_estimable_as_r_warns(run_r):
    """Every event of the high group happens while low patients are at risk and the low
    group's events only after the high group has left: R's coxph warns that the coefficient
    may be infinite and returns a huge HR; we report it as not estimable, never as a number."""
    from dlscore.survival import compare_groups, monotone_likelihood
    t = np.arange(1.0, 12.0)
    e = np.array([1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1])
    h = np.array([1] * 5 + [0] * 6)
    r = run_r("w <- NULL; f <- withCallingHandlers(coxph(Surv(t, e) ~ h), warning = function(m) "
              "{w <<- conditionMessage(m); invokeRestart('muffleWarning')}); "
              "cat(sprintf('[%.17g, %d]', coef(f), as.integer(grepl('infinite', w))), '\\n')",
              packages=("survival",), data={"t": t, "e": e, "h": h})
    assert r[0] > 10 and r[1] == 1, r  # R: log-HR beyond 10, "coefficient may be infinite"
    assert monotone_likelihood(t, e, h) == 1
    res = compare_groups(t, e, h.astype(bool))
    assert res["estimable"].startswith("no: monotone likelihood") and np.isnan(res["hr"])
    # the same data with one early low-group event is estimable, and equals R
    e2 = e.copy()
    t2 = t.copy()
    t2[5] = 2.5
    assert monotone_likelihood(t2, e2, h) == 0
    r2 = run_r("cat(sprintf('[%.17g]', exp(coef(coxph(Surv(t, e) ~ h, ties = 'efron')))), '\\n')",
               packages=("survival",), data={"t": t2, "e": e2, "h": h})
    res2 = compare_groups(t2, e2, h.astype(bool))
    assert res2["estimable"] == "yes" and abs(res2["hr"] - r2[0]) < 1e-3 * r2[0]  # lifelines stops early (issue: Cox convergence)


@pytest.mark.needs_r
def test_stratified_logrank_and_cox_match_survdiff_and_coxph(r_data, run_r):
    """survival::lung: sex, stratified by ph.ecog (a multi-institution study stratifies by cohort)."""
    from dlscore.survival import compare_groups
    d = r_data("lung", "survival").dropna(subset=["ph.ecog"])
    res = compare_groups(d["time"], (d["status"] == 2).astype(float), d["sex"] == 2, strata=d["ph.ecog"])
    out = run_r("data(lung); l <- lung[!is.na(lung$ph.ecog), ];"
                "sd <- survdiff(Surv(time, status == 2) ~ I(sex == 2) + strata(ph.ecog), l);"
                "f <- coxph(Surv(time, status == 2) ~ I(sex == 2) + strata(ph.ecog), l); s <- summary(f);"
                + r_json("sd$chisq", "s$coefficients[1, 2]", "s$conf.int[1, 3:4]", "s$coefficients[1, 5]"),
                packages=("survival",))
    assert [res["logrank_chi2"], res["hr"], res["hr_ci_low"], res["hr_ci_high"], res["hr_p"]] == \
        pytest.approx(out, abs=1e-6)


@pytest.mark.needs_r
def test_km_at_horizon_matches_survfit_and_its_bootstrap_replicates(r_data, run_r):
    """survival::lung: KM at a horizon as summary(survfit(...), times = h) (extend = TRUE), for
    the sample and for weighted replicates (survfit with case weights = bootstrap counts), at
    0, 180, 365, 883 (an event time of lung: the step there counts) and 2000 days."""
    import numpy as np

    from dlscore.survival import km_at
    d = r_data("lung", "survival")
    t, e = d["time"].to_numpy(float), (d["status"] == 2).to_numpy(float)
    counts = np.random.default_rng(3).multinomial(len(t), np.full(len(t), 1 / len(t)), size=3)
    horizons = [0.0, 180.0, 365.0, 883.0, 2000.0]
    got = np.concatenate([km_at(t, e, h, np.vstack([np.ones(len(t)), counts])) for h in horizons])
    ws = "list(rep(1, nrow(lung)), " + ", ".join("c(" + ",".join(map(str, c)) + ")" for c in counts) + ")"
    out = run_r(f"data(lung); ws <- {ws}; v <- unlist(lapply(c({', '.join(map(str, horizons))}), function(h) "
                "sapply(ws, function(w) { k <- w > 0; summary(survfit(Surv(time, status == 2) ~ 1, lung[k, ], "
                "weights = w[k]), times = h, extend = TRUE)$surv }))); " + r_json("v"), packages=("survival",))
    assert got == pytest.approx(out, abs=1e-12)


@pytest.mark.needs_r
def test_four_groups_pairwise_logrank_matches_survdiff_per_pair_and_p_adjust(r_data, run_r):
    """survival::lung, four groups sex x (ph.ecog >= 1), as the PET/CT paper's DLS x IHC figure:
    every pair's chi-square equals survdiff on the two groups' patients; Holm as R p.adjust."""
    from dlscore.survival import cross_groups, pairwise_logrank
    d = r_data("lung", "survival").dropna(subset=["ph.ecog"])
    labels = cross_groups(np.where(d["sex"] == 2, "female", "male"), np.where(d["ph.ecog"] >= 1, "ECOG 1+", "ECOG 0"))
    res = pairwise_logrank(d["time"], (d["status"] == 2).astype(int), labels)
    assert len(res) == 6 and set(res["group_a"]) | set(res["group_b"]) == set(labels)
    code = ("data(lung); l <- lung[!is.na(lung$ph.ecog), ]; l$g <- paste(l$sex == 2, l$ph.ecog >= 1);"
            "pr <- combn(unique(l$g), 2); chi <- apply(pr, 2, function(p) survdiff(Surv(time, status == 2) ~ g,"
            " l[l$g %in% p, ])$chisq); pv <- 1 - pchisq(chi, 1);" + r_json("chi", "pv", "p.adjust(pv, 'holm')"))
    out = run_r(code, packages=("survival",))
    # R's unique() order equals ours (first appearance): the pairs line up one to one
    assert res["chi2"].tolist() + res["p"].tolist() + res["p_holm"].tolist() == pytest.approx(out, rel=1e-9)


def test_cross_groups_marks_patients_missing_a_grouping():
    from dlscore.survival import cross_groups
    out = cross_groups(["High DLS", "Low DLS", None, "High DLS"], ["IHC-", "IHC-", "IHC+", np.nan])
    assert out.tolist() == ["High DLS, IHC-", "Low DLS, IHC-", "", ""]
