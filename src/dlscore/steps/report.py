"""The report steps (workflow/rules/report.smk): summary page and provenance."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from dlscore.config import config_hash, package_versions
from dlscore.tables import write_table


def _int(v) -> str:
    """A count for the summary page ("n/a" when the table has none)."""
    return str(int(v)) if v is not None and np.isfinite(float(v)) else "n/a"


def _num(v) -> str:
    return f"{float(v):.3g}" if v is not None and np.isfinite(float(v)) else "n/a"


def _fmt_ci(v, lo, hi, d=2) -> str:
    if not np.isfinite(v):
        return "not computable"
    return f"{v:.{d}f} ({lo:.{d}f}–{hi:.{d}f})"


def summary(config: Mapping[str, Any], tables: Mapping[str, str], out_html: str) -> None:
    """A one-page statement of the headline results, generated from the tables (no number
    is typed by hand), with the study's caveats from ``report_notes``. ``tables``: name ->
    CSV path for splits, survival and, where the study has them, discrimination,
    reproducibility, dcb, hr_difference, cindex, ici_mapping."""
    import html
    from dlscore.study import km_models, scores_mode
    esc = lambda v: html.escape(str(v))  # noqa: E731
    scores = scores_mode(config)
    parts = [f"<h2>{esc(config.get('study'))}: summary of results</h2>"]
    if scores:
        parts.append("<p>Scores-only study: each marker is a manifest column with a configured cutoff "
                     "(high = value &ge; cutoff); multivariable and C-index models are fitted on the development "
                     "cohort and applied unchanged to the others.</p>")
    else:
        parts.append(f"<p>Label: <b>{esc(config.get('label_name', 'label'))}</b>. Models are trained on the training "
                     "split, early-stopped on the validation split and frozen; the DLS cutoff is the maximum Youden "
                     "index on the training split. Nothing is tuned on external cohorts.</p>")
    if "discrimination" in tables:
        disc = pd.read_csv(tables["discrimination"])
        for model, g in disc[disc["analysis"] == "primary"].groupby("model", sort=False):
            items = [f"<li>{esc(r['set'])} (n={_int(r.get('n'))}, {_int(r.get('n_pos'))} positive): AUC "
                     f"{_fmt_ci(r.get('auc', np.nan), r.get('auc_ci_low'), r.get('auc_ci_high'))} (95 % CI, DeLong)</li>"
                     for _, r in g.iterrows()]
            parts.append(f"<h3>{esc(model)}</h3><ul>{''.join(items)}</ul>")
    if "reproducibility" in tables:
        rep = pd.read_csv(tables["reproducibility"])
        rep_items = []
        for _, r in rep.iterrows():
            ok = "icc" in rep and np.isfinite(r.get("icc", np.nan))
            val = f"{r['form']} {_fmt_ci(r['icc'], r['ci_low'], r['ci_high'])}" if ok else r.get("note", "")
            rep_items.append(f"<li>{esc(r['model'])}, {esc(r['set'])} (n={_int(r.get('n'))}): {esc(val)}</li>")
        parts.append(f"<h3>Inter-rater reproducibility of the DLS</h3><ul>{''.join(rep_items)}</ul>")
    sv = pd.read_csv(tables["survival"])
    items = []
    for _, r in sv[sv["model"].isin(km_models(config))].iterrows():
        hr = (_fmt_ci(r["hr"], r["hr_ci_low"], r["hr_ci_high"]) if np.isfinite(r.get("hr", np.nan))
              else next((str(r[k]) for k in ("note", "estimable") if isinstance(r.get(k), str) and r[k]),
                        "not computable"))
        items.append(f"<li>{esc(r['model'])}, {esc(r['set'])}, {esc(r['endpoint'])} (n={_int(r.get('n'))}): HR high vs low "
                     f"{esc(hr)}, log-rank p = {_num(r.get('logrank_p'))}</li>")
    parts.append(f"<h3>Outcome by marker group</h3><ul>{''.join(items)}</ul>")
    if "dcb" in tables:
        dcb = pd.read_csv(tables["dcb"])
        if "marker" in dcb:
            items = []
            for _, r in dcb.iterrows():
                auc = (f"AUC {_fmt_ci(r['auc'], r['auc_ci_low'], r['auc_ci_high'])}" if np.isfinite(r.get("auc", np.nan))
                       else str(r.get("auc_note", "")))
                items.append(f"<li>{esc(r['marker'])}, {esc(r['set'])}: DCB {_int(r.get('dcb_high'))}/{_int(r.get('n_high'))} "
                             f"high vs {_int(r.get('dcb_low'))}/{_int(r.get('n_low'))} low ({esc(r['test'])} p = {_num(r.get('p'))}); "
                             f"{esc(auc)}</li>")
            parts.append(f"<h3>Durable clinical benefit</h3><ul>{''.join(items)}</ul>")
    if "hr_difference" in tables:
        hd = pd.read_csv(tables["hr_difference"])
        if "diff" in hd:
            items = [f"<li>{esc(r['set'])}, {esc(r['endpoint'])}: HR({esc(r['marker_a'])}) − HR({esc(r['marker_b'])}) = "
                     f"{esc(_fmt_ci(r['diff'], r['ci_low'], r['ci_high']))} ({_int(r.get('n_boot_used'))} bootstrap "
                     f"replicates)</li>" for _, r in hd.iterrows()]
            parts.append(f"<h3>Difference of hazard ratios</h3><ul>{''.join(items)}</ul>")
    splits = pd.read_csv(tables["splits"]).drop(columns="config_hash")
    parts.append("<h3>Patients per split</h3>" + splits.to_html(index=False))
    notes = config.get("report_notes", [])
    if notes:
        parts.append("<h3>Caveats</h3><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    Path(out_html).write_text("<html><body style='font-family:sans-serif;max-width:60em'>" + "\n".join(parts)
                              + "</body></html>\n")


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
