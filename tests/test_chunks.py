"""Per-patient work in chunks (dlscore.chunks): the grouping, and what a kill or a bad patient
inside a chunk job keeps. The workflow-level check (chunked and per-patient runs give
byte-identical outputs) is in tests/test_workflow.py."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlscore.chunks import PARTIAL, PatientWork, patient_chunks, run_chunk, work_key


def test_chunks_are_consecutive_named_and_cover_every_patient_once():
    pids = [f"P{i:02d}" for i in range(23)]
    ch = patient_chunks(pids, 10)
    assert list(ch) == ["c1", "c2", "c3"]
    assert [len(v) for v in ch.values()] == [10, 10, 3]
    assert sum(ch.values(), []) == pids
    assert list(patient_chunks(pids, 1)) == [f"c{i:02d}" for i in range(1, 24)]  # zero-padded: names sort
    assert patient_chunks([], 5) == {}
    with pytest.raises(ValueError, match="patients_per_job"):
        patient_chunks(pids, 0)


def _works(tmp: Path, pids) -> list[PatientWork]:
    (tmp / "in").mkdir(exist_ok=True)
    works = []
    for p in pids:
        src = tmp / "in" / f"{p}.txt"
        if not src.exists():
            src.write_text(f"input of {p}")
        works.append(PatientWork(p, (str(src),), (str(tmp / "out" / p), str(tmp / "tab" / f"{p}.csv")),
                                 str(tmp / "logs" / f"{p}.log")))
    return works


def _compute(work: PatientWork) -> None:
    """A patient's work: a folder of two files and one file, from its input."""
    text = Path(work.inputs[0]).read_text()
    d = Path(work.outputs[0])
    d.mkdir(parents=True)
    (d / "a.txt").write_text(text.upper())
    (d / "b.txt").write_text(text[::-1])
    Path(work.outputs[1]).parent.mkdir(parents=True, exist_ok=True)
    Path(work.outputs[1]).write_text(f"{work.patient},{len(text)}\n")


def _outputs(tmp: Path) -> dict[str, tuple[bytes, int]]:
    return {str(f.relative_to(tmp)): (f.read_bytes(), f.stat().st_mtime_ns)
            for f in sorted([*(tmp / "out").rglob("*"), *(tmp / "tab").rglob("*")]) if f.is_file()}


def test_a_finished_chunk_writes_every_patient_and_leaves_no_snapshot(tmp_path):
    works = _works(tmp_path, ["P1", "P2", "P3"])
    assert run_chunk("step", works, _compute, "h", str(tmp_path)) == ["P1", "P2", "P3"]
    assert (tmp_path / "out/P2/a.txt").read_text() == "INPUT OF P2"
    assert (tmp_path / "tab/P3.csv").read_text() == "P3,11\n"
    assert "step of P1:" in (tmp_path / "logs/P1.log").read_text()
    assert not any((tmp_path / PARTIAL / "step").iterdir())


KILLED = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_chunks import _works, _compute
from dlscore.chunks import run_chunk
tmp = Path({tmp!r})
def run(w):
    if w.patient == "P3":
        Path(w.outputs[0]).mkdir(parents=True)
        (Path(w.outputs[0]) / "a.txt").write_text("half")  # P3 dies half-way through
        os.kill(os.getpid(), signal.SIGKILL)
    _compute(w)
run_chunk("step", _works(tmp, ["P1", "P2", "P3", "P4"]), run, "h", str(tmp))
"""


def test_a_kill_inside_a_chunk_loses_only_its_unfinished_patients(tmp_path):
    code = KILLED.format(tests=str(Path(__file__).parent), tmp=str(tmp_path))
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert res.returncode == -signal.SIGKILL, res.stderr
    finished = {k: v for k, v in _outputs(tmp_path).items() if "P1" in k or "P2" in k}
    assert len(finished) == 6
    import shutil
    for d in ("out", "tab"):  # what Snakemake does before it reruns an incomplete job
        shutil.rmtree(tmp_path / d)
    calls = []
    computed = run_chunk("step", _works(tmp_path, ["P1", "P2", "P3", "P4"]),
                         lambda w: (calls.append(w.patient), _compute(w)), "h", str(tmp_path))
    assert computed == calls == ["P3", "P4"]
    after = _outputs(tmp_path)
    assert {k: v for k, v in after.items() if k in finished} == finished  # same bytes, same files (mtime)
    assert after["out/P3/a.txt"][0] == b"INPUT OF P3"
    assert "restored from an interrupted run" in (tmp_path / "logs/P1.log").read_text()


def test_a_snapshot_is_not_restored_when_settings_code_or_inputs_changed(tmp_path):
    works = _works(tmp_path, ["P1"])
    key = work_key("step", "h", works[0])
    assert work_key("step", "other settings", works[0]) != key
    assert work_key("radiomics", "h", works[0]) != key
    Path(works[0].inputs[0]).write_text("a new input of P1, longer")
    assert work_key("step", "h", works[0]) != key
    # a stale snapshot (kept by a failed chunk) is ignored: the new input is computed
    bad = _works(tmp_path, ["P1", "BAD"])

    def failing(w):
        if w.patient == "BAD":
            from dlscore.errors import InputError
            raise InputError("mask is empty", "draw the tumour", w.patient, w.inputs[0])
        _compute(w)
    with pytest.raises(SystemExit):
        run_chunk("step", bad, failing, "h", str(tmp_path))
    assert (tmp_path / PARTIAL / "step/P1/KEY").is_file()
    Path(bad[0].inputs[0]).write_text("edited after the failure")
    assert run_chunk("step", _works(tmp_path, ["P1"]), _compute, "h", str(tmp_path)) == ["P1"]
    assert (tmp_path / "out/P1/a.txt").read_text() == "EDITED AFTER THE FAILURE"


def test_a_bad_patient_does_not_stop_the_others_and_is_named(tmp_path, capfd):
    from dlscore.errors import InputError

    def run(w):
        if w.patient == "P2":
            raise InputError("mask is empty", "draw the tumour", w.patient, w.inputs[0])
        _compute(w)
    with pytest.raises(SystemExit) as exc:
        run_chunk("step", _works(tmp_path, ["P1", "P2", "P3"]), run, "h", str(tmp_path))
    assert exc.value.code == 1
    err = capfd.readouterr().err
    assert "P2" in err and "mask is empty" in err and "1 of 3 patients" in err
    assert (tmp_path / "out/P3/a.txt").exists()  # P3 ran after P2 failed
    assert {p.name for p in (tmp_path / PARTIAL / "step").iterdir()} == {"P1", "P3"}


def test_a_bug_stops_the_chunk_and_keeps_what_was_finished(tmp_path):
    def run(w):
        if w.patient == "P2":
            raise ZeroDivisionError("a bug, not a bad input")
        _compute(w)
    with pytest.raises(ZeroDivisionError):
        run_chunk("step", _works(tmp_path, ["P1", "P2", "P3"]), run, "h", str(tmp_path))
    assert {p.name for p in (tmp_path / PARTIAL / "step").iterdir()} == {"P1"}
    assert "a bug, not a bad input" in (tmp_path / "logs/P2.log").read_text()


TINY = {"phantom": {"cohorts": [{"name": "DEV", "role": "development", "n": 14, "second_rater": True},
                                {"name": "EXT", "role": "external", "n": 5},
                                {"name": "ICI", "role": "ici", "n": 5}]}}  # smaller: ECOG levels missing in DEV
N_TINY = sum(c["n"] for c in TINY["phantom"]["cohorts"])


def _per_patient_files(results: Path) -> dict[str, bytes]:
    files = [f for d in ("preprocessed", "slices", "radiomics") for f in sorted((results / d).rglob("*")) if f.is_file()]
    return {str(f.relative_to(results)): f.read_bytes() for f in [*files, results / "tables/qc.csv"]}


@pytest.mark.slow
def test_chunked_and_per_patient_jobs_write_byte_identical_outputs(tmp_path):
    """The same 24-patient phantom study up to the radiomics table and the QC table, one job
    per patient and 10 patients per job (3 chunks, the last one short): every per-patient file
    (co-gridded images, masks, QC json, slices, radiomics) and the tables are byte-identical."""
    from .conftest import config_override, run_snakemake
    out = {}
    for per_job in (1, 10):
        cfg = config_override(tmp_path, f"per{per_job}.yaml", {**TINY, "compute": {"patients_per_job": per_job}})
        results = tmp_path / f"per{per_job}"
        res = run_snakemake(results, "config/demo.yaml", cfg,
                            extra=["--cores", "2", str(results / "radiomics/features.parquet"),  # ends -q's list
                                   str(results / "tables/qc.csv")])
        out[per_job] = _per_patient_files(results)
        assert len(list((results / "benchmarks/preprocess").iterdir())) == -(-N_TINY // per_job), res.stderr[-2000:]
    assert len(out[1]) > N_TINY * 8 and out[1].keys() == out[10].keys()
    assert [k for k in out[1] if out[1][k] != out[10][k]] == []
