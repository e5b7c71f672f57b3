"""Association of the score with patient characteristics: Table 1, correlations, group
comparisons (ANOVA / Kruskal-Wallis with post-hoc tests) and bootstrapped cohort means.

Tests and their R equivalents (the reference tests compare with these):

=====================================  ==============================================
ours                                   R
=====================================  ==============================================
Mann-Whitney (2 groups)                ``wilcox.test(x, y)``: exact when both groups
                                       have < 50 values and no ties, else normal
                                       approximation with continuity correction
Kruskal-Wallis (> 2 groups)            ``kruskal.test`` (tie-corrected)
Fisher's exact (2 x 2 and r x c)       ``fisher.test`` (two-sided; r x c exact while
                                       enumerable, else ``simulate.p.value = TRUE``:
                                       :mod:`dlscore.stats.exact`)
Spearman rho, p by t approximation     ``cor.test(method = "spearman", exact = FALSE)``
point-biserial r (= Pearson on 0/1)    ``cor.test(method = "pearson")``
one-way ANOVA                          ``oneway.test(var.equal = TRUE)`` / ``aov``
Tukey HSD                              ``TukeyHSD(aov(...))``
=====================================  ==============================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st


def _clean(x) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    return a[np.isfinite(a)]


def mann_whitney(x, y) -> tuple[float, float, str]:
    """Two-sided Mann-Whitney U (R's W = U of ``x``) with R's choice of exact vs normal.

    x, y: 1-D samples (NaN dropped). Returns (W, p, method).
    """
    a, b = _clean(x), _clean(y)
    ties = np.unique(np.concatenate([a, b])).size < a.size + b.size
    exact = a.size < 50 and b.size < 50 and not ties
    res = _st.mannwhitneyu(a, b, alternative="two-sided", use_continuity=True,
                           method="exact" if exact else "asymptotic")
    return float(res.statistic), float(res.pvalue), ("Mann-Whitney, exact" if exact
                                                     else "Mann-Whitney, normal approx. with continuity correction")


def categorical_test(table: np.ndarray, seed: int = 0) -> tuple[float, str]:
    """p of Fisher's exact test for an r x c table of counts and the method used (exact, or
    a seeded Monte Carlo estimate when the table has too many to enumerate:
    :func:`dlscore.stats.exact.fisher_exact_rxc`). Rows/columns with zero total are dropped."""
    from dlscore.stats.exact import fisher_exact_rxc
    return fisher_exact_rxc(np.asarray(table), seed=seed)


def show_level(v) -> str:
    """A group level as printed: 1.0 -> "1" (pandas reads integer codes with NaN as floats)."""
    return str(int(v)) if isinstance(v, (float, np.floating)) and float(v).is_integer() else str(v)


def _fmt_num(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def table_one(df: pd.DataFrame, group: str, continuous: Sequence[str] = (),
              categorical: Sequence[str] = (), seed: int = 0) -> pd.DataFrame:
    """Patient characteristics by ``group`` (e.g. label or cohort).

    Continuous: median [IQR] (Mann-Whitney for 2 groups, Kruskal-Wallis for more);
    categorical: n (%) of non-missing (Fisher's exact, r x c; Monte Carlo with ``seed`` when
    too large to enumerate, the method named). Missing values are
    counted in their own row, never imputed. Columns: variable, level, overall, one per group
    value (header ``<group>=<value>``), p, test; the first row gives the patient counts.
    """
    d = df[df[group].notna()]
    levels = sorted(d[group].unique(), key=str)
    parts = {lv: d[d[group] == lv] for lv in levels}
    head = {lv: f"{group}={show_level(lv)}" for lv in parts}
    rows = [{"variable": "patients", "level": "n", "overall": str(len(d)),
             **{head[lv]: str(len(g)) for lv, g in parts.items()}, "p": np.nan, "test": ""}]
    for var in continuous:
        if var not in d:
            continue
        vals = {lv: pd.to_numeric(g[var], errors="coerce") for lv, g in parts.items()}
        allv = pd.to_numeric(d[var], errors="coerce")

        def desc(v: pd.Series) -> str:
            v = v.dropna()
            if v.empty:
                return "–"
            q1, q2, q3 = np.percentile(v, [25, 50, 75])
            return f"{_fmt_num(q2)} [{_fmt_num(q1)}–{_fmt_num(q3)}]"

        samples = [v.dropna().to_numpy() for v in vals.values() if v.notna().any()]
        if len(samples) == 2:
            _, p, test = mann_whitney(*samples)
        elif len(samples) > 2:
            p, test = float(_st.kruskal(*samples).pvalue), "Kruskal-Wallis"
        else:
            p, test = float("nan"), "not testable"
        rows.append({"variable": var, "level": "median [IQR]", "overall": desc(allv),
                     **{head[lv]: desc(v) for lv, v in vals.items()}, "p": p, "test": test})
        if allv.isna().any():
            rows.append({"variable": var, "level": "missing", "overall": str(int(allv.isna().sum())),
                         **{head[lv]: str(int(v.isna().sum())) for lv, v in vals.items()}, "p": np.nan, "test": ""})
    for var in categorical:
        if var not in d:
            continue
        cats = sorted(d[var].dropna().unique(), key=str)
        counts = np.array([[int((g[var] == c).sum()) for lv, g in parts.items()] for c in cats])
        p, test = categorical_test(counts, seed) if len(cats) else (float("nan"), "")
        n_lv = {lv: int(g[var].notna().sum()) for lv, g in parts.items()}
        n_all = int(d[var].notna().sum())
        for i, c in enumerate(cats):
            cell = {head[lv]: f"{counts[i, j]} ({100 * counts[i, j] / n_lv[lv]:.0f} %)" if n_lv[lv] else "–"
                    for j, lv in enumerate(parts)}
            tot = int(counts[i].sum())
            rows.append({"variable": var, "level": str(c), "overall": f"{tot} ({100 * tot / n_all:.0f} %)",
                         **cell, "p": p if i == 0 else np.nan, "test": test if i == 0 else ""})
        if d[var].isna().any():
            rows.append({"variable": var, "level": "missing", "overall": str(int(d[var].isna().sum())),
                         **{head[lv]: str(int(g[var].isna().sum())) for lv, g in parts.items()},
                         "p": np.nan, "test": ""})
    return pd.DataFrame(rows, columns=["variable", "level", "overall", *head.values(), "p", "test"])


@dataclass(frozen=True)
class Correlation:
    """Correlation of a score with one variable: coefficient, (1 - alpha) CI by Fisher z, p."""

    method: str
    r: float
    ci_low: float
    ci_high: float
    p: float
    n: int


def correlation(score, other, method: str = "spearman", alpha: float = 0.05) -> Correlation:
    """Spearman rho (t-approximation p, as R ``exact = FALSE``) or point-biserial r.

    score, other: (n,) paired values; pairs with a NaN are dropped. The CI is Fisher's z
    (for Spearman with the Bonett-Wright variance 1.06 / (n - 3)).
    """
    a = np.asarray(score, dtype=float)
    b = np.asarray(other, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    n = a.size
    if n < 4 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return Correlation(method, np.nan, np.nan, np.nan, np.nan, n)
    if method == "spearman":
        res = _st.spearmanr(a, b)
        r, p, var = float(res.statistic), float(res.pvalue), 1.06 / (n - 3)
    elif method == "point-biserial":
        if not np.isin(b, (0, 1)).all():
            raise ValueError("point-biserial correlation needs a 0/1 variable")
        res = _st.pearsonr(a, b)
        r, p, var = float(res.statistic), float(res.pvalue), 1.0 / (n - 3)
    else:
        raise ValueError(f"unknown correlation method {method!r} (spearman, point-biserial)")
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    h = _st.norm.ppf(1 - alpha / 2) * np.sqrt(var)
    return Correlation(method, r, float(np.tanh(z - h)), float(np.tanh(z + h)), p, n)


def tukey_kramer(samples: Sequence[np.ndarray], alpha: float = 0.05) -> dict[tuple[int, int], tuple]:
    """Tukey's HSD with the Tukey-Kramer standard error, as R's ``TukeyHSD(aov(...))``: for
    every pair i < j of the k samples, (mean_j - mean_i, CI low, CI high, adjusted p) from the
    studentized range with the pooled within-group variance (df = n - k). A one-patient group
    takes part, as in R (scipy's tukey_hsd refuses it)."""
    k, n = len(samples), sum(len(x) for x in samples)
    df = n - k
    mse = sum(float(((x - x.mean()) ** 2).sum()) for x in samples) / df
    q_crit = _st.studentized_range.ppf(1 - alpha, k, df)
    out = {}
    for i in range(k):
        for j in range(i + 1, k):
            diff = float(samples[j].mean() - samples[i].mean())
            se = np.sqrt(mse / 2 * (1 / len(samples[i]) + 1 / len(samples[j])))
            out[(i, j)] = (diff, diff - q_crit * se, diff + q_crit * se,
                           float(_st.studentized_range.sf(abs(diff) / se, k, df)))
    return out


def compare_groups_continuous(values, groups, order: Sequence | None = None) -> tuple[dict, pd.DataFrame]:
    """One-way ANOVA and Kruskal-Wallis of ``values`` across ``groups`` (>= 2 levels), with
    post-hoc Tukey HSD and pairwise Mann-Whitney (Holm-adjusted).

    values: (n,) floats; groups: (n,) labels (NaN rows dropped); ``order``: the levels in
    reporting order (default: sorted). Returns (omnibus dict,
    post-hoc table with columns group_a, group_b, mean_diff, tukey_ci_low/high, tukey_p,
    mw_p, mw_p_holm).
    """
    from statsmodels.stats.multitest import multipletests
    v = pd.Series(np.asarray(values, dtype=float))
    g = pd.Series(np.asarray(groups, dtype=object))
    ok = v.notna() & g.notna()
    v, g = v[ok], g[ok]
    present = list(order) if order is not None else sorted(g.unique(), key=str)
    levels = [lv for lv in present if (g == lv).sum() >= 1]  # a one-patient group counts, as in R's aov
    samples = [v[g == lv].to_numpy() for lv in levels]
    omni = {"n": int(sum(s.size for s in samples)), "groups": len(levels)}
    if len(levels) < 2 or omni["n"] <= len(levels):
        omni.update(anova_f=np.nan, anova_p=np.nan, kruskal_h=np.nan, kruskal_p=np.nan)
        return omni, pd.DataFrame()
    f = _st.f_oneway(*samples)
    k = _st.kruskal(*samples)
    omni.update(anova_f=float(f.statistic), anova_p=float(f.pvalue), kruskal_h=float(k.statistic),
                kruskal_p=float(k.pvalue))
    tukey = tukey_kramer(samples)
    rows = []
    for i in range(len(levels)):
        for j in range(i + 1, len(levels)):
            diff, lo, hi, p_ij = tukey[(i, j)]
            rows.append({"group_a": show_level(levels[i]), "group_b": show_level(levels[j]), "mean_diff": diff,
                         "tukey_ci_low": lo, "tukey_ci_high": hi, "tukey_p": p_ij,
                         "mw_p": mann_whitney(samples[j], samples[i])[1]})
    post = pd.DataFrame(rows)
    post["mw_p_holm"] = multipletests(post["mw_p"], method="holm")[1]
    return omni, post


def bootstrap_mean(x, n_boot: int = 10_000, seed: int = 0, alpha: float = 0.05) -> dict[str, float]:
    """Mean of ``x`` with its bootstrap SE and percentile CI (vectorised, seeded).

    x: (n,) values (NaN dropped). Returns mean, se (SD of the replicate means), ci_low, ci_high, n.
    """
    a = _clean(x)
    if a.size == 0:
        return {"n": 0, "mean": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan}
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    chunk = max(1, 4_000_000 // a.size)
    for s in range(0, n_boot, chunk):
        b = min(chunk, n_boot - s)
        reps[s:s + b] = a[rng.integers(0, a.size, (b, a.size))].mean(axis=1)
    lo, hi = np.percentile(reps, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return {"n": int(a.size), "mean": float(a.mean()), "se": float(reps.std(ddof=1)),
            "ci_low": float(lo), "ci_high": float(hi)}


def group_from_breaks(values, breaks: Sequence[float], labels: Sequence[str]) -> pd.Series:
    """Cut ``values`` at ``breaks`` (left-closed: [b_i, b_i+1)), e.g. TPS [1, 50] ->
    "<1 %", "1-49 %", ">=50 %". NaN stays NaN."""
    if len(labels) != len(breaks) + 1:
        raise ValueError(f"{len(breaks)} breaks need {len(breaks) + 1} labels, got {len(labels)}")
    v = pd.to_numeric(pd.Series(values), errors="coerce")
    out = pd.cut(v, [-np.inf, *breaks, np.inf], right=False, labels=list(labels))
    return out.astype(object).where(v.notna())



def linear_regression(y, X: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Ordinary least squares of ``y`` (n,) on the columns of ``X`` (n, p) plus an intercept,
    complete cases only (as R ``lm``): one row per term with the coefficient, its t-based
    (1 - alpha) CI and p, and the fit's n, R^2, adjusted R^2 and overall F-test p on every row.
    A design without residual degrees of freedom or with collinear columns says so in ``note``."""
    import statsmodels.api as sm
    d = pd.concat([pd.Series(np.asarray(y, float), index=X.index, name="__y"), X.astype(float)], axis=1).dropna()
    design = sm.add_constant(d.drop(columns="__y"), has_constant="add")
    if len(d) <= design.shape[1] or np.linalg.matrix_rank(design.to_numpy()) < design.shape[1]:
        why = ("no patient has every variable (complete cases: 0)" if d.empty else
               f"fewer patients ({len(d)} complete cases) than terms" if len(d) <= design.shape[1] else "collinear terms")
        return pd.DataFrame({"term": list(X.columns), "n": len(d), "note": f"not computable: {why}"})
    fit = sm.OLS(d["__y"], design).fit()
    ci = fit.conf_int(alpha)
    return pd.DataFrame({"term": fit.params.index.str.replace("const", "(intercept)"), "coef": fit.params.to_numpy(),
                         "ci_low": ci[0].to_numpy(), "ci_high": ci[1].to_numpy(), "se": fit.bse.to_numpy(),
                         "t": fit.tvalues.to_numpy(), "p": fit.pvalues.to_numpy(), "n": int(fit.nobs),
                         "r2": fit.rsquared, "r2_adj": fit.rsquared_adj, "f_p": fit.f_pvalue, "note": ""})
