"""SLURM integration: a small phantom study through the real SLURM executor plugin.

Needs a running SLURM cluster: ``bash tests/slurm/cluster.sh start`` (as root; `.ci/run` does
it) makes a one-node cluster on localhost. The session's small study (``conftest.SMALL_STUDY``)
runs with ``--profile profiles/slurm`` (unchanged) and ``--executor slurm`` into its own results
folder; its local ``--cores 2`` run is the session's shared clean run (``small_study``). Every
job must have gone through ``sbatch`` (seen by ``scontrol``), the per-patient work must be
bundled (chunks of patients, one group job per chunk), and every table must be byte-identical
to the local run's.

The test cluster has no accounting database, so job states are read with ``squeue``
(``--slurm-status-command squeue``; the cluster keeps finished jobs 600 s, MinJobAge).

Marked ``slurm``: not in ``make test``; ``make test-slurm`` and ``make test-all`` (what
``.ci/run`` calls) run it. Skipped with the reason when no cluster answers, unless
``DLSCORE_REQUIRE_SLURM=1`` (CI), where a missing cluster is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from .conftest import REPO, SMALL_STUDY, result_tables, run_snakemake

pytestmark = pytest.mark.slurm

N_PATIENTS = sum(c["n"] for c in SMALL_STUDY["phantom"]["cohorts"])


def _cluster_up() -> str | None:
    """None when a SLURM cluster answers, else why not."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM client tools not installed"
    res = subprocess.run(["sinfo", "-h", "-o", "%P %t"], capture_output=True, text=True)
    if res.returncode != 0:
        return f"sinfo failed: {res.stderr.strip()}"
    if not any(state in res.stdout for state in ("idle", "mix", "alloc")):
        return f"no usable SLURM node: {res.stdout.strip()!r}"
    return None


@pytest.fixture(scope="module")
def cluster():
    why = _cluster_up()
    if why:
        msg = f"no SLURM cluster ({why}); start one with `bash tests/slurm/cluster.sh start` as root"
        if os.environ.get("DLSCORE_REQUIRE_SLURM") == "1":
            pytest.fail(msg)
        pytest.skip(msg)


def _jobs() -> dict[str, dict[str, str]]:
    """Every job slurmctld still knows: id -> its fields (JobName, Comment, JobState, ...)."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True, check=True).stdout
    jobs = {}
    for line in out.splitlines():
        if not line.startswith("JobId="):
            continue
        fields = {}
        for tok in line.split():
            key, _, value = tok.partition("=")
            fields.setdefault(key, value)
        jobs[fields["JobId"]] = fields
    return jobs


@pytest.fixture(scope="module")
def runs(cluster, small_study, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slurm")
    _, small, local = small_study  # the local run: the session's shared small study
    slurm = tmp / "slurm"
    before = set(_jobs())
    run_snakemake(slurm, "config/demo.yaml", small,
                  extra=("--profile", "profiles/slurm", "--cores", "1",  # the profile's value (the helper passes 2)
                         "--slurm-status-command", "squeue",
                         "--slurm-init-seconds-before-status-checks", "1",
                         "--seconds-between-status-checks", "2",  # a local test cluster: poll often
                         "--slurm-logdir", str(tmp / "slurm_logs")))
    jobs = {k: v for k, v in _jobs().items() if k not in before and v.get("WorkDir") == str(REPO)}
    return local, slurm, jobs


def test_jobs_went_through_sbatch(runs):
    _, _, jobs = runs
    assert jobs, "no SLURM job was submitted"
    states = {j["JobState"] for j in jobs.values()}
    assert states == {"COMPLETED"}, states
    comments = " ".join(j.get("Comment", "") for j in jobs.values())
    for rule in ("train", "score", "discrimination"):
        assert f"rule_{rule}" in comments, f"rule {rule} did not run as a SLURM job: {comments}"
    # the profile's partitions were used: training on `gpu`, the rest on `cpu`
    parts = {j["Comment"].split("_wildcards_")[0]: j["Partition"] for j in jobs.values() if "Comment" in j}
    assert parts.get("rule_train") == "gpu" and parts.get("rule_discrimination") == "cpu", parts


def test_per_patient_jobs_are_bundled(runs):
    _, slurm, jobs = runs
    # N_PATIENTS patients' preprocessing and radiomics ran in ceil(N/patients_per_job) group jobs (chunks)
    assert len(list((slurm / "preprocessed").iterdir())) == N_PATIENTS
    assert len(jobs) < N_PATIENTS, f"{len(jobs)} SLURM jobs for {N_PATIENTS} patients: not bundled"


def test_slurm_run_equals_local_run(runs):
    local, slurm, _ = runs
    tl, ts = result_tables(local), result_tables(slurm)
    assert len(tl) > 20 and tl.keys() == ts.keys()
    differ = [name for name in tl if tl[name] != ts[name]]
    assert not differ, f"tables differ between SLURM and local runs: {differ}"
