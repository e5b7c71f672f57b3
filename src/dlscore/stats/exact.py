"""Fisher's exact test of independence for an r x c table, as R's ``fisher.test``.

The p value is the total probability, under independence with both margins fixed
(multivariate hypergeometric), of every table no more probable than the observed one (R's
tolerance: probability <= observed x (1 + 1e-7)). It is computed by enumerating the tables
column by column (the last two columns vectorised) while their number stays under a budget;
past it, the p value is estimated from random tables with the same margins (Patefield's
algorithm, ``scipy.stats.random_table``, seeded) as R's ``simulate.p.value = TRUE``:
(1 + number of simulated tables no more probable) / (B + 1). The method string says which.

SciPy's own r x c ``fisher_exact`` is a Monte Carlo estimate drawn without a seed (its p value
changes from call to call), so it is not used for r x c tables.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st
from scipy.special import gammaln

#: R's relative tolerance on "no more probable than the observed table"
REL_ERR = 1 + 1e-7
#: the cost of one vectorised step, counted in tables (a step's overhead is that of ~200 tables)
STEP_COST = 200


class _Budget(Exception):
    """Raised when enumeration would visit more tables than allowed."""


def _compositions(total: int, caps: np.ndarray) -> np.ndarray:
    """Every vector x (k, len(caps)) of non-negative integers with sum ``total`` and x <= caps,
    built row by row without a Python loop over the vectors."""
    caps = np.asarray(caps, dtype=np.int64)
    parts = np.zeros((1, 0), dtype=np.int64)
    left = np.array([total], dtype=np.int64)
    for i in range(len(caps) - 1):
        lo = np.maximum(0, left - caps[i + 1:].sum())
        hi = np.minimum(left, caps[i])
        counts = np.clip(hi - lo + 1, 0, None)
        idx = np.repeat(np.arange(len(parts)), counts)
        vals = lo[idx] + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        parts, left = np.column_stack([parts[idx], vals]), left[idx] - vals
    ok = (left >= 0) & (left <= caps[-1])
    return np.column_stack([parts[ok], left[ok]])


def _n_compositions(total: int, caps: np.ndarray) -> int:
    """How many vectors :func:`_compositions` would return (bounded-parts counting, O(r x total))."""
    ways = np.zeros(total + 1)
    ways[0] = 1.0
    for cap in caps:
        c = np.concatenate([[0.0], np.cumsum(ways)])  # ways'[s] = sum of ways[s - cap .. s]
        s = np.arange(total + 1)
        ways = c[s + 1] - c[np.maximum(s - int(cap), 0)]
    return int(round(ways[total]))


def _tail_mass(rows: np.ndarray, cols: np.ndarray, threshold: float, const: float, budget: list[int]) -> float:
    """Sum of the probabilities <= ``threshold`` (log scale) of every completion of the table
    whose remaining row sums are ``rows`` and whose remaining column sums are ``cols``;
    ``const`` is the log-probability part fixed so far (log of the cells' 1/x! already chosen
    plus the margins' terms)."""
    if len(cols) == 2:
        budget[0] -= _n_compositions(int(cols[0]), rows) + STEP_COST
        if budget[0] < 0:
            raise _Budget
        first = _compositions(int(cols[0]), rows)
        logp = const - gammaln(first + 1).sum(axis=1) - gammaln(rows - first + 1).sum(axis=1)
        keep = logp <= threshold
        return float(np.exp(logp[keep]).sum())
    total = 0.0
    for x in _compositions(int(cols[0]), rows):
        total += _tail_mass(rows - x, cols[1:], threshold, const - float(gammaln(x + 1).sum()), budget)
    return total


def fisher_exact_rxc(table, max_tables: int = 4_000_000, n_sim: int = 10_000, seed: int = 0) -> tuple[float, str]:
    """Two-sided p of Fisher's exact test for an r x c table of counts (rows and columns with
    a zero total dropped), and the method used: exact enumeration while at most ``max_tables``
    tables are visited (each vectorised step counted as :data:`STEP_COST` more; about a second
    on one core), else a Monte Carlo estimate from ``n_sim`` seeded random tables."""
    t = np.asarray(table, dtype=np.int64)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if t.ndim != 2 or min(t.shape) < 2:
        return float("nan"), "not testable (one level)"
    if t.shape == (2, 2):
        return float(_st.fisher_exact(t).pvalue), "Fisher's exact"
    if t.shape[1] != 2 and (t.shape[0] == 2 or t.shape[0] > t.shape[1]):
        t = t.T  # two columns: one vectorised step; else fewer rows: shorter compositions per column
    rows, cols, n = t.sum(axis=1), t.sum(axis=0), int(t.sum())
    const = float(gammaln(rows + 1).sum() + gammaln(cols + 1).sum() - gammaln(n + 1))
    log_obs = const - float(gammaln(t + 1).sum())
    threshold = log_obs + np.log(REL_ERR)
    try:
        p = _tail_mass(rows, cols, threshold, const, [max_tables])
        return min(1.0, p), "Fisher's exact"
    except _Budget:
        pass
    sims = _st.random_table(rows, cols, seed=np.random.default_rng(seed)).rvs(size=n_sim)
    log_sim = const - gammaln(sims + 1).sum(axis=(1, 2))
    p = (1 + int((log_sim <= threshold).sum())) / (n_sim + 1)
    return p, f"Fisher's exact, Monte Carlo p ({n_sim} random tables, seeded; too many tables to enumerate)"
