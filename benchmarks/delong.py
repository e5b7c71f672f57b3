"""Benchmark: our fast DeLong (Sun & Xu, O(n log n)) vs the naive O(n^2) placement
computation and vs R pROC's `var(roc, method="delong")` (when Rscript + pROC are present).

    .venv/bin/python benchmarks/delong.py            # prints a Markdown table

Times are medians of repeated calls in the same process; pROC is timed inside R as the
mean of 20 calls of roc() + var(method = "delong") (R start-up and data loading excluded). Ratios > 1 mean ours is faster.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, "src")
from dlscore.stats.roc import auc_delong  # noqa: E402


def naive_var(y, s):
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size


def timeit(fn, reps):
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return float(np.median(out))


def proc_time(y, s, reps):
    if shutil.which("Rscript") is None:
        return None
    code = ("suppressMessages(library(pROC)); d <- read.csv(file('stdin')); "
            f"r <- roc(d$y, d$s, direction='<', levels=c(0,1), quiet=TRUE); ts <- numeric({reps}); "
            f"t0 <- proc.time()[[3]]; for (i in 1:{reps}) {{ "
            "r2 <- roc(d$y, d$s, direction='<', levels=c(0,1), quiet=TRUE); v <- var(r2, method='delong') }; "
            f"cat((proc.time()[[3]] - t0) / {reps})")
    csv = "y,s\n" + "\n".join(f"{int(a)},{float(b):.17g}" for a, b in zip(y, s)) + "\n"
    res = subprocess.run(["Rscript", "-e", code], input=csv, capture_output=True, text=True)
    return float(res.stdout) if res.returncode == 0 else None


def main():
    rng = np.random.default_rng(0)
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    print("| n | ours (ms) | naive O(n²) (ms) | pROC (ms) | naive / ours | pROC / ours |")
    print("|---|---|---|---|---|---|")
    for n in (200, 1000, 5000, 20000):
        y = (rng.random(n) < 0.4).astype(int)
        s = np.round(rng.normal(size=n) + y, 3)  # with ties
        ours = timeit(lambda: auc_delong(y, s), 7)
        assert abs(auc_delong(y, s).se ** 2 - naive_var(y, s)[1]) < 1e-12 if n <= 5000 else True
        naive = timeit(lambda: naive_var(y, s), 3) if n <= 5000 else None
        proc = proc_time(y, s, 20)
        f = lambda v: "–" if v is None else f"{1000 * v:.2f}"  # noqa: E731
        r = lambda v: "–" if v is None else f"{v / ours:.1f}×"  # noqa: E731
        print(f"| {n} | {f(ours)} | {f(naive)} | {f(proc)} | {r(naive)} | {r(proc)} |")


if __name__ == "__main__":
    main()
