"""Manifest of the NSCLC-Radiogenomics collection (TCIA; Bakr et al., Sci Data 2018) from its
clinical table, for a tables-only radiomics-signature study (``config/nsclc_radiogenomics.yaml``).

Mapping (explicit; every excluded row and missing value is reported):

* ``patient_id`` = ``Case ID``; ``cohort`` = its prefix (R01: Stanford, AMC: Palo Alto VA).
* ``label`` = ``EGFR mutation status``: Mutant 1, Wildtype 0, Unknown / Not collected empty.
* Overall survival from the CT date: ``os_time`` (months, days / 30.4375) = ``Time to Death
  (days)`` for patients who died, otherwise ``Date of Last Known Alive`` - ``CT Date``;
  ``os_event`` = ``Survival Status`` Dead 1, Alive 0.
* Covariates: ``age``, ``sex``, ``smoking`` (never / former / current), ``histology``
  (adenocarcinoma / squamous / other), ``pack_years``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from dlscore.errors import InputError

DAYS_PER_MONTH = 30.4375
EGFR = {"Mutant": 1, "Wildtype": 0, "Unknown": np.nan, "Not collected": np.nan}
SMOKING = {"Nonsmoker": "never", "Former": "former", "Current": "current"}


def build_manifest(labels_csv: str | Path, cohorts: Sequence[str] = ("R01",)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(manifest, report) for the patients of ``cohorts`` (Case ID prefixes). All are
    ``development``: the workflow splits them into training and validation (seeded)."""
    p = Path(labels_csv)
    if not p.exists():
        raise InputError("NSCLC-Radiogenomics clinical table not found",
                         "set nsclc_rg.labels to radiogenomics_labels.csv (see ../shared/data/README.md)", where=str(p))
    d = pd.read_csv(p)
    d.columns = [c.strip() for c in d.columns]
    need = ["Case ID", "EGFR mutation status", "Survival Status", "Time to Death (days)", "Date of Last Known Alive",
            "CT Date"]
    missing = [c for c in need if c not in d]
    if missing:
        raise InputError(f"columns {missing} missing from the clinical table", "use the collection's table as released",
                         where=str(p))
    unknown = sorted(set(d["EGFR mutation status"].dropna()) - set(EGFR))
    if unknown:
        raise InputError(f"EGFR value(s) {unknown} have no coding", "extend dlscore.cohorts.nsclc_rg.EGFR", where=str(p))
    d["cohort"] = d["Case ID"].str.split("-").str[0]
    report = [{"item": "rows in the clinical table", "n": len(d)}]
    keep = d["cohort"].isin(list(cohorts))
    report.append({"item": f"rows of other cohorts than {', '.join(cohorts)} (excluded)", "n": int((~keep).sum())})
    d = d[keep].copy()
    ct = pd.to_datetime(d["CT Date"], format="%m/%d/%Y", errors="coerce")
    alive = pd.to_datetime(d["Date of Last Known Alive"], format="%m/%d/%Y", errors="coerce")
    dead = d["Survival Status"].eq("Dead")
    days = np.where(dead, d["Time to Death (days)"], (alive - ct).dt.days)
    out = pd.DataFrame({
        "patient_id": d["Case ID"].to_numpy(), "cohort": d["cohort"].to_numpy(), "role": "development",
        "label": d["EGFR mutation status"].map(EGFR).to_numpy(float),
        "os_time": np.asarray(days, float) / DAYS_PER_MONTH,
        "os_event": np.where(d["Survival Status"].isin(["Dead", "Alive"]), dead.astype(float), np.nan),
        "age": pd.to_numeric(d.get("Age at Histological Diagnosis"), errors="coerce").to_numpy(),
        "sex": d.get("Gender", pd.Series(np.nan, index=d.index)).str.lower().to_numpy(),
        "smoking": d.get("Smoking status", pd.Series(np.nan, index=d.index)).map(SMOKING).to_numpy(),
        "histology": d.get("Histology", pd.Series(np.nan, index=d.index)).map(
            lambda v: "adenocarcinoma" if v == "Adenocarcinoma" else "squamous" if str(v).startswith("Squamous")
            else ("other" if isinstance(v, str) else np.nan)).to_numpy(),
        "pack_years": pd.to_numeric(d.get("Pack Years"), errors="coerce").to_numpy(),
    })
    bad_time = out["os_time"].isna() | (out["os_time"] < 0)
    out.loc[bad_time, ["os_time", "os_event"]] = np.nan
    report += [{"item": "EGFR unknown / not collected (label empty: scored, not trained on)",
                "n": int(out["label"].isna().sum())},
               {"item": "EGFR mutant", "n": int((out["label"] == 1).sum())},
               {"item": "EGFR wildtype", "n": int((out["label"] == 0).sum())},
               {"item": "overall survival not computable (dates missing or negative)", "n": int(bad_time.sum())},
               {"item": "deaths", "n": int((out["os_event"] == 1).sum())}]
    return out, pd.DataFrame(report)


def build(section) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Registry entry point (config section ``nsclc_rg``): the manifest and the mapping report."""
    return build_manifest(section["labels"], section.get("cohorts", ["R01"]))
