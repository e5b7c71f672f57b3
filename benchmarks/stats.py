"""Benchmark of the statistics kernels against baselines measured in the same run.

    .venv/bin/python benchmarks/stats.py [--quick]     # prints Markdown tables

1. DeLong AUC + variance: ours (``dlscore.stats.auc_delong``: one sort per score, midranks
   read off the sorted order; input checks included) vs the textbook O(n²) placement matrix
   (NumPy, vectorised; up to n = 10,000, where it compares 24 M pairs) and vs R pROC
   ``roc()`` + ``var(method = "delong")`` (what ``ci.auc(method = "delong")`` runs), timed
   inside R (start-up and data transfer excluded) — when Rscript and pROC are installed.
2. Stratified bootstrap CI of the AUC with 10,000 replicates: ours
   (``dlscore.stats.bootstrap_auc``, vectorised count vectors) vs a Python loop that
   resamples and computes each replicate's AUC (rank formula) and vs pROC
   ``ci.auc(method = "bootstrap", boot.stratified = TRUE)``. The loop and pROC are timed
   on fewer replicates and scaled to 10,000 (their cost is linear in the replicates).

Scores: 40 % positives, normal scores rounded to 3 decimals (ties). Times are medians (ours,
naive) or means (R) of repeated calls, single-threaded. Ratios > 1 mean ours is faster.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import rankdata  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from dlscore.stats.roc import auc_delong, bootstrap_auc  # noqa: E402
from benchtools import median_time  # noqa: E402


def naive_delong(y, s):
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size


def naive_bootstrap(y, s, reps, seed=0):
    rng = np.random.default_rng(seed)
    pos, neg = s[y == 1], s[y == 0]
    m, n = pos.size, neg.size
    out = np.empty(reps)
    for b in range(reps):
        x = np.concatenate([pos[rng.integers(0, m, m)], neg[rng.integers(0, n, n)]])
        out[b] = (rankdata(x)[:m].sum() - m * (m + 1) / 2) / (m * n)
    return np.percentile(out, [2.5, 97.5])


def r_time(y, s, body: str, reps: int):
    """Mean seconds of ``body`` (R code using y, s) over ``reps`` runs, or None without pROC."""
    if shutil.which("Rscript") is None:
        return None
    code = ("suppressMessages(library(pROC)); d <- read.csv(file('stdin')); y <- d$y; s <- d$s; "
            f"invisible({{ {body} }}); t0 <- proc.time()[[3]]; for (i in 1:{reps}) {{ {body} }}; "
            f"cat((proc.time()[[3]] - t0) / {reps})")
    csv = "y,s\n" + "\n".join(f"{int(a)},{float(b):.17g}" for a, b in zip(y, s)) + "\n"
    res = subprocess.run(["Rscript", "-e", code], input=csv, capture_output=True, text=True)
    return float(res.stdout) if res.returncode == 0 else None


def data(n, rng):
    y = (rng.random(n) < 0.4).astype(int)
    return y, np.round(rng.normal(size=n) + y, 3)


def fmt(v, scale=1000.0, d=2):
    return "–" if v is None else f"{scale * v:.{d}f}"


def ratio(base, ours):
    return "–" if base is None else f"{base / ours:.1f}×"


def main(quick: bool = False):
    rng = np.random.default_rng(0)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"numpy {np.__version__}, {time.strftime('%Y-%m-%d')}\n")
    print("DeLong AUC + variance (ms per call)\n")
    print("| n | ours | naive O(n²) | pROC | naive / ours | pROC / ours |")
    print("|---|---|---|---|---|---|")
    roc_body = "r <- roc(y, s, direction='<', levels=c(0,1), quiet=TRUE); v <- var(r, method='delong')"
    for n in ((100, 1000, 10_000) if quick else (100, 1000, 10_000, 100_000)):
        y, s = data(n, rng)
        ours = median_time(lambda: auc_delong(y, s), 21)
        naive = None
        if n <= 10_000:
            a, v = naive_delong(y, s)
            r = auc_delong(y, s)
            assert abs(r.auc - a) < 1e-12 and abs(r.se ** 2 - v) < 1e-12, "DeLong disagrees with the naive version"
            naive = median_time(lambda: naive_delong(y, s), 3)
        proc = r_time(y, s, roc_body, 20 if n <= 10_000 else 5)
        print(f"| {n:,} | {fmt(ours)} | {fmt(naive)} | {fmt(proc)} | {ratio(naive, ours)} | {ratio(proc, ours)} |")
    print("\nStratified bootstrap CI of the AUC, 10,000 replicates (seconds)\n")
    print("| n | ours | Python loop | pROC | loop / ours | pROC / ours |")
    print("|---|---|---|---|---|---|")
    for n in ((100, 500) if quick else (100, 500, 1000, 10_000)):
        y, s = data(n, rng)
        ours = median_time(lambda: bootstrap_auc(y, s, 10_000, seed=1), 3)
        k = 1000 if n <= 1000 else 200
        loop = median_time(lambda: naive_bootstrap(y, s, k), 1) * 10_000 / k
        kr = 500 if n <= 1000 else 50
        proc = r_time(y, s, f"ci.auc(roc(y, s, direction='<', levels=c(0,1), quiet=TRUE), method='bootstrap', "
                            f"boot.n={kr}, boot.stratified=TRUE, progress='none')", 1)
        proc = None if proc is None else proc * 10_000 / kr
        print(f"| {n:,} | {fmt(ours, 1, 3)} | {fmt(loop, 1, 2)} | {fmt(proc, 1, 2)} | {ratio(loop, ours)} | "
              f"{ratio(proc, ours)} |")


if __name__ == "__main__":
    main("--quick" in sys.argv)
