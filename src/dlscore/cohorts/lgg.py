"""Manifest builder for the TCGA-LGG MRI cohort (Buda et al. 2019 release; see the data
folder's README): 110 patients, pre-contrast T1 (``t1pre``), FLAIR and post-contrast T1
(``t1post``) volumes, one expert FLAIR-abnormality mask (rater 1 only), clinical table.

* **Label** (primary): ``idh_mutant`` (1 = IDH-mutant); secondary labels ``grade_g3``
  (1 = WHO grade 3 vs 2) and ``codel_1p19q``. One patient has no IDH status: role
  ``development`` with an empty label -> split ``unlabelled`` (scored, not trained on).
* **Institutions**: the TCGA tissue-source site code in the id (``TCGA-<site>-<n>``).
  Patients of ``external_sites`` form the external test cohort (whole institutions held
  out); the others form the development cohort, split into training/validation by the
  workflow (stratified on the label, seeded).
* **Missing sequences** are left empty (6 patients have FLAIR only, 4 lack post-contrast
  T1); the slicer writes a zero channel and the fusion model masks that sequence's token.
* **Outcomes**: OS and the progression-free interval (PFI, as ``pfs_*``), in months
  (days / 30.4375).
* **Geometry** is nominal (2.0 x 2.0 x 5.0 mm; the source slices carried no spacing): the
  20 mm margin and radiomics shape features are in these nominal millimetres.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from dlscore.errors import InputError, ManifestError

SEQUENCES = ("t1pre", "flair", "t1post")
DAYS_PER_MONTH = 30.4375


def site_of(patient_id: str) -> str:
    return patient_id.split("-")[1]


def build_manifest(data_dir: str | Path, external_sites: Sequence[str], label: str = "idh_mutant",
                   patients: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per patient of ``data_dir`` (absolute image paths; empty for a missing sequence).

    ``patients`` restricts the cohort to these ids (smoke runs); unknown ids are an error.
    """
    d = Path(data_dir).resolve()
    need = [d / "patients.tsv", d / "clinical_tcga.csv", d / "images"]
    missing = [str(p) for p in need if not p.exists()]
    if missing:
        raise ManifestError([InputError("TCGA-LGG data not found", "set `lgg.data_dir` in the config to the "
                                        "folder holding patients.tsv, clinical_tcga.csv and images/", where=m)
                             for m in missing])
    pts = pd.read_csv(d / "patients.tsv", sep="\t")
    clin = pd.read_csv(d / "clinical_tcga.csv")
    if patients:
        unknown = sorted(set(patients) - set(pts["patient_id"]))
        if unknown:
            raise ManifestError([InputError("patient id not in patients.tsv", "check `lgg.patients`", p, "patient_id")
                                 for p in unknown])
        pts = pts[pts["patient_id"].isin(list(patients))]
    df = pts[["patient_id", "sequences"]].merge(clin, on="patient_id", how="left", validate="1:1")
    df["site"] = df["patient_id"].map(site_of)
    ext = df["site"].isin(list(external_sites))
    dev_sites = sorted(set(df.loc[~ext, "site"]))
    df["cohort"] = np.where(ext, "TCGA-" + "-".join(sorted(external_sites)), "TCGA-" + "-".join(dev_sites))
    df["role"] = np.where(ext, "external", "development")
    for s in SEQUENCES:
        have = df["sequences"].str.split("+").map(lambda xs, s=s: s in xs)
        df[f"image_{s}"] = np.where(have, [str(d / "images" / f"{p}_{s}.nii.gz") for p in df["patient_id"]], "")
    df["mask_r1"] = [str(d / "images" / f"{p}_mask.nii.gz") for p in df["patient_id"]]
    df["label"] = df[label]
    df["grade_g3"] = (df["grade"] == 3).astype(float).where(df["grade"].notna())
    df["os_time"] = (df["os_days"] / DAYS_PER_MONTH).round(3)
    df["os_event"] = df["os_event"]
    df["pfs_time"] = (df["pfi_days"] / DAYS_PER_MONTH).round(3)
    df["pfs_event"] = df["pfi_event"]
    cols = ["patient_id", "cohort", "role", "site", "sequences", *[f"image_{s}" for s in SEQUENCES], "mask_r1",
            "label", "idh_mutant", "codel_1p19q", "grade_g3", "idh_codel_subtype", "histology", "age", "sex",
            "os_time", "os_event", "pfs_time", "pfs_event"]
    return df[cols]


def build(section) -> tuple[pd.DataFrame, None]:
    """Registry entry point (config section ``lgg``): the manifest, no mapping table."""
    return build_manifest(section["data_dir"], section["external_sites"], section.get("label", "idh_mutant"),
                          section.get("patients")), None
