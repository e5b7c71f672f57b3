"""Benchmark: the per-patient stages end to end, 100 to 1,000 patients, on this machine.

    .venv/bin/python benchmarks/per_patient.py [--sizes 100 300 1000] [--per-job 40]

For each size, phantom PET/CT patients (the demo's cohorts in the demo's proportions: 60 %
development with two raters, 20 % external, 20 % ICI) are generated first and not timed
(``snakemake`` up to the manifest check); then the timed run: ``snakemake --cores 2`` up to the
radiomics feature table (preprocess + slices of every rater, PyRadiomics of every rater, the
gathered table), in a fresh process, so the time includes Snakemake's start-up, planning and
every job's start-up. Printed: wall time, patients per minute, and the cost per patient; the
cost must grow linearly (per-patient cost flat from 100 to 1,000).
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
sys.path.insert(0, str(Path(__file__).parent))
from dag import cohorts  # noqa: E402  (the demo's proportions at any size)


def _snakemake(cfg: Path, results: Path, target: str) -> float:
    cmd = [sys.executable, "-m", "snakemake", str(results / target), "--cores", "2", "--configfile",
           "config/demo.yaml", str(cfg), "--config", f"results={results}", "--nolock", "-q"]
    t = time.perf_counter()
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(res.stdout[-2000:] + res.stderr[-3000:])
    return time.perf_counter() - t


def measure(n: int, per_job: int, tmp: Path) -> tuple[float, float]:
    """(seconds to generate the phantoms, seconds of the per-patient stages) for ``n`` patients."""
    cfg = tmp / f"n{n}.yaml"
    cfg.write_text(yaml.safe_dump({**cohorts(n), "compute": {"patients_per_job": per_job}}))
    results = tmp / f"results{n}"
    gen = _snakemake(cfg, results, "manifest/checked.parquet")
    return gen, _snakemake(cfg, results, "radiomics/features.parquet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    ap.add_argument("--per-job", type=int, default=40, help="compute.patients_per_job")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}; --cores 2, patients_per_job {args.per_job}\n")
    print("| patients | phantoms generated (s, not timed) | per-patient stages (s) | patients per minute "
          "| s per patient |")
    print("|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            gen, sec = measure(n, args.per_job, Path(tmp))
            print(f"| {n} | {gen:.0f} | {sec:.0f} | {60 * n / sec:.0f} | {sec / n:.3f} |", flush=True)


if __name__ == "__main__":
    main()
