"""The study plan: which patients, raters and input files exist, known when the workflow
is parsed (before any job runs), so that Snakemake can build one DAG.

* phantom studies: patients follow from the config (``dlscore.phantom.planned_patients``),
  their files are outputs of the ``phantom`` rule;
* the TCGA-LGG cohort: the manifest is built from the data folder (``dlscore.lgg``), by
  the ``lgg_manifest`` rule and, identically, here;
* brought cohorts: the manifest CSV is read (ids, roles, paths relative to its folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from dlscore.manifest import read_manifest, resolve_path


@dataclass(frozen=True)
class Patient:
    patient_id: str
    cohort: str
    role: str
    raters: tuple[str, ...]
    files: dict  # "image_<m>" / "mask_<r>" -> path (as seen from the working directory)


def manifest_path(config: Mapping[str, Any]) -> str:
    if config.get("phantom", {}).get("enabled"):
        return f"{config['results']}/phantom/manifest.csv"
    if config.get("lgg", {}).get("enabled"):
        return f"{config['results']}/lgg/manifest.csv"
    return str(config["manifest"])


def plan_patients(config: Mapping[str, Any]) -> list[Patient]:
    mods = list(config["imaging"]["modalities"])
    raters = list(config["imaging"]["raters"])
    if config.get("phantom", {}).get("enabled"):
        from dlscore.phantom import planned_patients
        root = f"{config['results']}/phantom/images"
        out = []
        for p in planned_patients(config["phantom"]):
            files = {f"image_{m}": f"{root}/{p.patient_id}_{m}.nii.gz" for m in mods}
            files.update({f"mask_{r}": f"{root}/{p.patient_id}_mask_{r}.nii.gz" for r in p.raters})
            out.append(Patient(p.patient_id, p.cohort, p.role, p.raters, files))
        return out
    if config.get("lgg", {}).get("enabled"):
        from dlscore.lgg import build_manifest
        lg = config["lgg"]
        df = build_manifest(lg["data_dir"], lg["external_sites"], lg.get("label", "idh_mutant"), lg.get("patients"))
        path = Path(manifest_path(config))
    else:
        path = Path(manifest_path(config))
        df = read_manifest(path)
    out = []
    for _, row in df.iterrows():
        files, have = {}, []
        for m in mods:
            v = row.get(f"image_{m}")
            if isinstance(v, str) and v.strip():
                files[f"image_{m}"] = resolve_path(v, path.parent)
        for r in raters:
            v = row.get(f"mask_{r}")
            if isinstance(v, str) and v.strip():
                files[f"mask_{r}"] = resolve_path(v, path.parent)
                have.append(r)
        out.append(Patient(str(row["patient_id"]), str(row["cohort"]), str(row["role"]), tuple(have), files))
    return out


def set_slug(split: str, cohort: str) -> str:
    """File-name-safe name of an evaluation set: the split for the development splits,
    the cohort for external / ICI cohorts (one set per cohort)."""
    return split if split in ("training", "validation", "unlabelled") else cohort


def set_slugs(plan: list[Patient], splits) -> list[str]:
    """Evaluation-set slugs, known before the split is drawn (for output file names)."""
    out = []
    for split in splits:
        if split in ("training", "validation"):
            if any(p.role in ("development", split) for p in plan):
                out.append(split)
        elif split == "unlabelled":
            continue  # only known after validation; not a figure target
        else:
            out += [c for c in dict.fromkeys(p.cohort for p in plan if p.role == split)]
    return list(dict.fromkeys(out))


def development_patients(plan: list[Patient]) -> list[str]:
    return [p.patient_id for p in plan if p.role in ("development", "training", "validation")]


