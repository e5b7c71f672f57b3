"""Clinical-validation statistics against R survival/stats and against direct computation."""

import numpy as np
import pandas as pd
import pytest

from dlscore.clinical import (
    compare_cindex,
    cox_binary_efron,
    cox_fit,
    design_matrix,
    harrell_c,
    hr_difference_bootstrap,
    interaction_p,
    logistic_fit,
    rates_by_group,
    subgroup_table,
)
from tests.conftest import r_json


def _cohort(seed=3, n=120, ties=True):
    rng = np.random.default_rng(seed)
    g = (rng.random(n) < 0.5).astype(float)
    age = np.round(rng.normal(63, 9, n))
    ecog = rng.choice(3, n, p=[0.4, 0.45, 0.15]).astype(float)
    t = rng.exponential(np.exp(-(-0.7 * g + 0.3 * (ecog >= 1) + 0.01 * (age - 63))) * 8)
    c = rng.uniform(3, 30, n)
    time = np.minimum(t, c)
    time = np.round(time, 1) + 0.1 if ties else time
    return pd.DataFrame({"t": time, "e": (t <= c).astype(float), "g": g, "age": age, "ecog": ecog,
                         "hist": np.where(rng.random(n) < 0.35, "squamous", "adeno"),
                         "dcb": (rng.random(n) < 0.3 + 0.25 * g).astype(float)})


@pytest.mark.needs_r
def test_multivariable_cox_matches_R(run_r):
    d = _cohort()
    X, terms = design_matrix(d, {"g": {"type": "binary"}, "age": {"type": "continuous"},
                                 "ecog": {"type": "categorical", "reference": 0}})
    assert terms["ecog"] == ["ecog=1", "ecog=2"]
    fit = cox_fit(d["t"], d["e"], X)
    out = run_r("f <- coxph(Surv(t, e) ~ g + age + factor(ecog), ties = 'efron');"
                + r_json("coef(f)", "sqrt(diag(vcov(f)))", "summary(f)$coefficients[, 5]"),
                packages=("survival",), data={c: d[c] for c in ("t", "e", "g", "age", "ecog")})
    assert fit["terms"]["coef"].tolist() == pytest.approx(out[0:4], abs=1e-6)
    assert fit["terms"]["se"].tolist() == pytest.approx(out[4:8], abs=1e-6)
    assert fit["terms"]["p"].tolist() == pytest.approx(out[8:12], abs=1e-6)


@pytest.mark.needs_r
def test_concordance_matches_R(run_r):
    d = _cohort(ties=False)
    lp = 0.8 * d["g"] - 0.02 * d["age"]
    out = run_r("k <- concordance(Surv(t, e) ~ lp, reverse = TRUE);" + r_json("k$concordance"),
                packages=("survival",), data={"t": d["t"], "e": d["e"], "lp": lp})
    assert harrell_c(d["t"], d["e"], lp) == pytest.approx(out[0], abs=1e-9)


def test_harrell_c_equals_lifelines_with_ties():
    from lifelines.utils import concordance_index
    d = _cohort()
    risk = np.round(d["g"] + 0.01 * d["age"], 1)  # ties in the score too
    assert harrell_c(d["t"], d["e"], risk) == pytest.approx(concordance_index(d["t"], -risk, d["e"]), abs=1e-12)


@pytest.mark.needs_r
def test_vectorised_efron_fit_matches_R_on_replicated_rows(run_r):
    d = _cohort(n=60)
    w = np.random.default_rng(9).integers(0, 3, len(d))
    rep = np.repeat(np.arange(len(d)), w)
    out = run_r("f0 <- coxph(Surv(t, e) ~ g, ties = 'efron'); f1 <- coxph(Surv(tr, er) ~ gr, ties = 'efron');"
                + r_json("coef(f0)", "coef(f1)"), packages=("survival",),
                data={"t": d["t"], "e": d["e"], "g": d["g"], "tr": d["t"].to_numpy()[rep],
                      "er": d["e"].to_numpy()[rep], "gr": d["g"].to_numpy()[rep]})
    beta = cox_binary_efron(d["t"], d["e"], d["g"], np.vstack([np.ones(len(d)), w]))
    assert beta == pytest.approx(out, abs=1e-8)


def test_efron_fit_flags_monotone_likelihood():
    t = np.arange(1.0, 9.0)
    e = np.ones(8)
    g = np.array([0, 1, 0, 0, 1, 0, 1, 1.0])
    w = np.vstack([np.ones(8), 1.0 - g])  # replicate 2: nobody drawn from group 1
    b = cox_binary_efron(t, e, g, w)
    assert np.isfinite(b[0]) and np.isnan(b[1])


@pytest.mark.needs_r
def test_logistic_and_fisher_match_R(run_r):
    d = _cohort()
    X, _ = design_matrix(d, {"g": {"type": "binary"}, "hist": {"type": "categorical", "reference": "adeno"}})
    fit = logistic_fit(d["dcb"], X)
    rates = rates_by_group(d["dcb"], d["g"] == 1)
    out = run_r("f <- glm(y ~ g + s, family = binomial); s2 <- summary(f)$coefficients;"
                "ft <- fisher.test(table(factor(g, levels = c(1, 0)), factor(y, levels = c(1, 0))));"
                + r_json("s2[-1, 1]", "s2[-1, 2]", "s2[-1, 4]", "ft$p.value"),
                data={"y": d["dcb"], "g": d["g"], "s": (d["hist"] == "squamous").astype(float)})
    assert fit["terms"]["coef"].tolist() == pytest.approx(out[0:2], abs=1e-6)
    assert fit["terms"]["se"].tolist() == pytest.approx(out[2:4], abs=1e-6)
    assert fit["terms"]["p"].tolist() == pytest.approx(out[4:6], abs=1e-6)
    assert rates["p"] == pytest.approx(out[6], abs=1e-9)


@pytest.mark.needs_r
def test_interaction_lrt_matches_R(run_r):
    d = _cohort()
    s = (d["hist"] == "squamous").astype(float)
    out = run_r("a <- coxph(Surv(t, e) ~ g * s); b <- coxph(Surv(t, e) ~ g + s);"
                "p <- anova(b, a)[2, 'Pr(>|Chi|)'];" + r_json("p"),
                packages=("survival",), data={"t": d["t"], "e": d["e"], "g": d["g"], "s": s})
    assert interaction_p(d["t"], d["e"], d["g"], d["hist"]) == pytest.approx(out[0], abs=1e-5)


def test_cindex_comparison_z_and_bootstrap_agree():
    d = _cohort(n=150)
    good = -(0.8 * d["g"]) + np.random.default_rng(1).normal(0, 0.3, len(d))
    weak = good + np.random.default_rng(2).normal(0, 1.0, len(d))
    r = compare_cindex(d["t"], d["e"], -good, -weak, n_boot=400, seed=4)
    boot_se = (r["diff_ci_high"] - r["diff_ci_low"]) / (2 * 1.96)
    assert r["diff_se"] == pytest.approx(boot_se, rel=0.3)
    assert r["c_a"] == pytest.approx(harrell_c(d["t"], d["e"], -good))
    assert r["c_a_ci_low"] < r["c_a"] < r["c_a_ci_high"]


def test_hr_difference_bootstrap_is_seeded_and_covers_the_estimate():
    d = _cohort()
    x_b = (d["age"] > 63).astype(float)
    a = hr_difference_bootstrap(d["t"], d["e"], d["g"], x_b, n_boot=1000, seed=5)
    b = hr_difference_bootstrap(d["t"], d["e"], d["g"], x_b, n_boot=1000, seed=5)
    assert a == b
    assert a["ci_low"] < a["diff"] < a["ci_high"] and a["n_boot_used"] == 1000
    assert a["hr_a"] == pytest.approx(np.exp(cox_fit(d["t"], d["e"], d[["g"]])["terms"]["coef"].iloc[0]), rel=1e-5)


def test_design_matrix_errors_name_the_fix():
    d = _cohort()
    with pytest.raises(ValueError, match="clinical.covariates.hist.reference"):
        design_matrix(d, {"hist": {"type": "categorical", "reference": "large cell"}})
    with pytest.raises(ValueError, match="declare it categorical"):
        design_matrix(d, {"hist": {"type": "continuous"}})


def test_subgroup_table_rows_and_not_estimable_levels():
    d = _cohort()
    d.loc[(d["hist"] == "squamous") & (d["g"] == 1), "e"] = 0  # no events in one arm of a subgroup
    tab = subgroup_table(d, "t", "e", "g", ["hist"], dcb="dcb")
    assert tab.iloc[0]["subgroup"] == "all patients" and tab.iloc[0]["n"] == len(d)
    sq = tab[(tab["subgroup"] == "hist") & (tab["level"] == "squamous")].iloc[0]
    assert np.isnan(sq["hr"]) and sq["estimable"].startswith("no")
    assert tab.loc[tab["subgroup"] == "hist", "n"].sum() == len(d)
    # a level without an estimable HR: flagged, and no interaction test resting on a diverging fit
    assert "not estimable" in sq["flag"] and tab.loc[tab["subgroup"] == "hist", "interaction_p"].isna().all()
    assert tab.loc[tab["subgroup"] == "hist", "interaction_note"].str.startswith("not computable").all()
    assert tab.iloc[0]["flag"] == ""


def test_subgroup_flags_small_subgroups():
    from dlscore.clinical import subgroup_flag
    ok = {"estimable": "yes", "events_high": 8, "events_low": 7, "n_high": 20, "n_low": 20}
    assert subgroup_flag(ok) == ""
    assert subgroup_flag({**ok, "events_high": 2, "events_low": 3}) == "fewer than 10 events"
    assert subgroup_flag({**ok, "n_low": 4}) == "fewer than 5 patients in an arm"


def test_points_table_reproduces_the_cox_prediction():
    from dlscore.nomogram import points_table
    d = _cohort()
    X, terms = design_matrix(d, {"g": {"type": "binary"}, "ecog": {"type": "categorical", "reference": 0}})
    cph = cox_fit(d["t"], d["e"], X)["model"]
    pts, tot = points_table(cph, X, terms, 12.0, references={"ecog": "0"})
    assert pts["points"].max() == pytest.approx(100.0) and pts.groupby("variable")["points"].min().eq(0).all()
    for i in (0, 7, 30):
        row = X.iloc[[i]]
        ecog = next((c.split("=")[1] for c in terms["ecog"] if row[c].iloc[0] == 1), "0")
        p = (pts[(pts.variable == "g") & (pts.level == f"{row['g'].iloc[0]:g}")].points.iloc[0]
             + pts[(pts.variable == "ecog") & (pts.level == ecog)].points.iloc[0])
        expect = float(cph.predict_survival_function(row, times=[12.0]).iloc[0, 0])
        assert np.interp(p, tot["total_points"], tot["survival_at_12"]) == pytest.approx(expect, abs=0.02)


@pytest.mark.needs_r
@pytest.mark.parametrize("data,formula,columns", [
    ("lung", "age + sex + ph.ecog", ["age", "sex", "ph.ecog"]),
    ("veteran", "trt + factor(celltype) + karno + age", ["trt", "celltype", "karno", "age"]),
])
def test_cox_fit_converges_as_coxph_on_R_data(r_data, run_r, data, formula, columns):
    """coxph (Efron ties) on survival's own data sets: coefficients, SE and p to 1e-6."""
    d = r_data(data, "survival").dropna(subset=["time", "status", *columns])
    event = (d["status"] == 2).astype(float) if data == "lung" else d["status"].astype(float)
    covs = {c: {"type": "categorical", "reference": "squamous"} if c == "celltype" else {"type": "continuous"}
            for c in columns}
    X = design_matrix(d, covs)[0] if data == "veteran" else d[columns]
    ours = cox_fit(d["time"], event, X)["terms"].set_index("term")
    # R's celltype levels are squamous, smallcell, adeno, large: squamous is its reference
    out = run_r(f"data({data}); f <- coxph(Surv(time, {'status == 2' if data == 'lung' else 'status'}) ~ {formula}, "
                f"data = {data}, ties = 'efron'); s <- summary(f)$coefficients;"
                + r_json("s[, 1]", "s[, 3]", "s[, 5]"), packages=("survival",))
    k = len(ours)
    names = ["trt", "celltype=smallcell", "celltype=adeno", "celltype=large", "karno", "age"] \
        if data == "veteran" else columns
    ours = ours.loc[names]
    assert ours["coef"].tolist() == pytest.approx(out[:k], abs=1e-6)
    assert ours["se"].tolist() == pytest.approx(out[k:2 * k], abs=1e-6)
    assert ours["p"].tolist() == pytest.approx(out[2 * k:], abs=1e-6)


@pytest.mark.needs_r
def test_default_reference_level_is_R_factor_order(r_data, run_r):
    """Without a configured reference, a categorical covariate is coded as R's factor() does:
    veteran's celltype (text) and lung's ph.ecog (numbers, 10 sorts after 2 as a number)."""
    from dlscore.clinical import first_level, reference_of
    d = r_data("lung", "survival").dropna(subset=["ph.ecog"])
    X, terms = design_matrix(d, {"ph.ecog": {"type": "categorical"}})
    assert terms["ph.ecog"] == ["ph.ecog=1", "ph.ecog=2", "ph.ecog=3"]
    assert reference_of(d, "ph.ecog", {"type": "categorical"}) == "0"
    assert first_level(pd.Series(["10", "2", "9"])) == "2" and first_level(pd.Series(["b", "a", "B"])) == "B"
    out = run_r("data(lung); f <- coxph(Surv(time, status == 2) ~ factor(ph.ecog), lung);" + r_json("coef(f)"),
                packages=("survival",))
    ours = cox_fit(d["time"], (d["status"] == 2).astype(float), X)["terms"]
    assert ours["coef"].tolist() == pytest.approx(out, abs=1e-6)
