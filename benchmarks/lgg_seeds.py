"""The TCGA-LGG study over several seeds: the README's LGG table (AUC per seed and the spread).

Runs the whole study once per seed into ``results/lgg_seed<seed>`` (the seed draws the folds
and the networks' initialisation; the external sites are fixed), times each run, and prints
the Markdown table of the README's LGG section from the runs' own tables:
``tables/signature_baselines.csv`` (clinical baseline, RAsig, DLS, DLS + clinical, RADLsig)
and ``tables/discrimination.csv`` (the other networks, e.g. ``resnet_fusion``).

    .venv/bin/python benchmarks/lgg_seeds.py --seeds 20261123 1 2            # run, then tabulate
    .venv/bin/python benchmarks/lgg_seeds.py --seeds 20261123 1 2 --no-run   # tabulate finished runs
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
#: rows of signature_baselines.csv, in the README's order, and how the README names them
BASELINES = {"Clinical": "Clinical (age)", "RAsig": "RAsig", "DLS": "DLS (`sres_mri`)", "DLS + clinical": "DLS + age",
             "RADLsig": "RADLsig"}


def run(seed: int, cores: int) -> float:
    """Run the whole LGG study with ``seed`` (results/lgg_seed<seed>); its wall time (s)."""
    t0 = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "snakemake"), "--cores", str(cores), "-q",
                    "--configfile", "config/lgg.yaml", "--config", f"seed={seed}", f"results=results/lgg_seed{seed}"],
                   cwd=REPO, check=True)
    return time.perf_counter() - t0


def aucs(results: Path, other_models: list[str]) -> pd.DataFrame:
    """AUC rows (model, set, auc, ci_low, ci_high) of one finished run: development and external sets."""
    b = pd.read_csv(results / "tables" / "signature_baselines.csv")
    b = b[b["model"].isin(BASELINES)].assign(model=lambda d: d["model"].map(BASELINES))
    d = pd.read_csv(results / "tables" / "discrimination.csv")
    d = d[d["model"].isin(other_models) & (d["analysis"] == "primary")]
    d = d.assign(model=d["model"] + " (fusion DLS)")
    out = pd.concat([b, d])[["model", "set", "auc", "auc_ci_low", "auc_ci_high"]]
    out["set"] = np.where(out["set"].str.contains("external"), "external",
                          np.where(out["set"].str.startswith("development"), "development", "other"))
    return out[out["set"] != "other"]


def table(seeds: list[int], other_models: list[str]) -> str:
    rows = {s: aucs(REPO / "results" / f"lgg_seed{s}", other_models) for s in seeds}
    models = list(dict.fromkeys(m for r in rows.values() for m in r["model"]))
    n = len(seeds)
    lines = [f"| model | development: AUC per seed | external: AUC (95 % CI) per seed | external mean (SD) over {n} seeds |",
             "| --- | --- | --- | --- |"]
    for m in models:
        dev, ext, vals = [], [], []
        for s in seeds:
            r = rows[s][rows[s]["model"] == m].set_index("set")
            dev.append(f"{r.loc['development', 'auc']:.2f}" if "development" in r.index else "—")
            e = r.loc["external"]
            ext.append(f"{e['auc']:.2f} ({e['auc_ci_low']:.2f}–{e['auc_ci_high']:.2f})")
            vals.append(float(e["auc"]))
        sd = np.std(vals, ddof=1) if n > 1 else 0.0
        lines.append(f"| {m} | {', '.join(dev)} | {', '.join(ext)} | {np.mean(vals):.2f} ({sd:.2f}) |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[20261123, 1, 2])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--no-run", action="store_true", help="only tabulate runs that have finished")
    ap.add_argument("--other-models", nargs="*", default=["resnet_fusion"])
    a = ap.parse_args(argv)
    if not a.no_run:
        for s in a.seeds:
            print(f"seed {s}: whole study in {run(s, a.cores):.0f} s", flush=True)
    print(table(a.seeds, a.other_models))


if __name__ == "__main__":
    main()
