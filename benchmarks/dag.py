"""Benchmark: how long Snakemake takes to build the job graph (dry run) of a large study.

    .venv/bin/python benchmarks/dag.py [--quick]      # prints a Markdown table

The demo study's workflow (phantom PET/CT cohorts, two raters in development, radiomics,
training, scoring, every statistics stage) with 10, 100 and 1,000 patients in chunks of
``compute.patients_per_job`` (default 40), and 1,000 patients with one job per patient
(``patients_per_job: 1``). Each is a full
``snakemake -n`` in a fresh process (Python start-up, parsing, config validation, DAG,
job list), median of 3 runs (1 with ``--quick``). The 10-patient run is the baseline measured in
the same run: what the workflow costs whatever the cohort size; the rest is the per-patient
cost. Target (issue: scale): 1,000 patients in <= 10 s.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def cohorts(n: int) -> dict:
    dev, ext = int(n * 0.6), int(n * 0.2)
    return {"phantom": {"cohorts": [
        {"name": "DEV", "role": "development", "n": dev, "second_rater": True},
        {"name": "EXT", "role": "external", "n": ext},
        {"name": "ICI", "role": "ici", "n": n - dev - ext}]}}


def dry_run(n: int, tmp: Path, per_job: int | None = None) -> tuple[float, int]:
    """Seconds of one ``snakemake -n`` of the demo workflow with ``n`` patients (``per_job``
    patients per job, else the default); its job count."""
    cfg = tmp / f"n{n}_{per_job}.yaml"
    cfg.write_text(yaml.safe_dump({**cohorts(n), **({"compute": {"patients_per_job": per_job}} if per_job else {})}))
    cmd = [sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile", "config/demo.yaml", str(cfg),
           "--config", f"results={tmp / f'results{n}'}", "--nolock"]
    t = time.perf_counter()
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    sec = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(res.stdout[-2000:] + res.stderr[-2000:])
    total = [ln for ln in res.stdout.splitlines() if ln.startswith("total")]
    return sec, int(total[-1].split()[1]) if total else -1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one run per size instead of three")
    args = ap.parse_args()
    reps = 1 if args.quick else 3
    cases = [(10, None), (100, None), (1000, None), (1000, 1)]
    print(f"machine: {platform.processor() or platform.machine()}, {platform.system()}, python {platform.python_version()}\n")
    print("| patients | patients per job | jobs | dry run (s) | per patient beyond the 10-patient baseline (ms) |")
    print("|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        base = None
        for n, per_job in cases:
            runs = [dry_run(n, Path(tmp), per_job) for _ in range(reps)]
            sec = sorted(r[0] for r in runs)[len(runs) // 2]
            jobs = runs[0][1]
            if base is None:
                base = sec
            per = "—" if n == 10 else f"{(sec - base) / (n - 10) * 1000:.1f}"
            print(f"| {n} | {per_job or 'default (40)'} | {jobs} | {sec:.1f} | {per} |")


if __name__ == "__main__":
    main()
