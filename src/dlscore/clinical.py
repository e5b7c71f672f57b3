"""Clinical validation of a marker (DLS group, IHC PD-L1, TMB, ...) against outcome after
immunotherapy: Cox models (univariable, multivariable, Schoenfeld check), logistic models of
durable clinical benefit (DCB), concordance indices and their comparison, the bootstrap CI
of a difference of hazard ratios, and subgroup analyses with interaction tests.

Model fitting is lifelines (Cox, Efron ties, as R ``coxph``) and statsmodels (logistic);
what they lack is here and tested: a vectorised Efron Cox fit for one binary covariate (for
10,000 bootstrap refits in seconds) and the U-statistic variance of a difference of two
correlated Harrell C-indices (the approach of R compareC, Kang et al. Stat Med 2015).

Conventions: ``time`` in the endpoint's unit (months), ``event`` 1 = event, 0 = censored;
a marker's "high" group is ``value >= cutoff``; HR and OR are high vs low (or per unit of
a continuous covariate, or level vs reference of a categorical one).
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

from dlscore.stats.association import show_level

# ----------------------------------------------------------------------------- design


def design_matrix(df: pd.DataFrame, covariates: Mapping[str, Mapping[str, Any]]) -> tuple[pd.DataFrame, dict]:
    """Numeric design columns for ``covariates`` (name -> {type: continuous|categorical|binary,
    reference: level}). Categorical: one 0/1 column ``name=level`` per non-reference level
    (reference = configured, else the first level in R's factor order, :func:`first_level`).
    Rows with a missing value keep NaN.

    Returns (X with the same index as ``df``, {covariate: [its columns]}).
    """
    cols, terms = {}, {}
    for name, spec in covariates.items():
        kind = spec.get("type", "continuous")
        v = df[name]
        if kind in ("continuous", "binary"):
            num = pd.to_numeric(v, errors="coerce")
            bad = v.notna() & num.isna()
            if bad.any():
                raise ValueError(f"covariate '{name}' is declared {kind} but holds non-numeric values "
                                 f"{sorted(map(str, v[bad].unique()))[:3]}; declare it categorical in the config "
                                 f"(clinical.covariates.{name}.type) or recode it")
            cols[name] = num.astype(float)
            terms[name] = [name]
        elif kind == "categorical":
            text = _as_levels(v)
            levels = text.dropna()
            if levels.empty:
                terms[name] = []
                continue
            ref = show_level(spec["reference"]) if "reference" in spec else first_level(levels)
            if ref not in set(levels):
                raise ValueError(f"covariate '{name}': reference level {ref!r} does not occur (levels: "
                                 f"{sorted(set(levels))}); correct clinical.covariates.{name}.reference")
            terms[name] = []
            for lv in sorted(set(levels) - {ref}):
                c = f"{name}={lv}"
                cols[c] = (text == lv).astype(float).where(v.notna())
                terms[name].append(c)
        else:
            raise ValueError(f"covariate '{name}': type must be continuous, binary or categorical, not {kind!r}")
    return pd.DataFrame(cols, index=df.index), terms


def check_covariates(df: pd.DataFrame, covariates: Mapping[str, Mapping[str, Any]]) -> None:
    """Up-front check (manifest rule) that the configured covariates present in the
    manifest can be coded; raises :class:`ManifestError` naming the column and the fix."""
    from dlscore.errors import InputError, ManifestError
    problems = []
    for name, spec in covariates.items():
        if name not in df:
            continue
        try:
            design_matrix(df, {name: spec})
        except ValueError as err:
            problems.append(InputError(str(err), "see config clinical.covariates", where=name))
    if problems:
        raise ManifestError(problems, "clinical covariates")


def _as_levels(v: pd.Series) -> pd.Series:
    """Category labels as printed (1.0 -> "1"), NaN kept."""
    return v.map(lambda x: show_level(x) if pd.notna(x) else np.nan)


def first_level(levels: pd.Series) -> str:
    """The reference level when the config names none: the first level as R's ``factor()``
    orders them (numerically when every level is a number, else alphabetically), so that a
    model fitted in R without ``relevel`` has the same reference."""
    values = sorted(set(levels.dropna()))
    try:
        return min(values, key=float)
    except ValueError:
        return values[0]


def reference_of(df: pd.DataFrame, name: str, spec: Mapping[str, Any]) -> str:
    """The reference level a categorical covariate is compared with (for table captions)."""
    if spec.get("type") != "categorical":
        return ""
    return show_level(spec["reference"]) if "reference" in spec else first_level(_as_levels(df[name]))


# ----------------------------------------------------------------------------- Cox


def cox_fit(time, event, X: pd.DataFrame, alpha: float = 0.05) -> dict[str, Any]:
    """Cox PH model (lifelines, Efron ties) of ``X`` (n, p), complete cases.

    Returns {"terms": DataFrame(term, coef, se, hr, hr_ci_low, hr_ci_high, p, ph_p),
    "n", "events", "concordance", "loglik", "ph_min_p", "note"}; ``ph_p`` is the Schoenfeld
    residual test per term (KM time transform, as R ``cox.zph(transform = "km")`` before
    survival 3.0). Degenerate fits (a term without variation, no events in a level) are
    reported in ``note`` with NaN estimates, never as a huge HR.
    """
    from lifelines.statistics import proportional_hazard_test

    from dlscore.survival import fit_cox
    d = X.copy()
    d["_t"] = np.asarray(time, dtype=float)
    d["_e"] = np.asarray(event, dtype=float)
    d = d.dropna()
    out: dict[str, Any] = {"n": len(d), "events": int(d["_e"].sum()), "terms": pd.DataFrame(),
                           "concordance": np.nan, "loglik": np.nan, "ph_min_p": np.nan, "note": ""}
    const = [c for c in X.columns if d[c].nunique() < 2]
    if const:
        out["note"] = f"not estimable: no variation in {', '.join(const)} among {len(d)} complete cases"
        return out
    for c in X.columns:
        vals = d[c].unique()
        if set(vals) <= {0.0, 1.0} and (d.loc[d[c] == 1, "_e"].sum() == 0 or d.loc[d[c] == 0, "_e"].sum() == 0):
            out["note"] = f"not estimable: no events in one level of {c} (monotone likelihood)"
            return out
    if out["events"] < 2:
        out["note"] = "not estimable: fewer than 2 events"
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cph = fit_cox(d, "_t", "_e", alpha)
        except Exception as err:  # noqa: BLE001 - lifelines ConvergenceError, singular design
            out["note"] = f"not estimable: {type(err).__name__} (collinear or separated covariates)"
            return out
        try:
            ph = proportional_hazard_test(cph, d, time_transform="km").summary["p"]
        except Exception:  # noqa: BLE001 - the PH check must never hide the model itself
            ph = pd.Series(np.nan, index=X.columns)
    s = cph.summary
    from dlscore.survival import MAX_ABS_COEF
    wild = [t for t in X.columns if not (abs(s.at[t, "coef"]) < MAX_ABS_COEF and np.isfinite(s.at[t, "se(coef)"]))]
    if wild:  # monotone likelihood / separation: lifelines stops at a huge finite value
        out["note"] = (f"not estimable: the fit diverges for {', '.join(wild)} (monotone likelihood or separation; "
                       "the coefficient tends to infinity)")
        return out
    lo, hi = f"coef lower {100 * (1 - alpha):g}%", f"coef upper {100 * (1 - alpha):g}%"
    out["terms"] = pd.DataFrame({
        "term": list(X.columns), "coef": s["coef"].to_numpy(), "se": s["se(coef)"].to_numpy(),
        "hr": s["exp(coef)"].to_numpy(), "hr_ci_low": np.exp(s[lo]).to_numpy(), "hr_ci_high": np.exp(s[hi]).to_numpy(),
        "p": s["p"].to_numpy(), "ph_p": ph.reindex(X.columns).to_numpy()})
    out.update(concordance=float(cph.concordance_index_), loglik=float(cph.log_likelihood_),
               ph_min_p=float(np.nanmin(ph.to_numpy())) if np.isfinite(ph.to_numpy()).any() else np.nan)
    out["model"] = cph
    return out


def cox_binary_efron(time, event, x, weights=None, max_iter: int = 30, tol: float = 1e-10) -> np.ndarray:
    """Cox log-HR of a single 0/1 covariate by Newton-Raphson on the Efron partial likelihood,
    vectorised over rows of ``weights``.

    time, event, x: (n,); weights: (B, n) non-negative integer case counts (a bootstrap
    replicate = how often each patient was drawn), default one row of ones. Integer weights
    give exactly the fit on the data with rows replicated (tied copies handled by Efron).
    Returns (B,) log-HRs; NaN where not estimable (no events in one group: monotone
    likelihood).
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    g = np.asarray(x).astype(bool)
    W = np.ones((1, t.size)) if weights is None else np.atleast_2d(np.asarray(weights, dtype=float))
    tau = np.unique(t[e])
    risk = t[:, None] >= tau[None, :]                 # (n, K)
    death = (t[:, None] == tau[None, :]) & e[:, None]
    R1, R0 = W @ (risk & g[:, None]), W @ (risk & ~g[:, None])      # (B, K)
    D1, D0 = W @ (death & g[:, None]), W @ (death & ~g[:, None])
    D = D1 + D0
    max_d = int(D.max()) if D.size else 0
    beta = np.zeros(W.shape[0])
    ok = (D1.sum(axis=1) > 0) & (D0.sum(axis=1) > 0)  # events in both groups, else monotone likelihood
    with np.errstate(divide="ignore", invalid="ignore"):
        frac_unit = np.where(D > 0, 1.0 / D, 0.0)
        for _ in range(max_iter):
            th = np.exp(beta)[:, None]
            score = D1.sum(axis=1).astype(float)
            info = np.zeros_like(beta)
            for r in range(max_d):
                active = r < D
                a = R1 - r * frac_unit * D1
                b = R0 - r * frac_unit * D0
                den = a * th + b
                score -= np.where(active, a * th / den, 0.0).sum(axis=1)
                info += np.where(active, a * th * b / den ** 2, 0.0).sum(axis=1)
            step = np.where(ok & (info > 0), score / info, 0.0)
            step = np.clip(step, -5.0, 5.0)
            beta = beta + step
            if np.all(np.abs(step) < tol):
                break
    beta[~ok] = np.nan
    beta[np.abs(beta) > 20] = np.nan                 # diverging (quasi-separation): not estimable
    return beta


def hr_difference_bootstrap(time, event, x_a, x_b, n_boot: int = 10_000, seed: int = 0,
                            alpha: float = 0.05) -> dict[str, Any]:
    """HR of group ``x_a`` (0/1) minus HR of group ``x_b`` (0/1) in the same patients, with a
    percentile bootstrap CI (patients resampled with replacement, both HRs refitted on each
    replicate: paired). As in the PET/CT study: HR of DLS-high minus HR of IHC-positive.

    Returns hr_a, hr_b, diff, ci_low, ci_high, p (two-sided, share of replicates on the other
    side of 0, doubled), n_boot_used (replicates where both HRs were estimable).
    """
    t = np.asarray(time, dtype=float)
    rng = np.random.default_rng(seed)
    n = t.size
    hr_a = float(np.exp(cox_binary_efron(t, event, x_a)[0]))
    hr_b = float(np.exp(cox_binary_efron(t, event, x_b)[0]))
    diffs = []
    for start in range(0, n_boot, 2000):
        b = min(2000, n_boot - start)
        idx = rng.integers(0, n, (b, n)) + np.arange(b)[:, None] * n
        w = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(float)
        da = np.exp(cox_binary_efron(t, event, x_a, w))
        db = np.exp(cox_binary_efron(t, event, x_b, w))
        diffs.append(da - db)
    d = np.concatenate(diffs)
    d = d[np.isfinite(d)]
    out = {"hr_a": hr_a, "hr_b": hr_b, "diff": hr_a - hr_b, "n_boot": n_boot, "n_boot_used": int(d.size)}
    if d.size < 0.9 * n_boot:
        out.update(ci_low=np.nan, ci_high=np.nan, p=np.nan)
        out["note"] = f"only {d.size} of {n_boot} replicates estimable (too few events): CI not reported"
        return out
    lo, hi = np.percentile(d, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    p = min(1.0, 2 * min((d <= 0).mean(), (d >= 0).mean()))
    out.update(ci_low=float(lo), ci_high=float(hi), p=float(max(p, 1.0 / d.size)), note="")
    return out


# ----------------------------------------------------------------------------- concordance


def _concordance_kernels(time, event, *risks) -> tuple[np.ndarray, ...]:
    """Pair matrices: usable (i earlier with an event; or equal times, i event, j censored)
    and, per risk score, the concordant credit (1 if risk_i > risk_j, 1/2 if tied); all (n, n).
    The usable pairs depend on the outcome only, so they are built once for all scores."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    usable = e[:, None] & ((t[:, None] < t[None, :]) | ((t[:, None] == t[None, :]) & ~e[None, :]))
    credits = []
    for risk in risks:
        r = np.asarray(risk, dtype=float)
        credits.append(usable * ((r[:, None] > r[None, :]) + 0.5 * (r[:, None] == r[None, :])))
    return (usable.astype(float), *credits)


def harrell_c(time, event, risk) -> float:
    """Harrell's C of a risk score (higher = earlier event); equals lifelines
    ``concordance_index(time, -risk, event)``."""
    u, c = _concordance_kernels(time, event, risk)
    return float(c.sum() / u.sum())


def _c_influence(time, event, risk) -> tuple[float, np.ndarray]:
    u, c = _concordance_kernels(time, event, risk)
    n = u.shape[0]
    a, b = c + c.T, u + u.T                          # symmetric kernels of the two U-statistics
    a_bar, b_bar = a.sum() / (n * (n - 1)), b.sum() / (n * (n - 1))
    cc = a_bar / b_bar
    psi = (a.sum(axis=1) / (n - 1) - cc * b.sum(axis=1) / (n - 1)) / b_bar
    return float(cc), psi


def compare_cindex(time, event, risk_a, risk_b, n_boot: int = 2000, seed: int = 0,
                   alpha: float = 0.05) -> dict[str, Any]:
    """Compare two correlated C-indices on the same patients.

    z-test: variance of C_a - C_b from the Hoeffding projections of the ratio of
    U-statistics (the one-shot nonparametric approach of compareC, Kang et al. 2015);
    paired bootstrap: percentile CI of the difference and of each C (patients resampled).
    time, event, risk_a, risk_b: (n,). Returns c_a, c_b, c_a_ci_low/high, c_b_ci_low/high,
    diff, diff_ci_low/high (bootstrap), diff_se (U-statistic), z, p.
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(int)
    ra, rb = np.asarray(risk_a, dtype=float), np.asarray(risk_b, dtype=float)
    n = t.size
    ca, psi_a = _c_influence(t, e, ra)
    cb, psi_b = _c_influence(t, e, rb)
    var = 4.0 * np.var(psi_a - psi_b, ddof=1) / n
    se = float(np.sqrt(var))
    z = (ca - cb) / se if se > 0 else np.nan
    rng = np.random.default_rng(seed)
    reps = np.empty((n_boot, 2))
    for k in range(n_boot):
        i = rng.integers(0, n, n)
        ua, caa, cbb = _concordance_kernels(t[i], e[i], ra[i], rb[i])
        s = ua.sum()
        reps[k] = (caa.sum() / s, cbb.sum() / s) if s > 0 else (np.nan, np.nan)
    reps = reps[np.isfinite(reps).all(axis=1)]
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    (a_lo, a_hi), (b_lo, b_hi) = np.percentile(reps[:, 0], q), np.percentile(reps[:, 1], q)
    d_lo, d_hi = np.percentile(reps[:, 0] - reps[:, 1], q)
    return {"c_a": ca, "c_a_ci_low": float(a_lo), "c_a_ci_high": float(a_hi), "c_b": cb,
            "c_b_ci_low": float(b_lo), "c_b_ci_high": float(b_hi), "diff": ca - cb, "diff_ci_low": float(d_lo),
            "diff_ci_high": float(d_hi), "diff_se": se, "z": float(z),
            "p": float(2 * _st.norm.sf(abs(z))) if np.isfinite(z) else np.nan, "n": n, "events": int(e.sum()),
            "n_boot": int(len(reps))}


# ----------------------------------------------------------------------------- DCB (logistic)


def logistic_fit(y, X: pd.DataFrame, alpha: float = 0.05) -> dict[str, Any]:
    """Logistic regression (statsmodels Logit, Wald CIs) of 0/1 ``y`` on ``X``, complete cases.

    Returns {"terms": DataFrame(term, coef, se, or, or_ci_low, or_ci_high, p), "n",
    "events", "note"} and, when fitted, "model" (the statsmodels result); separation (a level
    with all or no DCB) is reported, not fitted.
    """
    import statsmodels.api as sm
    d = X.copy()
    d["_y"] = np.asarray(y, dtype=float)
    d = d.dropna()
    out: dict[str, Any] = {"n": len(d), "events": int(d["_y"].sum()), "terms": pd.DataFrame(), "note": ""}
    if d["_y"].nunique() < 2:
        out["note"] = "not estimable: one outcome class"
        return out
    for c in X.columns:
        if d[c].nunique() < 2:
            out["note"] = f"not estimable: no variation in {c}"
            return out
        if set(d[c].unique()) <= {0.0, 1.0}:
            tab = pd.crosstab(d[c], d["_y"])
            if (tab.to_numpy() == 0).any():
                out["note"] = f"not estimable: a cell of {c} x outcome is empty (separation)"
                return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = sm.Logit(d["_y"], sm.add_constant(d[list(X.columns)], has_constant="add")).fit(disp=0, maxiter=100)
        except Exception as err:  # noqa: BLE001 - perfect separation and singular designs
            out["note"] = f"not estimable: {type(err).__name__}"
            return out
    ci = res.conf_int(alpha)
    cols = list(X.columns)
    out["terms"] = pd.DataFrame({"term": cols, "coef": res.params[cols].to_numpy(), "se": res.bse[cols].to_numpy(),
                                 "or": np.exp(res.params[cols]).to_numpy(), "or_ci_low": np.exp(ci.loc[cols, 0]).to_numpy(),
                                 "or_ci_high": np.exp(ci.loc[cols, 1]).to_numpy(), "p": res.pvalues[cols].to_numpy()})
    out["model"] = res
    return out


def rates_by_group(y, high) -> dict[str, Any]:
    """DCB (or response) rate in the high and low groups with Fisher's exact p.

    y: (n,) 0/1 (NaN dropped); high: (n,) bool."""
    from dlscore.stats.association import categorical_test
    from dlscore.stats.roc import wilson_ci
    yy = np.asarray(y, dtype=float)
    h = np.asarray(high, dtype=bool)
    ok = np.isfinite(yy)
    yy, h = yy[ok].astype(int), h[ok]
    out: dict[str, Any] = {}
    for name, sel in (("high", h), ("low", ~h)):
        k, m = int(yy[sel].sum()), int(sel.sum())
        lo, hi = wilson_ci(k, m) if m else (np.nan, np.nan)
        out.update({f"n_{name}": m, f"dcb_{name}": k, f"rate_{name}": k / m if m else np.nan,
                    f"rate_{name}_ci_low": lo, f"rate_{name}_ci_high": hi})
    tab = np.array([[out["dcb_high"], out["n_high"] - out["dcb_high"]], [out["dcb_low"], out["n_low"] - out["dcb_low"]]])
    out["p"], out["test"] = categorical_test(tab)
    return out


# ----------------------------------------------------------------------------- subgroups


def interaction_p(time, event, group, subgroup) -> float:
    """Likelihood-ratio p of the group x subgroup interaction in a Cox model
    (group + subgroup levels + products vs without the products)."""
    from dlscore.survival import fit_cox
    d = pd.DataFrame({"_t": np.asarray(time, float), "_e": np.asarray(event, float),
                      "g": np.asarray(group, float), "s": pd.Series(np.asarray(subgroup, dtype=object)).astype(str)})
    levels = sorted(d["s"].unique())
    if len(levels) < 2:
        return float("nan")
    for lv in levels[1:]:
        d[f"s={lv}"] = (d["s"] == lv).astype(float)
        d[f"gx{lv}"] = d["g"] * d[f"s={lv}"]
    base = ["g"] + [f"s={lv}" for lv in levels[1:]]
    inter = [f"gx{lv}" for lv in levels[1:]]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = fit_cox(d[["_t", "_e", *base, *inter]], "_t", "_e")
            red = fit_cox(d[["_t", "_e", *base]], "_t", "_e")
    except Exception:  # noqa: BLE001 - convergence failure in a small subgroup
        return float("nan")
    lr = 2 * (full.log_likelihood_ - red.log_likelihood_)
    return float(_st.chi2.sf(max(lr, 0.0), len(inter)))


#: a subgroup estimate with fewer events, or fewer patients in an arm, is flagged as unreliable
MIN_SUBGROUP_EVENTS, MIN_SUBGROUP_ARM = 10, 5


def subgroup_flag(row: Mapping[str, Any]) -> str:
    """Why a subgroup's HR should not be read on its own ("" when nothing is wrong)."""
    flags = []
    if not str(row.get("estimable", "")).startswith("yes"):
        flags.append("not estimable")
    if row["events_high"] + row["events_low"] < MIN_SUBGROUP_EVENTS:
        flags.append(f"fewer than {MIN_SUBGROUP_EVENTS} events")
    if min(row["n_high"], row["n_low"]) < MIN_SUBGROUP_ARM:
        flags.append(f"fewer than {MIN_SUBGROUP_ARM} patients in an arm")
    return "; ".join(flags)


def subgroup_table(df: pd.DataFrame, time: str, event: str, high: str, subgroups: Sequence[str],
                   dcb: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """HR (high vs low, Cox) and DCB rates in every level of every subgroup variable, with
    the interaction p of the variable (one row per level; ``all patients`` first) and a
    ``flag`` saying why a level's HR is unreliable (:func:`subgroup_flag`). The interaction
    test of a variable with a level whose HR is not estimable (all events in one arm) is not
    computed: its likelihood-ratio test would rest on a diverging fit."""
    from dlscore.survival import compare_groups
    rows = []
    d = df.dropna(subset=[time, event])

    def one(name: str, level: str, g: pd.DataFrame, p_int: float) -> dict[str, Any]:
        row: dict[str, Any] = {"subgroup": name, "level": level, "interaction_p": p_int}
        res = compare_groups(g[time], g[event], g[high].astype(bool), alpha)
        row.update({k: res[k] for k in ("n", "n_high", "n_low", "events_high", "events_low", "hr", "hr_ci_low",
                                        "hr_ci_high", "hr_p", "estimable")})
        if dcb and dcb in g:
            r = rates_by_group(g[dcb], g[high].astype(bool))
            row.update({"dcb_rate_high": r["rate_high"], "dcb_rate_low": r["rate_low"], "dcb_p": r["p"]})
        row["flag"] = subgroup_flag(row)
        return row

    rows.append(one("all patients", "", d, np.nan))
    for sg in subgroups:
        if sg not in d:
            continue
        s = d[sg].astype(object).where(d[sg].notna())
        sub = d[s.notna()]
        p_int = interaction_p(sub[time], sub[event], sub[high], s[s.notna()])
        level_rows = [one(sg, lv, sub[s[s.notna()].astype(str) == lv], p_int)
                      for lv in sorted(s.dropna().astype(str).unique())]
        if any("not estimable" in r["flag"] for r in level_rows):
            for r in level_rows:
                r["interaction_p"] = np.nan
                r["interaction_note"] = "not computable: a level's HR is not estimable (monotone likelihood)"
        rows += level_rows
    return pd.DataFrame(rows)
