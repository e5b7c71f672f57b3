"""Radiomics signature: ICC filter, redundancy filter, LASSO with CV penalty, frozen scoring,
fusion; the NSCLC-Radiogenomics manifest and the tables-only study end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlscore.signature import fit_fusion, fit_lasso, fit_signature, icc_table, redundancy_filter
from dlscore.stats.agreement import icc

from .conftest import SHARED_DATA, run_snakemake


def _cohort(n=160, p=40, seed=0):
    """Features f00..f(p-1): f00 and f01 carry the label, f02 is a near copy of f00, the rest noise."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    x = rng.normal(size=(n, p))
    x[:, 0] += 1.4 * y
    x[:, 1] -= 1.0 * y
    x[:, 2] = x[:, 0] + rng.normal(0, 0.05, n)
    ids = [f"P{i:03d}" for i in range(n)]
    return pd.DataFrame(x * 10 + 50, index=ids, columns=[f"f{j:02d}" for j in range(p)]), pd.Series(y.astype(int), ids)


def test_icc_table_equals_icc2_per_feature_and_flags_unstable_features():
    x, _ = _cohort(n=40, p=3)
    rng = np.random.default_rng(1)
    r2 = x.copy()
    r2["f00"] += rng.normal(0, 0.5, len(x))   # stable
    r2["f01"] = rng.permutation(r2["f01"].to_numpy())  # unstable: another patient's value
    long = pd.concat([x.assign(rater="r1"), r2.assign(rater="r2")]).rename_axis("patient_id").reset_index()
    t = icc_table(long, x.index, ["f00", "f01"]).set_index("feature")
    ref = icc(np.column_stack([x["f00"], r2["f00"]]), "ICC2")
    assert t.loc["f00", "icc"] == pytest.approx(ref.icc) and t.loc["f00", "ci_low"] == pytest.approx(ref.ci_low)
    assert t.loc["f00", "icc"] > 0.95 and t.loc["f01", "icc"] < 0.5 and t.loc["f00", "n"] == 40


def test_redundancy_filter_keeps_the_stronger_of_two_copies():
    x, y = _cohort()
    z = (x - x.mean()) / x.std()
    kept, table = redundancy_filter(z, y.to_numpy(), 0.9)
    assert "f00" in kept or "f02" in kept
    assert not ("f00" in kept and "f02" in kept)
    dropped = table[~table["kept"]].set_index("feature")
    gone = "f02" if "f00" in kept else "f00"
    assert dropped.loc[gone, "dropped_for"] in ("f00", "f02") and dropped.loc[gone, "rho"] > 0.9


def test_lasso_finds_the_planted_features_and_is_seeded():
    x, y = _cohort()
    z = ((x - x.mean()) / x.std()).drop(columns="f02").to_numpy()
    b0, b, c, cv = fit_lasso(z, y.to_numpy(), seed=3)
    assert b[0] > 0 and b[1] < 0  # f00 up, f01 down with the label
    assert (b != 0).sum() <= 12
    assert cv["chosen"].sum() == 1 and cv.loc[cv["chosen"], "C"].item() == c
    b0_again, b_again, _, _ = fit_lasso(z, y.to_numpy(), seed=3)
    assert b0 == b0_again and np.array_equal(b, b_again)


def test_signature_is_frozen_and_generalises():
    x, y = _cohort(seed=0)
    sig = fit_signature(x, y, seed=1, max_correlation=0.9)
    assert {"f01"} <= set(sig.features) and ({"f00", "f02"} & set(sig.features))
    steps = sig.tables["selection"].set_index("step")["n"]
    assert steps.iloc[0] == 40 and steps.iloc[-1] == len(sig.features)
    x_new, y_new = _cohort(seed=7)
    from dlscore.stats import auc_delong
    assert auc_delong(y_new, sig.score(x_new)).auc > 0.8
    # frozen: scoring uses the training mean/SD, not the new cohort's
    np.testing.assert_allclose(sig.score(x_new.iloc[:5]), sig.score(x_new)[:5])
    coef = sig.coefficients()
    assert coef["feature"].iloc[0] == "(intercept)" and len(coef) == len(sig.features) + 1


def test_fusion_logistic_equals_statsmodels_glm():
    import statsmodels.api as sm
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(size=200)
    y = (rng.random(200) < 1 / (1 + np.exp(-(0.5 + a - b)))).astype(int)
    tab, _ = fit_fusion(y, pd.DataFrame({"rasig": a, "dls_logit": b}))
    ref = sm.GLM(y, sm.add_constant(np.column_stack([a, b])), family=sm.families.Binomial()).fit()
    np.testing.assert_allclose(tab["coefficient"], ref.params, rtol=1e-6)
    np.testing.assert_allclose(tab["se"], ref.bse, rtol=1e-5)


NSCLC = SHARED_DATA / "nsclc_radiogenomics"


@pytest.mark.skipif(not NSCLC.exists(), reason=f"NSCLC-Radiogenomics tables not found at {NSCLC}")
def test_nsclc_manifest_mapping_on_the_real_table():
    from dlscore.cohorts.nsclc_rg import build_manifest
    from dlscore.signature import read_feature_table
    man, rep = build_manifest(NSCLC / "radiogenomics_labels.csv")
    assert len(man) == 162 and set(man["cohort"]) == {"R01"}
    assert (man["label"] == 1).sum() == 25 and (man["label"] == 0).sum() == 102 and man["label"].isna().sum() == 35
    assert (man["os_time"] >= 0).all() and set(man["os_event"].dropna()) <= {0.0, 1.0}
    f = read_feature_table(NSCLC / "pyradiomics_full_features_142.csv", "Image", r"^(R01-[0-9]+)")
    assert len(f) == 142 and f["patient_id"].isin(man["patient_id"]).all()
    assert not any(c.startswith("diagnostics_") for c in f.columns) and f.shape[1] == 1562 + 2


@pytest.mark.long
@pytest.mark.skipif(not NSCLC.exists(), reason=f"NSCLC-Radiogenomics tables not found at {NSCLC}")
def test_nsclc_radiogenomics_study_end_to_end(tmp_path):
    """The tables-only study: signature, discrimination and survival tables (acceptance: <= 5 min)."""
    out = tmp_path / "results"
    run_snakemake(out, "config/nsclc_radiogenomics.yaml")
    coef = pd.read_csv(out / "tables/signature_coefficients.csv")
    assert len(coef) >= 2 and coef["feature"].iloc[0] == "(intercept)"
    d = pd.read_csv(out / "tables/signature_discrimination.csv").set_index("set")
    assert {"training", "validation"} <= set(d.index) and d.loc["validation", "n"] >= 30
    s = pd.read_csv(out / "tables/survival.csv")
    assert set(s["model"]) == {"rasig"} and (s["endpoint"] == "os").all()
    assert (out / "figures/roc_signatures.png").stat().st_size > 0
    assert (out / "figures/km_rasig_validation_os.png").stat().st_size > 0


def test_fused_scores_fit_on_the_validation_split_and_say_when_not_estimable():
    from dlscore.signature import fused_scores
    rng = np.random.default_rng(4)
    n = 80
    y = (rng.random(n) < 0.5).astype(float)
    df = pd.DataFrame({"split": ["training"] * 20 + ["validation"] * 30 + ["external"] * 30, "label": y,
                       "rasig": y + rng.normal(0, 1, n), "dls_logit": y + rng.normal(0, 1, n), "age": rng.normal(60, 9, n)})
    out, scores, tables = fused_scores(df, ["age", "not_a_column"])
    assert scores == {"RADLsig": "radlsig", "DLS + clinical": "dls_clinical", "Clinical": "clinical_only"}
    assert out["radlsig"].notna().all() and [t["model"].iloc[0] for t in tables] == ["RADLsig", "DLS + clinical",
                                                                                      "Clinical"]
    assert tables[2]["fitted_on"].iloc[0].startswith("every labelled development patient (50 patients")
    moved = df.copy()
    moved.loc[moved["split"] == "external", "label"] = 1 - moved.loc[moved["split"] == "external", "label"]
    assert np.allclose(fused_scores(moved, ["age"])[0]["radlsig"], out["radlsig"])  # external labels never used
    moved.loc[moved["split"] == "training", "label"] = 1 - moved.loc[moved["split"] == "training", "label"]
    assert np.allclose(fused_scores(moved, ["age"])[0]["radlsig"], out["radlsig"])  # nor the training labels
    assert tables[0]["fitted_on"].iloc[0].startswith("validation split (30 patients")
    # a cross-validated study: the fusions are fitted on the out-of-fold development scores
    cv = df.assign(split=df["split"].replace({"training": "development", "validation": "development"}))
    _, _, cv_tables = fused_scores(cv, ["age"])
    assert cv_tables[0]["fitted_on"].iloc[0].startswith("development split (50 patients; out-of-fold DLS")
    sep = df.assign(rasig=df["label"] * 10.0, dls_logit=df["label"] * 10.0)  # perfect separation
    _, scores, tables = fused_scores(sep, [])
    assert "RADLsig" not in scores and tables[0]["note"].iloc[0].startswith("not estimable")


def test_score_discrimination_and_correlations_match_their_references():
    from scipy.stats import spearmanr

    from dlscore.signature import dls_correlations, score_discrimination
    from dlscore.stats import auc_delong, delong_test
    rng = np.random.default_rng(5)
    y = (rng.random(60) < 0.4).astype(float)
    sub = pd.DataFrame({"label": y, "a": y + rng.normal(0, 1, 60), "b": y + rng.normal(0, 2, 60)})
    rows, comps, curves = score_discrimination([("ext", sub)], {"A": "a", "B": "b"}, 0.05)
    assert rows[0]["auc"] == pytest.approx(auc_delong(y.astype(int), sub["a"].to_numpy()).auc)
    assert comps[0]["p"] == pytest.approx(delong_test(y.astype(int), sub["a"].to_numpy(), sub["b"].to_numpy()).p)
    assert [m for m, *_ in curves["ext"]] == ["A", "B"]
    dls = pd.Series(rng.random(40), index=[f"P{i}" for i in range(40)])
    rad = pd.DataFrame({"f1": dls + rng.normal(0, 0.1, 40), "f2": rng.random(40), "flat": 1.0}, index=dls.index)
    deep = pd.DataFrame({f"d{i}": rng.random(40) for i in range(12)}, index=dls.index)
    corr, heat = dls_correlations(dls, rad, ["f2"], 5, deep)
    assert [r["radiomic_feature"] for r in corr] == ["f1", "f2"]  # the constant feature is dropped
    assert corr[0]["spearman_rho_with_dls"] == pytest.approx(spearmanr(rad["f1"], dls)[0])
    assert corr[1]["in_signature"] and heat.shape == (2, 11)


def test_baseline_table_says_when_the_dls_does_not_beat_the_clinical_model():
    from dlscore.signature import baseline_table, score_discrimination
    from dlscore.stats import delong_test
    rng = np.random.default_rng(8)
    n = 120
    y = (rng.random(n) < 0.4).astype(float)
    sub = pd.DataFrame({"label": y, "age": y * 1.5 + rng.normal(0, 1, n), "dls": y * 0.2 + rng.normal(0, 1, n),
                        "rasig": y + rng.normal(0, 1, n)})
    rows, comps, _ = score_discrimination([("EXT (external)", sub)], {"RAsig": "rasig", "DLS": "dls",
                                                                       "Clinical": "age"}, 0.05)
    tab = baseline_table(rows, comps, 0.05).set_index("model")
    assert list(tab.index) == ["Clinical", "RAsig", "DLS"]  # no image, radiomics, network
    ref = delong_test(y.astype(int), sub["age"].to_numpy(), sub["dls"].to_numpy())
    assert tab.at["Clinical", "auc_minus_dls"] == pytest.approx(ref.diff)
    assert tab.at["Clinical", "p_vs_dls"] == pytest.approx(ref.p)
    assert ref.p < 0.05 and tab.at["DLS", "verdict"] == "DLS WORSE than the clinical baseline"
    close = sub.assign(dls=sub["age"] + rng.normal(0, 0.3, n))
    rows, comps, _ = score_discrimination([("v", close)], {"DLS": "dls", "Clinical": "age"}, 0.05)
    assert baseline_table(rows, comps, 0.05).set_index("model").at["DLS", "verdict"].startswith(
        "DLS not better than the clinical baseline")
    assert "note" in baseline_table(rows[:0], [], 0.05)
