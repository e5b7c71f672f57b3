"""Faults and determinism of a whole (small) study, end to end through Snakemake.

1. Run A, clean (the session's shared small study, ``conftest.SMALL_STUDY``), and run B with
   the same config, killed with SIGKILL (the whole process group: workflow and jobs, as a
   power cut) while patients are being preprocessed, rerun;
   killed again in the middle of training (after its first epoch checkpoint), rerun to the
   end. Preprocessing outputs finished before the first kill are not recomputed; training
   resumes from its checkpoint; every table of B is byte-identical to A's (CPU). B recomputes
   every job of its own, so A == B is also the determinism check of two runs of one config
   (a third, clean run was dropped to keep CI short).
2. Run C: same config but another seed -> the tables differ (only the two tables compared are
   made: the phantom patients' QC table and the discrimination table).

Marked ``long`` (three workflow runs, A shared with other tests): not in the default
``make test``; ``make test-long`` and ``make test-all`` (what ``.ci/run`` calls) run it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from .conftest import REPO, SMALL_STUDY, config_override, result_tables, run_snakemake, snakemake_cmd

pytestmark = pytest.mark.long


def _run(results: Path, override: Path, *targets: str) -> None:
    # the README's command; the default workflow profile adds --rerun-incomplete
    run_snakemake(results, "config/demo.yaml", override, extra=["--", *(str(results / t) for t in targets)])


def _run_and_kill(results: Path, override: Path, ready, timeout: float = 900) -> None:
    """Start the workflow, SIGKILL its whole process group as soon as ``ready()`` is true."""
    console = results.parent / f"{results.name}_console.log"
    with open(console, "w") as log:
        proc = subprocess.Popen(snakemake_cmd(results, "config/demo.yaml", override), cwd=REPO, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    t0 = time.time()
    try:
        while not ready():
            assert proc.poll() is None, f"the workflow ended before the kill point:\n{console.read_text()[-4000:]}"
            assert time.time() - t0 < timeout, "kill point not reached"
            time.sleep(0.2)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # it had already ended
            pass
        proc.wait()


@pytest.fixture(scope="module")
def runs(small_study, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    _, same, a = small_study  # run A: the session's clean run of the small study
    other = config_override(tmp, "other_seed.yaml", {**SMALL_STUDY, "seed": 777})
    b, c = tmp / "B", tmp / "C"

    # B: kill during preprocessing; a patient's job is done when its qc.json has the kept
    # slices (the job's last write)
    def done(min_age: float = 0.0):
        """qc.json files holding the kept slices, written at least ``min_age`` s ago."""
        now = time.time()
        return [p for p in sorted(b.glob("preprocessed/*/qc.json"))
                if "kept_slices_r1" in p.read_text() and now - p.stat().st_mtime >= min_age]
    # kill once some patients are surely finished (their last write is 2 s old; a job that
    # wrote qc.json an instant before the kill may still count as incomplete for Snakemake)
    _run_and_kill(b, same, lambda: len(done(2.0)) >= 3)
    n_patients = sum(c_["n"] for c_ in SMALL_STUDY["phantom"]["cohorts"])
    before = {p.parent.name: p.stat().st_mtime_ns for p in done(2.0)}
    assert 0 < len(before) < n_patients
    # B: rerun, kill in the middle of training (its first epoch checkpoint exists)
    ckpt = b / "models/sres_petct/checkpoint.pt"
    _run_and_kill(b, same, lambda: ckpt.exists())
    time.sleep(0.1)
    import torch
    epoch_at_kill = torch.load(ckpt, weights_only=True)["epoch"]
    assert not (b / "models/sres_petct/weights.pt").exists()
    _run(b, same)
    _run(c, other, "tables/discrimination.csv", "tables/qc.csv")  # what test_another_seed_changes_the_tables reads
    return a, b, c, before, epoch_at_kill


def test_killed_and_resumed_run_equals_the_clean_run(runs):
    a, b, _, _, epoch_at_kill = runs
    ta, tb = result_tables(a), result_tables(b)
    assert len(ta) > 20 and ta.keys() == tb.keys()
    differ = [name for name in ta if ta[name] != tb[name]]
    assert not differ, f"tables differ after kill + resume: {differ}"
    assert (a / "models/sres_petct/weights.pt").read_bytes() != b""
    ha = pd.read_csv(a / "models/sres_petct/history.csv")
    hb = pd.read_csv(b / "models/sres_petct/history.csv")
    pd.testing.assert_frame_equal(ha, hb)
    assert epoch_at_kill < len(hb) - 1, "the kill must fall before the last epoch"
    sa = pd.read_parquet(a / "scores/sres_petct.parquet")
    sb = pd.read_parquet(b / "scores/sres_petct.parquet")
    pd.testing.assert_frame_equal(sa, sb)


def test_finished_preprocessing_is_not_recomputed(runs):
    _, b, _, before, _ = runs
    after = {pid: (b / "preprocessed" / pid / "qc.json").stat().st_mtime_ns for pid in before}
    assert after == before


def test_another_seed_changes_the_tables(runs):
    a, _, c, _, _ = runs
    ta, tc = result_tables(a), result_tables(c)
    assert ta["discrimination.csv"] != tc["discrimination.csv"]
    assert ta["qc.csv"] != tc["qc.csv"]  # the seed also draws the phantom patients
