"""The report steps (workflow/rules/report.smk): summary page and provenance."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from dlscore.config import config_hash, package_versions
from dlscore.tables import write_table


def summary(config: Mapping[str, Any], tables: Mapping[str, str], out_html: str) -> None:
    """The one-page summary (:func:`dlscore.summary.summary_html`) from the tables ``tables``
    (name -> CSV path: splits, survival and, where the study has them, discrimination,
    reproducibility, calibration, dcb, hr_difference, cox_multivariable, signature_baselines)."""
    from dlscore.study import km_models, scores_mode
    from dlscore.summary import summary_html
    frames = {k: pd.read_csv(v) for k, v in tables.items() if k in (
        "splits", "survival", "discrimination", "reproducibility", "dcb", "hr_difference", "cox_multivariable",
        "calibration", "marker_coverage", "signature_baselines")}
    Path(out_html).write_text(summary_html(config.get("study"), config.get("label_name", "label"), scores_mode(config),
                                           km_models(config), config.get("report_notes", []), frames))


def provenance(config: Mapping[str, Any], validated: str, out: str, checksums_out: str,
               workers: int = 1) -> None:
    """Provenance table (study, config hash, seed, git commit, cohort, package versions,
    SHA-256 of the input data) and the per-file checksum table ``checksums_out``, keyed by
    pseudonymous id and input name (no path)."""
    from dlscore.config import data_checksums
    from dlscore.study import input_files, plan_patients
    sums = data_checksums(input_files(config, plan_patients(config)), workers)
    write_table(sums, checksums_out, config)
    data_digest = hashlib.sha256("\n".join(sums["sha256"]).encode()).hexdigest()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown (not a git checkout)", False
    man = pd.read_parquet(validated)
    rows = [("study", config.get("study")), ("config_hash", config_hash(config)), ("seed", config["seed"]),
            ("git_commit", commit + (" (uncommitted changes)" if dirty else "")),
            ("patients", len(man)), ("cohorts", ", ".join(dict.fromkeys(man["cohort"]))),
            ("data_files", int(sums["files"].sum())), ("data_bytes", int(sums["bytes"].sum())),
            ("data_sha256", data_digest)]
    rows += [(f"version:{k}", v) for k, v in package_versions().items()]
    write_table(pd.DataFrame(rows, columns=["key", "value"]), out, config)
