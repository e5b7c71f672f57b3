"""Per-patient work in chunks: one job runs several patients, and what a killed job had
finished for a patient survives it.

A workflow job costs a fresh Python process, the imports of the library's dependencies and
Snakemake's own bookkeeping (about 1.5 s on a laptop core, a few seconds on a loaded one),
while the work of one patient is 10-100 ms on a small grid. ``compute.patients_per_job``
patients therefore share one job (:func:`patient_chunks`); every patient keeps its own output
files and log, and a patient's failure does not stop the others of its chunk.

Snakemake removes the outputs of a job it reruns (after a failure, a kill or a power cut),
finished patients included. :func:`run_chunk` therefore snapshots every finished patient's
outputs (hard links: no second copy on disk) under ``<results>/.partial/<step>/<patient>``,
keyed by the step's settings, the library's code and the versions of the packages that
compute, and the patient's input files (size and modification time); a rerun restores a
patient whose key still holds instead of computing it again, and a finished chunk removes its
snapshots. A stale snapshot (other settings, code or
inputs) is never used: its key differs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from dlscore.runlog import job_log

#: where the snapshots of finished patients of unfinished jobs live, inside the results folder
PARTIAL = ".partial"


def patient_chunks(patients: Sequence[str], size: int) -> dict[str, list[str]]:
    """Consecutive groups of at most ``size`` patients, in the given order, named ``c1`` ...
    (zero-padded to the width of the count, so names sort): ``size`` 1 is one job per patient."""
    if int(size) < 1:
        raise ValueError(f"compute.patients_per_job must be at least 1, not {size}")
    size = int(size)
    groups = [list(patients[i:i + size]) for i in range(0, len(patients), size)]
    width = len(str(len(groups)))
    return {f"c{k + 1:0{width}d}": g for k, g in enumerate(groups)}


@dataclass(frozen=True)
class PatientWork:
    """One patient's share of a chunk job: the files it reads (images, masks: a directory is
    read whole), the files or folders it writes, and its log."""

    patient: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    log: str


def _signature(paths: Iterable[str]) -> list[tuple[str, int, int]]:
    """(path, size in bytes, mtime in ns) of every file of ``paths`` (folders walked, sorted)."""
    sig = []
    for path in paths:
        p = Path(path)
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            st = f.stat()
            sig.append((str(f), st.st_size, st.st_mtime_ns))
    return sig


#: distributions whose version changes what the per-patient steps write
COMPUTING_PACKAGES = ("numpy", "scipy", "SimpleITK", "pydicom", "pyradiomics-bhklab", "pandas", "pyarrow")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-256 of the library's Python sources (every ``dlscore`` module), the Python version
    and the versions of :data:`COMPUTING_PACKAGES`, computed once."""
    from importlib.metadata import PackageNotFoundError, version
    root = Path(__file__).resolve().parent
    h = hashlib.sha256(sys.version.encode())
    for dist in COMPUTING_PACKAGES:
        try:
            h.update(f"{dist}=={version(dist)}".encode())
        except PackageNotFoundError:
            h.update(f"{dist} absent".encode())
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def work_key(step: str, settings_digest: str, work: PatientWork) -> str:
    """What a snapshot of ``work`` must match to be restored: step, settings, code, the
    patient's input files and output paths."""
    blob = json.dumps([step, settings_digest, code_version(), work.patient, list(work.outputs),
                       _signature(work.inputs)], separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _link_tree(src: Path, dst: Path) -> None:
    """``dst`` becomes a copy of ``src`` (file or folder) made of hard links (plain copies
    where the file system has none); modification times are kept."""
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=_link_or_copy)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(str(src), str(dst))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _snapshot(work: PatientWork, entry: Path, key: str) -> None:
    """Keep the finished outputs of ``work`` under ``entry`` (atomically: a kill leaves
    either the whole snapshot or none)."""
    tmp = entry.with_name(f"{entry.name}.tmp{os.getpid()}")
    _remove(tmp)
    for i, out in enumerate(work.outputs):
        _link_tree(Path(out), tmp / str(i))
    (tmp / "KEY").write_text(key)
    _remove(entry)
    os.replace(tmp, entry)


def _restore(work: PatientWork, entry: Path, key: str) -> bool:
    """Put the snapshot's outputs back in place when its key is ``key``; False otherwise."""
    key_file = entry / "KEY"
    if not key_file.is_file() or key_file.read_text() != key:
        return False
    for i, out in enumerate(work.outputs):
        _remove(Path(out))
        _link_tree(entry / str(i), Path(out))
    return True


def run_chunk(step: str, works: Sequence[PatientWork], run: Callable[[PatientWork], None], settings_digest: str,
              results: str) -> list[str]:
    """Run ``run(work)`` for every patient of a chunk job, each inside its own log
    (:func:`~dlscore.runlog.job_log`), restoring instead the patients a killed or failed
    earlier attempt had finished. A patient whose input is bad (an
    :class:`~dlscore.errors.InputError`: its message is printed) does not stop the others;
    the job then ends with status 1 once all have run, and the finished patients are kept
    for the rerun. Returns the patients computed (not restored)."""
    partial = Path(results) / PARTIAL / step
    computed, failed = [], []
    for work in works:
        entry, key = partial / work.patient, work_key(step, settings_digest, work)
        if _restore(work, entry, key):
            with job_log(work.log) as log:
                log.info("%s of %s: restored from an interrupted run (same settings, code and inputs)", step,
                         work.patient)
            continue
        for out in work.outputs:
            _remove(Path(out))
        t0 = time.perf_counter()
        try:
            with job_log(work.log) as log:
                run(work)
                log.info("%s of %s: %.3f s", step, work.patient, time.perf_counter() - t0)
        except SystemExit:  # a bad input: job_log printed the message naming patient, file and fix
            failed.append(work.patient)
            continue
        _snapshot(work, entry, key)
        computed.append(work.patient)
    if failed:
        print(f"ERROR: {step}: {len(failed)} of {len(works)} patients of this job failed ({', '.join(failed)}); "
              "the others are kept and are not computed again when the job reruns", file=sys.stderr)
        raise SystemExit(1)
    for work in works:  # the job is done: Snakemake keeps its outputs from now on
        _remove(partial / work.patient)
    return computed
