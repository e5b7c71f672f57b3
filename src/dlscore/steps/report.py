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


def table_views(tables: Mapping[str, str], items: Mapping[str, str], out_dir: str) -> None:
    """``out_dir/<name>.html`` for each CSV of ``tables`` (name -> path): the table rounded for
    reading (:func:`dlscore.tables.readable`) under its report item name ``items[name]``."""
    from dlscore.tables import html_page, readable
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    note = ("Rounded for reading: 3 significant digits, p as journals print it (<0.001, 0.003, 0.04), "
            "∞ for a limit never reached. The CSV beside this table holds every digit and the config hash.")
    for name, path in tables.items():
        df = pd.read_csv(path)
        (out / f"{name}.html").write_text(html_page(readable(df), f"{items[name]} ({Path(path).name}, "
                                                               f"{len(df)} rows)", note))


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


#: tables the manuscript step reads when the study has them (name -> path under results/)
MANUSCRIPT_TABLES = {"splits": "manifest/splits.csv", "provenance": "tables/provenance.csv",
                     "survival": "tables/survival.csv", "dcb": "tables/dcb.csv",
                     "cox_multivariable": "tables/cox_multivariable.csv",
                     "discrimination": "tables/discrimination.csv", "cutoffs": "tables/cutoffs.csv",
                     "comparisons": "tables/comparisons.csv", "calibration": "tables/calibration.csv",
                     "reproducibility": "tables/reproducibility.csv", "table1": "tables/table1.csv",
                     "table2": "tables/table2.csv",
                     "dls_regression": "tables/dls_regression.csv",
                     "four_groups_logrank": "tables/four_groups_logrank.csv"}


def _flow_analyses(config: Mapping[str, Any], frames: Mapping[str, pd.DataFrame]):
    """The analyses of the study flow: the primary model's AUC, its KM per endpoint, its DCB."""
    from dlscore.flow import Analysis, primary_rows
    from dlscore.study import display_name, endpoints, km_models
    out, src = [], MANUSCRIPT_TABLES
    if "discrimination" in frames:
        d = primary_rows(frames["discrimination"], config["primary_model"], analysis="primary")
        out.append(Analysis(f"AUC, {config['label_name']}", d, {"label": "unknown label"}, src["discrimination"]))
    lead = (km_models(config) or [config["primary_model"]])[0]
    for ep, spec in endpoints(config).items():
        rows = primary_rows(frames["survival"], lead, endpoint=ep)
        out.append(Analysis(f"{spec['label']} ({display_name(config, lead)})", rows, {spec["time"]: f"no {ep} time",
                                                                spec["event"]: f"no {ep} event"}, src["survival"]))
    dcb_col = config["clinical"].get("dcb")
    if "dcb" in frames and dcb_col:
        out.append(Analysis(f"Durable clinical benefit ({display_name(config, lead)})", primary_rows(frames["dcb"], lead),
                            {dcb_col: "DCB not assessable"}, src["dcb"], n_column="auc_n"))
    return out


def manuscript(config: Mapping[str, Any], validated: str, tables: Mapping[str, str], produced,
               outputs: Mapping[str, str]) -> None:
    """Figure 1 (study flow) and its table, ``methods.md`` and the TRIPOD+AI checklist of the
    run: ``tables`` name -> CSV path (:data:`MANUSCRIPT_TABLES` that the study has),
    ``produced`` the run's outputs (paths relative to results/), ``outputs`` flow_table,
    flow_figure, methods, tripod, paste_ready (the folder of :mod:`dlscore.manuscript_tables`)."""
    from pathlib import Path
    from dlscore.flow import study_flow
    from dlscore.manuscript_tables import CAPTIONS, manuscript_tables
    from dlscore.tables import html_page
    from dlscore.study import endpoint_names
    from dlscore.methods import methods_markdown
    from dlscore.plots.flow import plot_flow
    from dlscore.tripod import checklist
    frames = {k: pd.read_csv(v) for k, v in tables.items()}
    flow = study_flow(pd.read_parquet(validated), _flow_analyses(config, frames),
                      config["imaging"]["modalities"] if "imaging" in config else ())
    write_table(flow, outputs["flow_table"], config)
    plot_flow(flow, outputs["flow_figure"], f"Study flow: {config['study']}")
    Path(outputs["methods"]).write_text(methods_markdown(config, {**frames, "study_flow": flow}))
    write_table(checklist(produced), outputs["tripod"], config)
    Path(outputs["paste_ready"]).mkdir(parents=True, exist_ok=True)
    names = {**endpoint_names(config), **(config.get("display_names") or {})}
    for name, table in manuscript_tables(frames, names).items():
        write_table(table, Path(outputs["paste_ready"]) / f"{name}.csv", config)
        (Path(outputs["paste_ready"]) / f"{name}.html").write_text(html_page(table, CAPTIONS[name]))
