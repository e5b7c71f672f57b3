"""The clinical-validation analyses (dlscore.validation): against R's coxph on survival::lung
(data we did not make), and the selection / not-computable rules on small frames."""

import subprocess

import numpy as np
import pandas as pd
import pytest

from dlscore.clinical import design_matrix
from dlscore.validation import (Cohort, continuous_marker_rows, cox_univariable, marker_models, missing_in,
                                select_covariates)
from tests.conftest import r_json

COVS = {"sex": {"type": "categorical", "reference": "male"}, "age": {"type": "continuous"},
        "ph_ecog": {"type": "categorical", "reference": 0}}


def _lung(tmp_path) -> pd.DataFrame:
    out = tmp_path / "lung.csv"
    subprocess.run(["Rscript", "-e", f"library(survival); write.csv(lung, '{out}', row.names = FALSE)"],
                   check=True, capture_output=True)
    d = pd.read_csv(out).dropna(subset=["ph.ecog", "ph.karno"])
    d = d[d["ph.ecog"] < 3]  # one patient with ECOG 3: a level of one
    return pd.DataFrame({"patient_id": [f"L{i}" for i in range(len(d))], "cohort": "lung", "split": "training",
                         "os_time": d["time"].to_numpy() / 30.4375, "os_event": (d["status"] == 2).astype(float).to_numpy(),
                         "sex": np.where(d["sex"] == 1, "male", "female"), "age": d["age"].to_numpy(),
                         "ph_ecog": d["ph.ecog"].astype(int).to_numpy(),
                         "high:karno": (d["ph.karno"] >= 80).astype(float).to_numpy(),
                         "value:karno": d["ph.karno"].to_numpy()})


def _cohort(man: pd.DataFrame, sets=None) -> Cohort:
    X, terms = design_matrix(man, COVS)
    sets = sets or [("training", man)]
    return Cohort(man, {"karno": "Karnofsky >= 80"}, COVS, X, terms, sets, sets[0][0], {})


@pytest.mark.needs_r
def test_univariable_and_multivariable_cox_match_R_on_lung(tmp_path, run_r):
    man = _lung(tmp_path)
    co = _cohort(man)
    rows, uni_p = cox_univariable(co, "os_time", "os_event", "os")
    r = pd.DataFrame(rows).set_index("term")
    data = {"t": man["os_time"], "e": man["os_event"], "age": man["age"], "female": (man["sex"] == "female") * 1.0,
            "ecog": man["ph_ecog"], "high": man["high:karno"]}
    out = run_r(r_json(*[f"summary(coxph(Surv(t, e) ~ {x}, ties = 'efron'))$coefficients[1, c(1, 5)]"
                         for x in ("age", "female", "high")]), packages=("survival",), data=data)
    assert r.loc["age", "coef"] == pytest.approx(out[0], abs=1e-6) and r.loc["age", "p"] == pytest.approx(out[1], abs=1e-6)
    assert r.loc["sex=female", "coef"] == pytest.approx(out[2], abs=1e-6)
    assert r.loc["high:karno", "coef"] == pytest.approx(out[4], abs=1e-6)
    assert r.loc["high:karno", "p"] == pytest.approx(out[5], abs=1e-6)
    selected = select_covariates(list(COVS), uni_p, 0.05, forced=["age"])
    assert selected == ["sex", "age", "ph_ecog"]  # sex and ECOG p < 0.05 on lung; age forced
    res = marker_models(co, "karno", "os", {"time": "os_time", "event": "os_event", "label": "OS", "unit": "months"},
                        selected, "rule", 12.0, (200, 200), 1)
    mv = pd.DataFrame(res["cox_multivariable"]).set_index("term")
    out = run_r("f <- coxph(Surv(t, e) ~ high + female + age + factor(ecog), ties = 'efron');"
                + r_json("coef(f)", "summary(f)$coefficients[, 5]"), packages=("survival",), data=data)
    ours = mv.loc[["high:karno", "sex=female", "age", "ph_ecog=1", "ph_ecog=2"]]
    assert ours["coef"].tolist() == pytest.approx(out[:5], abs=1e-6)
    assert ours["p"].tolist() == pytest.approx(out[5:], abs=1e-6)
    assert res["nomogram"] and "note" not in res["nomogram"][0]
    cont = pd.DataFrame(continuous_marker_rows(co, "karno", "os", {"time": "os_time", "event": "os_event"}, selected,
                                               "rule"))
    per_sd = cont[cont["term"].str.startswith("karno per SD")].iloc[0]
    out = run_r("data(lung); l <- lung[!is.na(lung$ph.ecog) & !is.na(lung$ph.karno) & lung$ph.ecog < 3, ];"
                "k <- l$ph.karno; f <- coxph(Surv(time, status == 2) ~ I(k / sd(k)) + I(sex == 2) + age + "
                "factor(ph.ecog), l, ties = 'efron');"
                + r_json("summary(f)$conf.int[1, c(1, 3, 4)]", "exp(coef(f)[1] * 0.1 / sd(k))"), packages=("survival",))
    assert [per_sd["hr"], per_sd["hr_ci_low"], per_sd["hr_ci_high"], per_sd["hr_per_0.1"]] == pytest.approx(out, abs=1e-6)
    cidx = res["cindex"][0]
    assert cidx["note"] == "apparent (same patients as the fit)" and 0.5 < cidx["c_a"] < 1


def test_selection_forced_and_thresholded():
    assert select_covariates(["a", "b", "c"], {"a": 0.01, "b": 0.2, "c": np.nan}, 0.05, ["c"]) == ["a", "c"]
    assert select_covariates(["a", "b"], {}, 0.05, []) == []


def test_a_marker_missing_in_a_cohort_is_not_computable_with_the_reason():
    rng = np.random.default_rng(0)
    n = 40
    man = pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "cohort": ["DEV"] * 20 + ["EXT"] * 20,
                        "split": ["training"] * 20 + ["external"] * 20, "os_time": rng.exponential(10, n),
                        "os_event": (rng.random(n) < 0.7) * 1.0, "sex": rng.choice(["male", "female"], n),
                        "age": rng.normal(60, 8, n), "ph_ecog": rng.choice(2, n),
                        "high:karno": np.r_[(rng.random(20) < 0.5) * 1.0, np.full(20, np.nan)],
                        "value:karno": np.r_[rng.normal(size=20), np.full(20, np.nan)]})
    co = _cohort(man, [("training", man[:20]), ("EXT (external)", man[20:])])
    rows, _ = cox_univariable(co, "os_time", "os_event", "os")
    ext = [r for r in rows if r["set"] == "EXT (external)" and r.get("variable") == "Karnofsky >= 80"]
    assert ext == [{"set": "EXT (external)", "endpoint": "os", "variable": "Karnofsky >= 80",
                    "note": "not computable: Karnofsky >= 80 not recorded in EXT"}]
    res = marker_models(co, "karno", "os", {"time": "os_time", "event": "os_event", "label": "OS", "unit": "months"},
                        [], "rule", 12.0, (50, 50), 1)
    notes = {r["set"]: r["note"] for r in res["cindex"]}
    assert notes["training"] == "not computable: no clinical covariate selected"
    assert notes["EXT (external)"] == "not computable: Karnofsky >= 80 not recorded in EXT"
    assert missing_in(man[20:], ["value:karno", "age"]) == ["value:karno"]


@pytest.mark.needs_r
def test_dcb_model_developed_once_and_validated_unchanged(r_data, run_r):
    """MASS::birthwt as a two-cohort study (white mothers develop, the others validate): the
    logistic model of low birth weight on smoking (the 'marker') and ht (the covariate) fitted
    on the first cohort and applied unchanged to the second, AUC as pROC gives it."""
    from dlscore.validation import dcb_frozen_rows
    d = r_data("birthwt", "MASS")
    man = pd.DataFrame({"patient_id": [f"B{i}" for i in range(len(d))],
                        "cohort": np.where(d["race"] == 1, "WHITE", "OTHER"),
                        "split": np.where(d["race"] == 1, "training", "external"),
                        "low": d["low"].astype(float), "high:smoke": d["smoke"].astype(float),
                        "value:smoke": d["smoke"].astype(float), "ht": d["ht"].astype(float)})
    covs = {"ht": {"type": "binary"}}
    X, terms = design_matrix(man, covs)
    sets = [("training", man[man["split"] == "training"]), ("OTHER (external)", man[man["split"] == "external"])]
    co = Cohort(man, {"smoke": "smoking"}, covs, X, terms, sets, "training", {})
    rows = pd.DataFrame(dcb_frozen_rows(co, "smoke", "low", ["ht"])).set_index("set")
    out = run_r("data(birthwt); w <- birthwt$race == 1; f <- glm(low ~ smoke + ht, binomial, birthwt[w, ]);"
                "p <- predict(f, birthwt[!w, ], type = 'response');"
                "r <- roc(birthwt$low[!w], p, levels = c(0, 1), direction = '<', quiet = TRUE);"
                + r_json("auc(r)", "ci.auc(r)[c(1, 3)]"), packages=("MASS", "pROC"))
    ext = rows.loc["OTHER (external)"]
    assert [ext["auc"], ext["auc_ci_low"], ext["auc_ci_high"]] == pytest.approx(out, abs=1e-6)
    assert rows.loc["training", "note"].startswith("apparent") and ext["note"] == ""
    assert np.isfinite(ext["slope"]) and ext["fitted_on"] == "training"


def test_marker_coverage_flags_a_marker_missing_in_more_than_a_fifth():
    from dlscore.validation import marker_coverage_rows
    man = pd.DataFrame({"patient_id": list("abcdefghij"), "cohort": "C", "split": "ici", "os_time": 1.0,
                        "os_event": 1.0, "high:tmb": [1, 0, 1, np.nan, np.nan, np.nan, 0, 1, 0, 1.0],
                        "value:tmb": 1.0})
    co = Cohort(man, {"tmb": "TMB high"}, {}, pd.DataFrame(index=man.index), {}, [("C (ici)", man)], "C (ici)", {})
    (row,) = marker_coverage_rows(co)
    assert (row["n"], row["n_recorded"], row["fraction_missing"]) == (10, 7, pytest.approx(0.3))
    assert row["flag"] == "missing in more than 20% of the set"
