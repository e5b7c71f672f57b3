"""ROC analysis: AUC with DeLong variance, paired/unpaired DeLong tests, Youden cutoff,
classification metrics at a fixed cutoff with Wilson and stratified-bootstrap CIs.

Conventions (stated in every table that uses them):

* a **higher score means the positive class** (label 1). The direction is never flipped
  automatically (pROC ``direction = "<"``); an AUC below 0.5 is reported as such.
* a patient is called positive when ``score >= cutoff``.
* DeLong variances use the fast midrank algorithm of Sun & Xu (IEEE SPL 2014), O(n log n),
  exact with ties (ties count 1/2, as in the Mann-Whitney statistic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

FloatArray = np.ndarray


def _as_binary(y_true) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        bad = sorted(set(np.unique(y).tolist()) - {0, 1})
        raise ValueError(f"y_true must hold only 0/1 labels; found {bad[:5]}")
    y = y.astype(bool)
    if y.all() or (~y).all():
        raise ValueError("y_true needs both classes (at least one 0 and one 1) for an AUC")
    return y


def _as_scores(score, n: int) -> np.ndarray:
    s = np.asarray(score, dtype=float)
    if s.ndim == 1:
        s = s[None, :]
    if s.shape[-1] != n:
        raise ValueError(f"score has {s.shape[-1]} values for {n} labels")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite (no NaN/inf); drop or impute missing scores first")
    return s


def _sorted_midranks(v: np.ndarray) -> np.ndarray:
    """Midranks (1-based; tied values share their mean rank) of an ascending 1-D array."""
    n = v.size
    start = np.empty(n, dtype=bool)
    start[:1] = True
    np.not_equal(v[1:], v[:-1], out=start[1:])
    first = np.flatnonzero(start)
    end = np.append(first[1:], n)
    return np.repeat((first + end + 1) / 2.0, end - first)


def _delong_components(y: np.ndarray, s: np.ndarray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """AUCs (k,), positive placements V10 (k, m) and negative placements V01 (k, n).

    One sort per score row: the midranks among all patients, among positives and among
    negatives are read from the same sorted order (the positives of a sorted sequence are
    sorted). Placements are returned in the patients' original order, so that rows of a
    paired comparison line up patient by patient.
    """
    m, n = int(y.sum()), int((~y).sum())
    within = np.cumsum(y) - 1                 # index among positives (for y) ...
    within_neg = np.cumsum(~y) - 1            # ... and among negatives (for ~y)
    aucs = np.empty(s.shape[0])
    v10, v01 = np.empty((s.shape[0], m)), np.empty((s.shape[0], n))
    for k, row in enumerate(s):
        order = np.argsort(row, kind="stable")
        sv, cls = row[order], y[order]
        tz = _sorted_midranks(sv)
        tzp, tzn = tz[cls], tz[~cls]
        aucs[k] = (tzp.sum() / m - (m + 1) / 2.0) / n
        v10[k, within[order[cls]]] = (tzp - _sorted_midranks(sv[cls])) / n
        v01[k, within_neg[order[~cls]]] = 1.0 - (tzn - _sorted_midranks(sv[~cls])) / m
    return aucs, v10, v01


def _delong_cov(v10: FloatArray, v01: FloatArray) -> FloatArray:
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((v10.shape[0],) * 2)
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((v01.shape[0],) * 2)
    return s10 / m + s01 / n


@dataclass(frozen=True)
class AUCResult:
    """AUC with its DeLong standard error and (1 - alpha) confidence interval."""

    auc: float
    se: float
    ci_low: float
    ci_high: float
    n_pos: int
    n_neg: int
    alpha: float = 0.05
    ci_method: str = "DeLong"


def auc_delong(y_true, score, alpha: float = 0.05) -> AUCResult:
    """AUC of ``score`` for ``y_true`` (0/1) with a DeLong CI (clipped to [0, 1], as pROC).

    y_true: (n,) 0/1; score: (n,) any real scale, higher = more likely positive.
    """
    y = _as_binary(y_true)
    s = _as_scores(score, y.size)
    aucs, v10, v01 = _delong_components(y, s)
    var = float(_delong_cov(v10, v01)[0, 0])
    se = float(np.sqrt(max(var, 0.0)))
    z = _st.norm.ppf(1 - alpha / 2)
    auc = float(aucs[0])
    return AUCResult(auc, se, max(0.0, auc - z * se), min(1.0, auc + z * se),
                     int(y.sum()), int((~y).sum()), alpha)


@dataclass(frozen=True)
class DeLongTest:
    """Comparison of two AUCs: difference a - b with its CI, z statistic and two-sided p."""

    auc_a: float
    auc_b: float
    diff: float
    se: float
    ci_low: float
    ci_high: float
    z: float
    p: float
    paired: bool
    df: float = float("inf")
    """Degrees of freedom of the reference distribution: inf (normal) for the paired
    test; Welch-Satterthwaite df of a t distribution for the unpaired one (as pROC)."""


def _compare(auc_a: float, auc_b: float, var: float, alpha: float, paired: bool,
             df: float = float("inf")) -> DeLongTest:
    diff = auc_a - auc_b
    se = float(np.sqrt(max(var, 0.0)))
    ref = _st.norm if np.isinf(df) else _st.t(df)
    zq = ref.ppf(1 - alpha / 2)
    if se == 0.0:
        z, p = (0.0, 1.0) if diff == 0 else (float(np.sign(diff) * np.inf), 0.0)
    else:
        z = diff / se
        p = float(2 * ref.sf(abs(z)))
    return DeLongTest(auc_a, auc_b, diff, se, diff - zq * se, diff + zq * se, float(z), p,
                      paired, float(df))


def delong_test(y_true, score_a, score_b, alpha: float = 0.05) -> DeLongTest:
    """Paired DeLong test of two scores measured on the same patients (pROC ``roc.test``).

    y_true, score_a, score_b: (n,). Two-sided p for H0: AUC_a == AUC_b.
    """
    y = _as_binary(y_true)
    s = np.vstack([_as_scores(score_a, y.size), _as_scores(score_b, y.size)])
    aucs, v10, v01 = _delong_components(y, s)
    cov = _delong_cov(v10, v01)
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    return _compare(float(aucs[0]), float(aucs[1]), float(var), alpha, True)


def delong_test_unpaired(y_a, score_a, y_b, score_b, alpha: float = 0.05) -> DeLongTest:
    """Unpaired DeLong test: two AUCs on different patients (independent samples).

    Statistic D = (AUC_a - AUC_b) / sqrt(V_a + V_b) referred to a t distribution with
    Welch-Satterthwaite degrees of freedom, exactly as pROC's ``roc.test(paired=FALSE)``.
    """
    a = auc_delong(y_a, score_a, alpha)
    b = auc_delong(y_b, score_b, alpha)
    va, vb = a.se**2, b.se**2
    na, nb = a.n_pos + a.n_neg, b.n_pos + b.n_neg
    den = va**2 / (na - 1) + vb**2 / (nb - 1)
    df = (va + vb) ** 2 / den if den > 0 else float("inf")
    return _compare(a.auc, b.auc, va + vb, alpha, False, df)


def roc_curve_points(y_true, score) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Thresholds (t,), sensitivity (t,), specificity (t,) for ``score >= threshold``.

    Thresholds are -inf, the midpoints between consecutive distinct scores, and +inf
    (pROC's convention), in increasing order.
    """
    y = _as_binary(y_true)
    s = _as_scores(score, y.size)[0]
    u = np.unique(s)
    thr = np.concatenate([[-np.inf], (u[:-1] + u[1:]) / 2.0, [np.inf]])
    pos, neg = np.sort(s[y]), np.sort(s[~y])
    sens = 1.0 - np.searchsorted(pos, thr, side="left") / pos.size
    spec = np.searchsorted(neg, thr, side="left") / neg.size
    return thr, sens, spec


def youden_cutoff(y_true, score) -> float:
    """Threshold maximising Youden's J = sensitivity + specificity - 1 (ties: the lowest),
    higher score = positive (the direction is never flipped). Raises ValueError for a
    constant score, when no threshold does better than chance (J <= 0 everywhere: pROC then
    returns -Inf or Inf, a cutoff no patient can use), and when the AUC is below 0.5 (the
    score points the wrong way; pROC would still return the best of its thresholds)."""
    if np.ptp(np.asarray(score, dtype=float)) == 0:
        raise ValueError(f"the score is constant ({float(np.asarray(score, dtype=float)[0]):.4g} for all "
                         f"{np.size(score)} patients): no cutoff separates them")
    thr, sens, spec = roc_curve_points(y_true, score)
    j = sens + spec - 1.0
    finite = np.isfinite(thr)
    best = np.flatnonzero(finite)[np.argmax(j[finite])]
    auc = auc_delong(y_true, score).auc
    if j[best] <= 0 or auc < 0.5:
        raise ValueError(f"no useful cutoff: the score does not separate the classes better than chance (AUC "
                         f"{auc:.2f}; higher score = positive, the direction is not flipped)")
    return float(thr[best])


def wilson_ci(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a proportion (no continuity correction)."""
    if n == 0:
        return (float("nan"), float("nan"))
    z = _st.norm.ppf(1 - alpha / 2)
    p = successes / n
    den = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    return (float(centre - half), float(centre + half))


METRICS = ("acc", "sen", "spec", "ppv", "npv")


def metrics_at_cutoff(y_true, score, cutoff: float) -> dict[str, float]:
    """ACC, SEN, SPEC, PPV, NPV (proportions) and the 2x2 counts at ``score >= cutoff``."""
    y = np.asarray(y_true).astype(bool)
    pred = np.asarray(score, dtype=float) >= cutoff
    tp, fn = int((pred & y).sum()), int((~pred & y).sum())
    tn, fp = int((~pred & ~y).sum()), int((pred & ~y).sum())

    def ratio(a: int, b: int) -> float:
        return a / b if b else float("nan")

    return {"tp": tp, "fp": fp, "tn": tn, "fn": fn, "acc": ratio(tp + tn, y.size),
            "sen": ratio(tp, tp + fn), "spec": ratio(tn, tn + fp),
            "ppv": ratio(tp, tp + fp), "npv": ratio(tn, tn + fn)}


def bootstrap_metrics(y_true, score, cutoff: float, n_boot: int = 10_000, seed: int = 0,
                      alpha: float = 0.05) -> dict[str, tuple[float, float]]:
    """Stratified percentile-bootstrap CIs of ACC/SEN/SPEC/PPV/NPV at a fixed cutoff.

    Positives and negatives are resampled separately (class sizes kept), ``n_boot``
    replicates, vectorised; the cutoff is not re-estimated. Returns metric -> (low, high).
    """
    y = _as_binary(y_true)
    hit = np.asarray(score, dtype=float) >= cutoff
    rng = np.random.default_rng(seed)
    pos_hit, neg_hit = hit[y], hit[~y]
    m, n = pos_hit.size, neg_hit.size
    tp = pos_hit[rng.integers(0, m, size=(n_boot, m))].sum(axis=1)
    fp = neg_hit[rng.integers(0, n, size=(n_boot, n))].sum(axis=1)
    tn, fn = n - fp, m - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = {"acc": (tp + tn) / (m + n), "sen": tp / m, "spec": tn / n,
                "ppv": tp / (tp + fp), "npv": tn / (tn + fn)}
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    out = {}
    for k, v in reps.items():
        v = v[np.isfinite(v)]
        out[k] = tuple(float(x) for x in np.percentile(v, q)) if v.size else (float("nan"),) * 2
    return out


def bootstrap_auc(y_true, score, n_boot: int = 10_000, seed: int = 0, alpha: float = 0.05,
                  stratified: bool = True) -> tuple[float, float, FloatArray]:
    """Percentile-bootstrap CI of the AUC, vectorised (no Python loop over replicates).

    Each replicate resamples positives and negatives separately (``stratified``, as pROC's
    ``ci.auc(method = "bootstrap", boot.stratified = TRUE)``), represented by count vectors;
    its AUC is read from cumulative negative counts over the sorted negative scores, so a
    replicate costs O(m + n) after one O(n log n) sort.

    y_true: (n,) 0/1; score: (n,) higher = positive. Returns (ci_low, ci_high, aucs (n_boot,)).
    """
    if not stratified:
        raise NotImplementedError("only the stratified bootstrap is implemented (pROC's default)")
    y = _as_binary(y_true)
    s = _as_scores(score, y.size)[0]
    pos, neg = s[y], np.sort(s[~y])
    m, n = pos.size, neg.size
    lo = np.searchsorted(neg, pos, side="left")   # negatives strictly below each positive
    hi = np.searchsorted(neg, pos, side="right")  # ... plus those tied with it
    rng = np.random.default_rng(seed)
    aucs = np.empty(n_boot)
    chunk = max(1, 2_000_000 // max(m + n, 1))    # bound memory: ~16 MB per block
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        rows = np.arange(b)[:, None]
        cp = np.bincount((rng.integers(0, m, (b, m)) + rows * m).ravel(), minlength=b * m).reshape(b, m)
        cn = np.bincount((rng.integers(0, n, (b, n)) + rows * n).ravel(), minlength=b * n).reshape(b, n)
        cum = np.zeros((b, n + 1))
        np.cumsum(cn, axis=1, out=cum[:, 1:])
        wins = cum[:, lo] + 0.5 * (cum[:, hi] - cum[:, lo])          # (b, m)
        aucs[start:start + b] = (cp * wins).sum(axis=1) / (m * n)
    q = np.percentile(aucs, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(q[0]), float(q[1]), aucs
