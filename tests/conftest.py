"""Shared fixtures: R reference runner, paths of the shared real data."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


# Parallel runs (pytest-xdist, `-n 2 --dist loadscope`: the Makefile's default). The unit of
# scheduling is a test module: its module-scoped fixtures (e.g. the demo run of test_workflow)
# are built once per worker that runs any of its tests. The session's small study is built once
# for all workers (`small_study`: the first worker that needs it runs it under a file lock, the
# others wait and read it). Modules start in GROUP_ORDER (then file order): each worker holds two
# modules at a time, so the two longest chains (faults, then privacy; the demo, then SLURM, which
# needs the small study that the faults module is building meanwhile) run side by side and no
# long module starts last while the other worker idles. Only the order and placement of tests
# change, never a test. (xdist's `loadgroup` marks do not group under pytest 9: xdist renames
# `item._nodeid`, which pytest 9 no longer reads.)
GROUP_ORDER = ("tests/test_faults.py", "tests/test_workflow.py", "tests/test_privacy.py", "tests/test_slurm.py",
               "tests/test_envs.py", "tests/test_folds.py", "tests/test_lgg.py", "tests/test_chunks.py",
               "tests/test_ici.py")


def _module(nodeid: str) -> str:
    return nodeid.split("::")[0]


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook (absent with -p no:xdist)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") == "loadscope":
        from xdist.scheduler import LoadScopeScheduling

        class ByModule(LoadScopeScheduling):  # xdist's loadscope splits classes off; we keep modules whole
            def _split_scope(self, nodeid: str) -> str:
                return _module(nodeid)

        return ByModule(config, log)
    return None


def pytest_collection_modifyitems(config, items):
    rank = {m: i for i, m in enumerate(GROUP_ORDER)}
    items.sort(key=lambda item: rank.get(_module(item.nodeid), len(rank)))  # stable: file order within


def _r_has(package: str) -> bool:
    if shutil.which("Rscript") is None:
        return False
    res = subprocess.run(["Rscript", "-e", f"quit(status = !requireNamespace('{package}', quietly = TRUE))"],
                         capture_output=True)
    return res.returncode == 0


@pytest.fixture(scope="session")
def run_r():
    """Run an R snippet that prints JSON on its last line; skip if R or a package is absent.

    Usage: run_r(code, packages=("pROC",), data={"y": [...]}) -> parsed JSON. ``data`` is
    available in R as the list ``d`` (read with jsonlite-free ``dget``-style parsing).
    """

    def _run(code: str, packages=(), data: dict | None = None):
        for pkg in packages:
            if not _r_has(pkg):
                pytest.skip(f"R package {pkg} not installed (apt-get install r-cran-{pkg.lower()})")
        if shutil.which("Rscript") is None:
            pytest.skip("Rscript not installed (apt-get install r-base-core)")
        pre = ""
        for key, values in (data or {}).items():
            pre += f"{key} <- c({','.join(repr(float(v)) for v in values)})\n"
        script = pre + "\n".join(f"suppressMessages(library({p}))" for p in packages) + "\n" + code
        res = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"R failed:\n{res.stderr}")
        return json.loads(res.stdout.strip().splitlines()[-1])

    return _run


@pytest.fixture(scope="session")
def r_data(tmp_path_factory):
    """A data set bundled with an R package as a DataFrame (``r_data("lung", "survival")``);
    skips when R or the package is absent. Data we did not make, for reviewer-style checks."""

    def _load(name: str, package: str):
        import pandas as pd
        if not _r_has(package):
            pytest.skip(f"R package {package} not installed (apt-get install r-cran-{package.lower()})")
        out = tmp_path_factory.mktemp("rdata") / f"{name}.csv"
        subprocess.run(["Rscript", "-e", f"suppressMessages(library({package})); data({name}); "
                        f"write.csv({name}, '{out}', row.names = FALSE)"], check=True, capture_output=True)
        return pd.read_csv(out)

    return _load


def r_json(*exprs: str) -> str:
    """R code printing a flat JSON array of numbers (17 significant digits; NA -> null)."""
    vals = "c(" + ",".join(exprs) + ")"
    return (f"v <- as.numeric({vals}); cat('[', paste(ifelse(is.na(v), 'null', sprintf('%.17g', v)), "
            "collapse=','), ']\\n')")


def snakemake_cmd(results, *configfiles, config=()) -> list[str]:
    """The README's workflow command for ``configfiles`` into ``results`` (``--nolock``:
    tests share the repository's .snakemake folder); ``config``: more ``key=value`` overrides."""
    import sys
    return [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", *map(str, configfiles),
            "--config", f"results={results}", *config, "--nolock", "-q"]


def run_snakemake(results, *configfiles, extra=(), config=()) -> subprocess.CompletedProcess:
    """Run :func:`snakemake_cmd` in the repository; fail the test with the log tail if it fails."""
    res = subprocess.run([*snakemake_cmd(results, *configfiles, config=config), *extra], cwd=REPO,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    return res


def config_override(folder, name: str, values: dict):
    """Write ``values`` as a study config file ``folder/name`` (merged over the study's config)."""
    import yaml
    path = Path(folder) / name
    path.write_text(yaml.safe_dump(values))
    return path


def result_tables(results) -> dict:
    """Every CSV table of a workflow run: file name -> bytes (for byte-identity checks)."""
    return {f.name: f.read_bytes() for f in sorted((Path(results) / "tables").glob("*.csv"))}


# One small phantom study, run once per pytest session and shared, read-only, by the whole-run
# tests that need a finished clean run of it: the fault test (its clean run A), the rerun-scope
# test (dry runs of edited configs against it) and the SLURM test (the local run that the SLURM
# run must equal). `make test-all` (what .ci/run calls) runs them in one session, so the study
# runs once instead of three times. Two models (a kill and an edit touch one, not the other),
# montages on, two chunks of patients per step (both cores busy).
SMALL_STUDY = {
    "phantom": {"cohorts": [{"name": "DEV", "role": "development", "n": 30, "second_rater": True},
                            {"name": "EXT", "role": "external", "n": 12, "ct_spacing": [0.8, 0.8, 2.5],
                             "ct_size": [112, 112, 28], "pet_spacing": [4.07, 4.07, 2.5]},
                            {"name": "ICI", "role": "ici", "n": 30}]},
    "models": {"sres_petct": {"epochs": 4, "patience": 4}, "sres_ct": {"epochs": 2, "patience": 2}},
    "run_models": ["sres_petct", "sres_ct"],
    "stats": {"n_boot": 300},
    # 72 patients: two chunk jobs per per-patient step; no GPU asked of the test SLURM cluster
    "compute": {"patients_per_job": 36, "train_gpus": 0, "score_gpus": 0},
}


@pytest.fixture(scope="session")
def small_study(tmp_path_factory):
    """The finished clean run of SMALL_STUDY: (folder, config override file, results folder),
    run once per pytest session, also when xdist workers share it (the first one runs it under
    a file lock in their common temporary folder; the others wait for it). Consumers must not
    write into it (dry runs and reads only)."""
    import fcntl
    import os
    base = tmp_path_factory.getbasetemp()  # under xdist: <session folder>/popen-gw<N>
    tmp = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "small_study"
    override, results, done = tmp / "small.yaml", tmp / "results", tmp / "finished"
    tmp.mkdir(exist_ok=True)
    with open(tmp.parent / "small_study.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes (also if the run fails)
        if not done.exists():
            config_override(tmp, "small.yaml", SMALL_STUDY)
            run_snakemake(results, "config/demo.yaml", override)
            done.touch()
    return tmp, override, results


def numbers_not_from(text: str, sources) -> list[str]:
    """The numbers printed in ``text`` that no value of ``sources`` (configs, tables, strings:
    every number in them) gives at the printed precision. Left out: the References section,
    quoted text, code spans, reference markers [n] and version strings."""
    import math
    import re

    def values(obj):
        if isinstance(obj, dict):
            for v in obj.values():
                yield from values(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                yield from values(v)
        elif hasattr(obj, "to_numpy"):  # a DataFrame
            for v in obj.to_numpy().ravel():
                yield from values(v)
        elif isinstance(obj, bool) or obj is None:
            return
        elif isinstance(obj, (int, float)) or hasattr(obj, "dtype"):
            try:
                if math.isfinite(float(obj)):
                    yield abs(float(obj))
            except (TypeError, ValueError):
                return
        elif isinstance(obj, str):
            yield from (float(m) for m in re.findall(r"\d+(?:\.\d+)?", obj))

    known = sorted(set(values(list(sources))))
    body = text.split("## References")[0]
    for pattern in (r'"[^"]*"', r"`[^`]*`", r"\[\d+(?:, \d+)*\]", r"\d+\.\d+\.\d+\S*"):
        body = re.sub(pattern, " ", body)
    bad = []
    for tok in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?:e-?\d+)?(?![\w])", body):
        y = float(tok)
        if "e" in tok:
            ok = any(abs(x - y) <= 0.05 * y for x in known)
        else:
            half = 0.5 * 10 ** -len(tok.split(".")[1]) + 1e-9 if "." in tok else 1e-9
            ok = any(abs(x - y) <= half for x in known)
        if not ok:
            bad.append(tok)
    return bad
