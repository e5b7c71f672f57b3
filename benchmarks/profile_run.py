"""Profile of one whole workflow run: where the time of `make demo` goes.

    .venv/bin/python benchmarks/profile_run.py [--config config/demo.yaml] [--extra more.yaml]
                                               [--keep DIR] [--set key=value ...]
    .venv/bin/python benchmarks/profile_run.py --table RESULTS   # the rule table of a finished run

Runs ``snakemake --cores 2`` on the study into a fresh results folder and prints a Markdown
profile: wall time of the run, CPU of the Snakemake process itself (sampled with psutil,
children excluded), time from start to the first job, and per rule the number of jobs, their
summed wall and CPU time (from the rules' ``benchmark:`` files) and the wall per job. For the
per-patient rules it adds the work inside the jobs, summed from the patients' logs
(``<step> of <patient>: <s> s``, written by :func:`dlscore.chunks.run_chunk`), and the
overhead: job wall minus that work, per patient and as a percentage of the work.
"""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pandas as pd
import psutil

REPO = Path(__file__).resolve().parents[1]
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]", re.M)
WORK = re.compile(r"(\w+) of (\S+): ([0-9.]+) s$", re.M)


def run(config: list[str], results: Path, sets: list[str]) -> dict:
    """Run the workflow; wall seconds, Snakemake's own CPU seconds, seconds to the first job."""
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", *config, "--config",
           f"results={results}", *sets, "--nolock"]
    console = results.parent / "console.log"
    t0, start = time.perf_counter(), datetime.now().replace(microsecond=0)
    with open(console, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)
        ps, cpu = psutil.Process(proc.pid), 0.0
        while proc.poll() is None:
            try:
                t = ps.cpu_times()
                cpu = t.user + t.system
            except psutil.Error:
                pass
            time.sleep(0.5)
    wall = time.perf_counter() - t0
    text = console.read_text()
    if proc.returncode != 0:
        raise SystemExit(text[-3000:])
    stamps = [datetime.strptime(s, "%a %b %d %H:%M:%S %Y") for s in STAMP.findall(text)]
    return {"wall": wall, "cpu": cpu, "first_job": (stamps[0] - start).total_seconds() if stamps else float("nan")}


def rule_table(results: Path) -> pd.DataFrame:
    """Per rule: jobs, summed wall and CPU (benchmark files), work inside (patients' logs)."""
    rows = defaultdict(lambda: {"jobs": 0, "wall": 0.0, "cpu": 0.0})
    for f in sorted((results / "benchmarks").rglob("*.tsv")):
        rel = f.relative_to(results / "benchmarks")
        rule = rel.parts[0] if len(rel.parts) > 1 else f.stem
        b = pd.read_csv(f, sep="\t").iloc[-1]
        r = rows[rule]
        r["jobs"] += 1
        r["wall"] += float(b["s"])
        r["cpu"] += float(b["cpu_time"])
    work, patients = defaultdict(float), defaultdict(set)
    for f in (results / "logs").rglob("*.log"):
        for step, pid, sec in WORK.findall(f.read_text()):
            work[step] += float(sec)
            patients[step].add(pid)
    df = pd.DataFrame.from_dict(rows, orient="index")
    df["patients"] = [len(patients.get(r, ())) for r in df.index]
    df["work"] = [work.get(r, float("nan")) for r in df.index]
    return df.sort_values("wall", ascending=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config/demo.yaml")
    ap.add_argument("--extra", action="append", default=[], help="more config files, merged over --config")
    ap.add_argument("--set", action="append", default=[], help="key=value passed to --config")
    ap.add_argument("--keep", help="results folder to keep (default: a temporary one)")
    ap.add_argument("--table", help="only print the rule table of this finished run's results folder")
    args = ap.parse_args()
    if args.table:
        _print_table(rule_table(Path(args.table)))
        return
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="profile_"))
    tmp.mkdir(parents=True, exist_ok=True)
    res = run([args.config, *args.extra], tmp / "results", args.set)
    df = rule_table(tmp / "results")
    print(f"machine: {platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, "
          f"python {platform.python_version()}, {datetime.now():%Y-%m-%d}; study {args.config} {' '.join(args.set)}\n")
    print(f"- run wall: {res['wall']:.0f} s; Snakemake process CPU: {res['cpu']:.0f} s; "
          f"start to first job: {res['first_job']:.0f} s; jobs: {int(df['jobs'].sum())}\n")
    _print_table(df)


def _print_table(df: pd.DataFrame) -> None:
    print("| rule | jobs | wall (s, summed) | CPU (s, summed) | wall per job (s) | patients | work inside (s) "
          "| overhead per patient (s) | overhead / work |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rule, r in df.iterrows():
        per_pat = over = ""
        if r["patients"]:
            per_pat = f"{(r['wall'] - r['work']) / r['patients']:.3f}"
            over = f"{(r['wall'] - r['work']) / r['work']:.0%}"
        work = f"{r['work']:.1f}" if r["patients"] else ""
        print(f"| {rule} | {int(r['jobs'])} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['wall'] / r['jobs']:.2f} | "
              f"{int(r['patients']) or ''} | {work} | {per_pat} | {over} |")


if __name__ == "__main__":
    main()
