"""Radiomics signature (RAsig) and its fusion with the DLS (RADLsig), as in the CT fusion
and HCC studies: stable features -> standardisation -> redundancy filter -> LASSO logistic
with a cross-validated penalty -> a frozen linear signature applied to every cohort.

Everything is fitted on the training patients only and then applied unchanged:

1. **Stability** (:func:`icc_table`): ICC(2,1) (two-way random, absolute agreement, single
   rater; Shrout & Fleiss) between rater 1's and rater 2's features per feature, on the
   training patients with both masks; features below ``icc_threshold`` are dropped.
2. **Usable**: features with missing values or zero variance in training are dropped.
3. **Standardisation**: training mean and SD (ddof = 1).
4. **Redundancy** (:func:`redundancy_filter`): features ranked by univariable |AUC - 0.5| in
   training; a feature is dropped when its |Spearman rho| with a better-ranked kept
   feature exceeds ``max_correlation``.
5. **LASSO** (:func:`fit_lasso`): L1 logistic regression (liblinear) over a log-spaced grid
   of C = 1/lambda; C chosen by the lowest mean held-out deviance of seeded stratified
   k-fold CV (``one_se``: the sparsest C within one SE of it). RAsig = intercept + sum of
   coefficient x standardised feature (log-odds).
6. **RADLsig** (:func:`fit_fusion`): unpenalised logistic regression of the label on RAsig
   and the DLS logit (statsmodels), fitted on training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from dlscore.errors import InputError


def icc_table(features: pd.DataFrame, patients: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """ICC(2,1) per feature between raters r1 and r2 on ``patients`` (those with both).

    features: long table with ``patient_id``, ``rater`` and the feature ``columns``.
    Returns feature, icc, ci_low, ci_high, n (patients); NaN when < 3 patients or no variance.
    """
    from dlscore.stats.agreement import icc
    f = features[features["patient_id"].isin(set(patients))]
    r1 = f[f["rater"] == "r1"].set_index("patient_id")
    r2 = f[f["rater"] == "r2"].set_index("patient_id")
    both = r1.index.intersection(r2.index)
    rows = []
    for c in columns:
        a, b = r1.loc[both, c].to_numpy(float), r2.loc[both, c].to_numpy(float)
        ok = np.isfinite(a) & np.isfinite(b)
        value = lo = hi = np.nan
        if ok.sum() >= 3 and np.ptp(np.r_[a[ok], b[ok]]) > 0:
            res = icc(np.column_stack([a[ok], b[ok]]), "ICC2")
            value, lo, hi = res.icc, res.ci_low, res.ci_high
        rows.append({"feature": c, "icc": value, "ci_low": lo, "ci_high": hi, "n": int(ok.sum())})
    return pd.DataFrame(rows)


def _auc(y: np.ndarray, x: np.ndarray) -> float:
    from scipy.stats import rankdata
    pos = y == 1
    r = rankdata(x)
    m, n = pos.sum(), (~pos).sum()
    return float((r[pos].sum() - m * (m + 1) / 2) / (m * n))


def redundancy_filter(x: pd.DataFrame, y: np.ndarray, max_correlation: float) -> tuple[list[str], pd.DataFrame]:
    """Greedy filter on training data: keep features in order of univariable |AUC - 0.5|,
    dropping one whose |Spearman rho| with an already kept feature exceeds ``max_correlation``.
    Returns (kept, table: feature, auc, kept, dropped_for, rho)."""
    aucs = {c: _auc(y, x[c].to_numpy(float)) for c in x.columns}
    order = sorted(x.columns, key=lambda c: (-abs(aucs[c] - 0.5), c))
    ranks = x[order].rank().to_numpy(float)
    ranks = (ranks - ranks.mean(0)) / ranks.std(0)
    rho = ranks.T @ ranks / len(ranks)  # Spearman = Pearson of ranks
    kept_idx: list[int] = []
    rows = []
    for i, c in enumerate(order):
        clash = [(j, abs(rho[i, j])) for j in kept_idx if abs(rho[i, j]) > max_correlation]
        if clash:
            j, r = max(clash, key=lambda t: t[1])
            rows.append({"feature": c, "auc": aucs[c], "kept": False, "dropped_for": order[j], "rho": r})
        else:
            kept_idx.append(i)
            rows.append({"feature": c, "auc": aucs[c], "kept": True, "dropped_for": "", "rho": np.nan})
    return [order[i] for i in kept_idx], pd.DataFrame(rows)


def fit_lasso(x: np.ndarray, y: np.ndarray, seed: int, n_folds: int = 5, n_c: int = 30,
              one_se: bool = False) -> tuple[float, np.ndarray, float, pd.DataFrame]:
    """L1 logistic with C chosen by stratified k-fold CV deviance (seeded; fewer folds when
    the smaller class has fewer than ``n_folds`` patients).

    x: (n, p) standardised training features; y: (n,) 0/1. Returns (intercept, coef (p,),
    chosen C, CV table: C, mean_deviance, se, n_features at that C on all training data).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    def model(c):
        return LogisticRegression(C=c, l1_ratio=1.0, solver="liblinear", intercept_scaling=10.0,
                                  random_state=seed, max_iter=2000)

    # the grid starts where the first feature enters (liblinear: C_min ~ 1 / max|X^T (y - mean y)|)
    c_min = 1.0 / max(np.abs(x.T @ (y - y.mean())).max(), 1e-12)
    cs = c_min * np.logspace(0, 3, n_c)
    smallest = int(min(y.sum(), len(y) - y.sum()))
    if smallest < 2:
        raise InputError(f"the training split has {smallest} patient(s) of one class: the LASSO penalty cannot be "
                         "cross-validated", "add training patients of that class", where="label")
    n_folds = min(n_folds, smallest)  # stratified folds need each class in every fold
    folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(x, y))
    dev = np.zeros((len(cs), len(folds)))
    for k, (tr, te) in enumerate(folds):
        for i, c in enumerate(cs):
            p = np.clip(model(c).fit(x[tr], y[tr]).predict_proba(x[te])[:, 1], 1e-12, 1 - 1e-12)
            dev[i, k] = -2 * np.mean(y[te] * np.log(p) + (1 - y[te]) * np.log(1 - p))
    mean, se = dev.mean(1), dev.std(1, ddof=1) / np.sqrt(len(folds))
    fits = [model(c).fit(x, y) for c in cs]
    nfeat = np.array([int((f.coef_ != 0).sum()) for f in fits])
    best = int(np.argmin(mean))
    if one_se:
        best = int(np.flatnonzero(mean <= mean[best] + se[best]).min())
    note = ""
    if nfeat[best] == 0:  # the CV optimum is the empty model: take the best C with a feature
        ok = np.flatnonzero(nfeat > 0)
        best = int(ok[np.argmin(mean[ok])])
        note = (f"the {'one-SE' if one_se else 'CV-optimal'} penalty selected no feature; "
                "the penalty with the lowest CV deviance among those with >= 1 feature was used")
    table = pd.DataFrame({"C": cs, "lambda": 1.0 / cs, "mean_cv_deviance": mean, "cv_deviance_se": se,
                          "n_features": nfeat, "chosen": np.arange(len(cs)) == best})
    table["note"] = np.where(table["chosen"], note, "")
    f = fits[best]
    return float(f.intercept_[0]), f.coef_[0].astype(float), float(cs[best]), table


@dataclass
class Signature:
    """A frozen linear signature: ``rasig = intercept + sum(coef * (x - mean) / sd)`` (log-odds)."""

    features: list[str]
    mean: np.ndarray
    sd: np.ndarray
    coef: np.ndarray
    intercept: float
    c: float
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def score(self, x: pd.DataFrame) -> np.ndarray:
        """RAsig (log-odds) of each row of ``x`` (the feature columns)."""
        missing = [c for c in self.features if c not in x]
        if missing:
            raise InputError(f"features {missing[:5]} of the signature are missing", "give the same feature table",
                             where="features")
        z = (x[self.features].to_numpy(float) - self.mean) / self.sd
        return self.intercept + z @ self.coef

    def coefficients(self) -> pd.DataFrame:
        return pd.DataFrame({"feature": ["(intercept)", *self.features],
                             "coefficient": [self.intercept, *self.coef],
                             "training_mean": [np.nan, *self.mean], "training_sd": [np.nan, *self.sd]})


def fit_signature(features: pd.DataFrame, y: pd.Series, seed: int, icc: pd.DataFrame | None = None,
                  icc_threshold: float = 0.75, max_correlation: float = 0.9, n_folds: int = 5,
                  one_se: bool = False) -> Signature:
    """RAsig from training features (rows = patients, index = patient id) and labels ``y``
    (same index, 0/1). ``icc`` (from :func:`icc_table`) drops unstable features first."""
    x = features.astype(float)
    steps = [{"step": "candidate features", "n": x.shape[1]}]
    if icc is not None and len(icc) and icc["icc"].notna().any():
        stable = set(icc.loc[icc["icc"] >= icc_threshold, "feature"])
        x = x[[c for c in x.columns if c in stable]]
        steps.append({"step": f"ICC(2,1) >= {icc_threshold:g} between raters", "n": x.shape[1]})
    usable = [c for c in x.columns if x[c].notna().all() and x[c].std(ddof=1) > 0]
    x = x[usable]
    steps.append({"step": "no missing value, non-zero variance in training", "n": x.shape[1]})
    yv = y.loc[x.index].to_numpy(int)
    if x.shape[1] == 0:
        raise InputError("no radiomic feature is left for the signature (all unstable, missing or constant)",
                         "lower signature.icc_threshold or check the feature table", where="features")
    mean, sd = x.mean().to_numpy(), x.std(ddof=1).to_numpy()
    z = (x - mean) / sd
    kept, red = redundancy_filter(z, yv, max_correlation)
    steps.append({"step": f"redundancy: |Spearman rho| <= {max_correlation:g}", "n": len(kept)})
    zk = z[kept].to_numpy(float)
    b0, b, c, cv = fit_lasso(zk, yv, seed, n_folds, one_se=one_se)
    nz = np.flatnonzero(b != 0)
    steps.append({"step": f"LASSO logistic, {n_folds}-fold CV deviance", "n": len(nz)})
    sel = [kept[i] for i in nz]
    idx = [list(x.columns).index(f) for f in sel]
    return Signature(sel, mean[idx], sd[idx], b[nz], b0, c,
                     {"selection": pd.DataFrame(steps), "redundancy": red, "lasso_cv": cv})


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_fusion(y: np.ndarray, predictors: pd.DataFrame) -> tuple[pd.DataFrame, object]:
    """Unpenalised logistic model of ``y`` on ``predictors`` (e.g. RAsig and logit(DLS)),
    training data. Returns (coefficient table with OR, CI and p; the statsmodels result)."""
    import statsmodels.api as sm
    xm = sm.add_constant(predictors.astype(float), has_constant="add")
    res = sm.Logit(np.asarray(y, float), xm).fit(disp=0, maxiter=200)
    ci = res.conf_int()
    tab = pd.DataFrame({"term": xm.columns, "coefficient": res.params.to_numpy(), "se": res.bse.to_numpy(),
                        "ci_low": ci[0].to_numpy(), "ci_high": ci[1].to_numpy(), "p": res.pvalues.to_numpy()})
    return tab, res


def read_feature_table(path: str | Path, id_column: str = "Image", id_pattern: str = r"^([A-Za-z0-9]+-[0-9]+)") -> pd.DataFrame:
    """A PyRadiomics feature CSV (one row per image) as ``patient_id``, ``rater`` (r1) and the
    numeric feature columns (``diagnostics_*`` and text columns dropped)."""
    p = Path(path)
    if not p.exists():
        raise InputError("feature table not found", "set signature.features to the CSV of PyRadiomics features",
                         where=str(p))
    f = pd.read_csv(p)
    if id_column not in f:
        raise InputError(f"column '{id_column}' (patient id) is not in the feature table",
                         "set signature.id_column", where=str(p))
    pid = f[id_column].astype(str).str.extract(id_pattern, expand=False)
    if pid.isna().any():
        bad = f.loc[pid.isna(), id_column].iloc[0]
        raise InputError(f"patient id cannot be read from {id_column} value {bad!r}", "fix signature.id_pattern",
                         where=str(p))
    num = f.select_dtypes("number")
    num = num[[c for c in num.columns if not c.startswith("diagnostics_")]]
    out = pd.concat([pd.DataFrame({"patient_id": pid, "rater": "r1"}), num], axis=1)
    dup = out["patient_id"][out["patient_id"].duplicated()]
    if len(dup):
        raise InputError(f"patient {dup.iloc[0]} has more than one row of features", "keep one row per patient",
                         dup.iloc[0], str(p))
    return out


#: the models fitted by :func:`fused_scores`: name -> (score column, predictors; "clinical"
#: stands for the ``signature.clinical`` columns). "Clinical" is the baseline with no image.
FUSION_MODELS = {"RADLsig": ("radlsig", ["rasig", "dls_logit"]),
                 "DLS + clinical": ("dls_clinical", ["dls_logit", "clinical"]),
                 "Clinical": ("clinical_only", ["clinical"])}


def _fusion_rows(df: pd.DataFrame, model: str, fit_split: str) -> pd.Series:
    """Which rows fit ``model``: the clinical baseline (no DLS) learns from every labelled
    development patient; models with the DLS from ``fit_split`` only, where the DLS comes
    from a network that did not see the patient."""
    if model == "Clinical":
        return df["split"].isin(["training", "validation", "development"])
    return df["split"] == fit_split


def fused_scores(df: pd.DataFrame, clinical: Sequence[str], fit_split: str | None = None
                 ) -> tuple[pd.DataFrame, dict[str, str], list[pd.DataFrame]]:
    """RADLsig (RAsig + logit DLS), DLS + ``clinical`` and the clinical-only baseline, logistic
    models applied to every patient with their predictors (``df``: columns split, label,
    rasig, dls_logit, clinical). Models with the DLS are fitted on ``fit_split`` (default
    :func:`dlscore.evaluation.fusion_split`: the validation split, or the out-of-fold
    development scores of a cross-validated study); the clinical baseline on every labelled
    development patient. Returns (``df`` with the score columns, model -> column, the
    coefficient tables with ``fitted_on``; a model that cannot be fitted, e.g. perfect
    separation in a small split, gives a one-row note)."""
    from dlscore.evaluation import fusion_split
    fit_split = fit_split or fusion_split(df)
    df, scores, rows = df.copy(), {}, []
    clin = [c for c in clinical if c in df]
    for model, (col, spec) in FUSION_MODELS.items():
        terms = [t for s in spec for t in (clin if s == "clinical" else [s])]
        if "clinical" in spec and not clin:
            continue
        ok = df[terms].notna().all(axis=1)
        fit = df[_fusion_rows(df, model, fit_split) & ok & df["label"].notna()]
        where = ("every labelled development patient" if model == "Clinical" else f"{fit_split} split") + \
            f" ({len(fit)} patients"
        try:
            tab, res = fit_fusion(fit["label"].astype(int).to_numpy(), fit[terms])
        except Exception as exc:  # noqa: BLE001 - any fitting failure becomes the table's note
            rows.append(pd.DataFrame([{"model": model, "fitted_on": where + ")", "note": f"not estimable: {exc}"[:200]}]))
            continue
        why = ("; no image in this model" if model == "Clinical" else
               "; the DLS is out of the network's training sample there" if fit_split == "validation" else
               "; out-of-fold DLS")
        rows.append(tab.assign(model=model, fitted_on=where + why + ")"))
        df.loc[ok, col] = res.predict(np.column_stack([np.ones(ok.sum()), df.loc[ok, terms].astype(float)]))
        scores[model] = col
    return df, scores, rows


def apparent_note(set_name: str, model: str, fit_split: str) -> str:
    """The note of an AUC row measured on the patients its model was fitted on."""
    dev = ("training", "validation", "development")
    if model == "RAsig" and set_name in ("training", "development"):
        return "apparent: RAsig was fitted on this set"
    if model == "Clinical" and set_name in dev:
        return "apparent: the clinical model was fitted on the development cohort"
    if model in FUSION_MODELS and set_name == fit_split:
        return "apparent: the fusion model was fitted on this set"
    return ""


def score_discrimination(sets, scores: dict[str, str], alpha: float, fit_split: str = "validation"
                         ) -> tuple[list[dict], list[dict], dict]:
    """AUC (DeLong) of every score column in every set and paired DeLong tests of every pair.

    sets: (set name, rows with ``label`` and the score columns); scores: model -> column;
    fit_split: where the fusion models were fitted (their AUC there is flagged apparent).
    Returns (AUC rows, comparison rows, set -> [(model, y, score)] ROC curves)."""
    from dlscore.stats import delong_test
    from dlscore.stats.discrimination import auc_fields
    rows, comps, curves = [], [], {}
    names = list(scores)
    for name, sub in sets:
        sub = sub[sub["label"].notna()]
        y = sub["label"].astype(int).to_numpy()
        for model, col in scores.items():
            ok = sub[col].notna().to_numpy()
            fields = auc_fields(y[ok], sub[col].to_numpy()[ok], alpha)
            fields.pop("auc_ci_method", None)
            note = apparent_note(name, model, fit_split)
            rows.append({"model": model, "set": name, "n": int(ok.sum()), "n_pos": int(y[ok].sum()),
                         **({**fields, "note": note} if "auc" in fields else fields)})
            if "auc" in fields:
                curves.setdefault(name, []).append((model, y[ok], sub[col].to_numpy()[ok]))
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                ok = (sub[scores[a]].notna() & sub[scores[b]].notna()).to_numpy()
                if ok.sum() and 0 < y[ok].sum() < ok.sum():
                    t = delong_test(y[ok], sub[scores[a]].to_numpy()[ok], sub[scores[b]].to_numpy()[ok], alpha)
                    comps.append({"set": name, "a": a, "b": b, "n": int(ok.sum()), "auc_a": t.auc_a, "auc_b": t.auc_b,
                                  "diff": t.diff, "diff_ci_low": t.ci_low, "diff_ci_high": t.ci_high, "z": t.z,
                                  "p": t.p, "test": "paired DeLong, two-sided"})
    return rows, comps, curves


#: the side-by-side order of the baseline table: no image, radiomics, the network, fusions
BASELINE_ORDER = ("Clinical", "RAsig", "DLS", "DLS + clinical", "RADLsig")


def baseline_table(rows: Sequence[dict], comps: Sequence[dict], alpha: float) -> pd.DataFrame:
    """Clinical baseline, radiomics signature, DLS and fusions side by side per evaluation set
    (``rows`` / ``comps``: :func:`score_discrimination`'s AUC rows and paired DeLong tests):
    AUC with its DeLong CI, the difference from the DLS with the paired DeLong p, and a
    verdict that says at a glance whether the DLS beats the clinical baseline."""
    auc = pd.DataFrame(rows)
    if auc.empty or "DLS" not in set(auc["model"]):
        return pd.DataFrame([{"note": "no DLS in this study: no baseline comparison"}])
    cmp = {(c["set"], frozenset((c["a"], c["b"]))): c for c in comps}
    out = []
    for name, g in auc.groupby("set", sort=False):
        g = g.set_index("model")
        for model in [m for m in BASELINE_ORDER if m in g.index]:
            r = g.loc[model]
            row = {"set": name, "model": model, "n": r["n"], "n_pos": r["n_pos"],
                   **{k: r.get(k, np.nan) for k in ("auc", "auc_ci_low", "auc_ci_high")}, "note": r.get("note", "")}
            c = cmp.get((name, frozenset((model, "DLS"))))
            if model != "DLS" and c is not None:
                sign = 1 if c["a"] == model else -1  # difference model - DLS
                row.update(auc_minus_dls=sign * c["diff"], p_vs_dls=c["p"])
            out.append(row)
    tab = pd.DataFrame(out)
    tab["verdict"] = ""
    for name, g in tab.groupby("set", sort=False):
        tab.loc[g.index[g["model"] == "DLS"], "verdict"] = _dls_verdict(g, alpha)
    return tab


def _dls_verdict(g: pd.DataFrame, alpha: float) -> str:
    """One line on the DLS of one set against the clinical baseline (rows of one set)."""
    clin = g[g["model"] == "Clinical"]
    dls = g[g["model"] == "DLS"].iloc[0]
    if clin.empty or not np.isfinite(clin["auc"].iloc[0]) or not np.isfinite(dls["auc"]):
        return "no clinical baseline in this set" if clin.empty else "not computable: an AUC is missing"
    c = clin.iloc[0]
    if c["p_vs_dls"] < alpha:
        return ("DLS better than the clinical baseline" if c["auc_minus_dls"] < 0 else
                "DLS WORSE than the clinical baseline")
    return (f"DLS not better than the clinical baseline (AUC {dls['auc']:.2f} vs {c['auc']:.2f}, "
            f"paired DeLong p = {c['p_vs_dls']:.2g})")


def dls_correlations(dls: pd.Series, radiomic: pd.DataFrame, signature_features: Sequence[str], top: int,
                     deep: pd.DataFrame | None = None) -> tuple[list[dict], pd.DataFrame | None]:
    """Spearman correlation of the DLS (indexed by patient) with the radiomic features
    (same patients; constant features dropped): the ``top`` most correlated, with p, and
    whether each is in the signature. With ``deep`` features: the heat-map matrix of those
    radiomic features vs the DLS and its 10 most correlated deep features (else None)."""
    from scipy.stats import spearmanr
    x = radiomic.loc[:, radiomic.std() > 0]
    rho = x.rank().corrwith(dls.rank())
    best = rho.abs().sort_values(ascending=False).index[:top]
    rows = []
    for c in best:
        r, p = spearmanr(x[c], dls)
        rows.append({"radiomic_feature": c, "spearman_rho_with_dls": r, "p": p, "n": len(dls),
                     "in_signature": c in signature_features})
    if deep is None:
        return rows, None
    deep = deep.loc[:, deep.std() > 0]
    dtop = deep.rank().corrwith(dls.rank()).abs().sort_values(ascending=False).index[:10]
    mat = pd.concat([dls.to_frame("DLS"), deep[dtop]], axis=1)
    return rows, pd.DataFrame({c: x[best].rank().corrwith(mat[c].rank()) for c in mat.columns})
