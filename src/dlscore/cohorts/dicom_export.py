"""A study from a hospital's DICOM export: index the tree, pair the series, build the manifest.

Config section ``dicom_export`` (see ``config/sts_petct.yaml`` and the README, "From a DICOM
export"):

* ``root``: the export, in any layout (several series per folder, one series over several
  folders, files without extension): indexed by :mod:`dlscore.dicom_index`.
* ``key_file``: CSV ``hospital_id,patient_id`` that the user keeps **outside** ``results/``.
  From the index on only the pseudonymous ``patient_id`` exists: the hospital's PatientID,
  the paths of the export and the UIDs stay in the key file's folder (``private_dir``: the
  header cache and one folder of links per chosen series). With ``create_key`` patients
  not yet in the key file get the next free id (``id_prefix`` + number) appended to it.
* ``series``: per manifest modality (``imaging.modalities``) which series is taken:
  ``modality`` (the DICOM Modality), optional ``description`` (regular expression searched,
  case-insensitive, in SeriesDescription), ``with`` (another modality: same study or same
  frame of reference as the series chosen for it: "the CT of the PET/CT study") and
  ``choose`` (``most_slices``, ``latest``, ``earliest``) to break a tie.
* ``masks``: per rater (``imaging.raters``) ``roi`` (regular expression on ROI / segment
  names), ``file`` (regular expression on the file's path inside the export), ``on`` (the modality whose series the RTSTRUCT/SEG must reference by
  ReferencedSeriesInstanceUID), ``link`` (``series``, or ``frame_of_reference`` to accept a
  mask whose referenced series is not in the export when it shares the image's frame of
  reference: stated in the pairing report for each patient) and ``choose`` (``latest``,
  ``earliest``).
* ``clinical``: CSV or Excel (``clinical_sheet``) keyed by ``clinical_id_column`` (the
  hospital id); its other columns join the manifest (label, outcomes, ``cohort``, ``role``).

Every choice is a row of the pairing report (``tables/dicom_pairing.csv``): the series
taken, and each patient excluded with the reason and the candidates (ambiguity is never
resolved by a guess: two candidate CTs without a ``choose`` rule exclude the patient).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from dlscore.dicom_index import index_tree, public_index, scrub, short_uid
from dlscore.errors import InputError, ManifestError

CHOICES = ("most_slices", "latest", "earliest")
MASK_MODALITIES = ("RTSTRUCT", "SEG")


# ----------------------------------------------------------------------------- key file


def read_key(path: str | Path) -> dict[str, str]:
    """hospital id -> pseudonymous patient id, from a CSV with columns ``hospital_id`` and
    ``patient_id`` (both unique). A missing file is an empty key."""
    from dlscore.manifest import SAFE_ID_RULE, identifier_problem
    p = Path(path)
    if not p.is_file():
        return {}
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    missing = [c for c in ("hospital_id", "patient_id") if c not in df.columns]
    if missing:
        raise ManifestError([InputError(f"key file lacks column(s) {missing}",
                                        "give the key file the columns hospital_id,patient_id", where=str(p))])
    problems = []
    for col in ("hospital_id", "patient_id"):
        dup = df[col][df[col].duplicated()]
        if len(dup):
            problems.append(InputError(f"{len(dup)} repeated {col} value(s) (rows {[int(i) + 2 for i in dup.index][:5]})",
                                       "one row per patient in the key file", where=str(p)))
    for i, v in enumerate(df["patient_id"]):
        why = identifier_problem(v)
        if why:
            problems.append(InputError(f"patient_id {why}", f"use only {SAFE_ID_RULE}", where=f"{p} row {i + 2}"))
    if problems:
        raise ManifestError(problems, f"key file {p.name}")
    return dict(zip(df["hospital_id"], df["patient_id"]))


def extend_key(key: dict[str, str], hospital_ids, prefix: str) -> dict[str, str]:
    """``key`` plus the next free ids ``<prefix><n>`` (3 digits at least) for the hospital ids
    it lacks, in sorted order; existing pseudonyms never change."""
    new = sorted(set(hospital_ids) - set(key))
    used = {int(m.group(1)) for v in key.values() if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", v))}
    n = max(used, default=0)
    width = max(3, len(str(n + len(new))))
    out = dict(key)
    for h in new:
        n += 1
        out[h] = f"{prefix}{n:0{width}d}"
    return out


def write_key(key: dict[str, str], path: str | Path) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    pd.DataFrame({"hospital_id": list(key), "patient_id": list(key.values())}).to_csv(tmp, index=False,
                                                                                         lineterminator="\n")
    os.replace(tmp, p)


# ----------------------------------------------------------------------------- pairing


def _day_time(row) -> str:
    return f"{row['date']}{row['time']}"


def _pick(cands: pd.DataFrame, choose: str | None) -> tuple[pd.DataFrame, str]:
    """The candidates left after the tie-breaking rule (one row when it decides)."""
    if len(cands) <= 1 or not choose:
        return cands, ""
    if choose == "most_slices":
        best = cands[cands["n_files"] == cands["n_files"].max()]
        return best, f"most slices ({int(cands['n_files'].max())})"
    key = cands.apply(_day_time, axis=1)
    best = cands[key == (key.max() if choose == "latest" else key.min())]
    return best, f"the {choose} acquisition"


def _describe(c: pd.DataFrame, hid: str, pid: str) -> str:
    return "; ".join(f"series {short_uid(r.series_uid)} ({r.modality}, {scrub(r.series_description, hid, pid) or 'no description'}, "
                     f"{r.n_files} files)" for r in c.itertuples())


class _Pairing:
    """The choices for one patient: ``chosen`` ("image_<m>"/"mask_<r>" -> series row),
    ``report`` rows, and whether the patient is ``excluded``."""

    def __init__(self, series: pd.DataFrame, hid: str, pid: str):
        self.series, self.hid, self.pid = series, hid, pid
        self.chosen: dict[str, Any] = {}
        self.report: list[dict] = []
        self.excluded = False
        for r in series[series["problems"].astype(str) != ""].itertuples():
            self.row("series", "note", f"series {short_uid(r.series_uid)} ({r.modality}): "
                     f"{scrub(r.problems, hid, pid)}", r.series_uid)

    def row(self, item: str, status: str, detail: str, uid: str = "") -> None:
        self.report.append({"patient_id": self.pid, "item": item, "status": status, "series": short_uid(uid),
                            "detail": detail})
        self.excluded = self.excluded or status == "excluded"

    def text(self, value: str) -> str:
        return scrub(value, self.hid, self.pid)

    def image(self, m: str, sp: Mapping[str, Any], optional: bool) -> None:
        """Choose the series of modality ``m`` (rule ``sp``)."""
        s, item = self.series, f"image_{m}"
        c = s[(s["modality"] == sp["modality"]) & (s["problems"].astype(str) == "")]
        if sp.get("description"):
            c = c[c["series_description"].str.contains(sp["description"], case=False, regex=True, na=False)]
        what = sp["modality"] + (f" series matching '{sp['description']}'" if sp.get("description") else " series")
        partner = sp.get("with")
        if partner:
            p = self.chosen.get(f"image_{partner}")
            if p is not None:
                c = c[(c["study_uid"] == p["study_uid"]) | ((c["frame_of_reference"] == p["frame_of_reference"])
                                                            & (c["frame_of_reference"] != ""))]
            what += f" in the study or frame of reference of the {partner}"
        if c.empty:
            self.row(item, "missing", f"no {what} (optional modality: left empty)") if optional else \
                self.row(item, "excluded", f"no {what}")
            return
        best, why = _pick(c, sp.get("choose"))
        if len(best) > 1:
            self.row(item, "excluded", f"{len(best)} candidates for the {what} and no rule decides (set "
                     f"dicom_export.series.{m}.description or .choose): {_describe(best, self.hid, self.pid)}")
            return
        b = best.iloc[0]
        self.chosen[item] = b
        detail = f"{b['modality']}, {self.text(b['series_description']) or 'no description'}, {b['n_files']} files"
        if len(c) > 1:
            detail += f"; chosen among {len(c)} candidates by {why}: {_describe(c, self.hid, self.pid)}"
        self.row(item, "chosen", detail, b["series_uid"])

    def mask(self, r: str, sp: Mapping[str, Any]) -> None:
        """Choose the RTSTRUCT/SEG of rater ``r`` (rule ``sp``): it must reference the series
        chosen for ``sp["on"]`` (or share its frame of reference, with ``link``). A missing
        first rater excludes the patient; another rater is left empty."""
        s, item = self.series, f"mask_{r}"
        fail = "excluded" if r == "r1" else "missing"
        c = s[s["modality"].isin([sp["modality"]] if sp.get("modality") else MASK_MODALITIES)]
        if sp.get("roi"):
            c = c[c["roi_names"].map(lambda v: any(re.search(sp["roi"], n, re.I) for n in str(v).split("|") if n))]
        if sp.get("file"):  # a reader's files named by a pattern of the export (e.g. "reader2/")
            c = c[c["files"].map(lambda fs: any(re.search(sp["file"], f) for f in fs))]
        ref = self.chosen.get(f"image_{sp['on']}")
        if ref is None:
            self.row(item, fail, f"no {sp['on']} image chosen to link the mask to")
            return
        refs = c["referenced_series"].astype(str).str.split("|")
        direct = c[[ref["series_uid"] in v for v in refs]]
        note, uids = "", set(s["series_uid"])
        if direct.empty and sp.get("link") == "frame_of_reference":
            absent = [not (set(v) - {""}) & uids for v in refs]
            direct = c[[a and f == ref["frame_of_reference"] != "" for a, f in zip(absent, c["frame_of_reference"])]]
            note = (f" (linked by frame of reference: the series it references is not in the export; "
                    f"dicom_export.masks.{r}.link)") if not direct.empty else ""
        what = f"RTSTRUCT/SEG{' with an ROI matching ' + repr(sp['roi']) if sp.get('roi') else ''} on the {sp['on']}"
        if direct.empty:
            dangling = sorted({short_uid(x) for v in refs for x in v if x and x not in uids})
            why = (f"; {len(c)} candidate(s) reference series not in the export ({', '.join(dangling)}: set "
                   f"dicom_export.masks.{r}.link: frame_of_reference to accept them by frame of reference)"
                   if dangling else (f"; {len(c)} candidate(s) reference other series" if len(c) else ""))
            self.row(item, fail, f"no {what} series {short_uid(ref['series_uid'])}{why}")
            return
        best, _ = _pick(direct, sp.get("choose"))
        if len(best) > 1:
            self.row(item, fail, f"{len(best)} candidates for the {what} and no rule decides (set "
                     f"dicom_export.masks.{r}.roi or .choose): {_describe(best, self.hid, self.pid)}")
            return
        b = best.iloc[0]
        if int(b["n_files"]) > 1:
            self.row(item, fail, f"mask series {short_uid(b['series_uid'])} holds {b['n_files']} structure sets")
            return
        self.chosen[item] = b
        self.row(item, "chosen", f"{b['modality']} ROIs {self.text(b['roi_names'])}{note}", b["series_uid"])


def pair_patient(series: pd.DataFrame, spec_series: Mapping[str, Mapping], spec_masks: Mapping[str, Mapping],
                 optional: set[str], hid: str, pid: str) -> tuple[dict[str, Any] | None, list[dict]]:
    """Choose the series of one patient (``series``: the private series table rows of this
    hospital id). Returns (chosen: "image_<m>"/"mask_<r>" -> series row, or None when the
    patient is excluded; report rows). Modalities paired ``with`` another come after it."""
    p = _Pairing(series, hid, pid)
    for m in sorted(spec_series, key=lambda m: 1 if spec_series[m].get("with") else 0):
        p.image(m, spec_series[m], m in optional)
    for r, sp in spec_masks.items():
        p.mask(r, sp)
    return (None if p.excluded else p.chosen), p.report


# ----------------------------------------------------------------------------- links


def _link(target: str, link: Path) -> None:
    """Make ``link`` a symbolic link to ``target``, leaving an identical one untouched (its
    modification time is what Snakemake compares)."""
    if link.is_symlink() and os.readlink(link) == target:
        return
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


def materialise(root: str, private: Path, pid: str, item: str, files: tuple[str, ...]) -> str:
    """The path the manifest gives for one chosen series: a folder of links (image series,
    one per file, in slice order) or one link (a mask) under ``private/series/<pid>/``."""
    base = private / "series" / pid
    base.mkdir(parents=True, exist_ok=True)
    if item.startswith("mask_"):
        link = base / f"{item}.dcm"
        _link(os.path.join(root, files[0]), link)
        return str(link)
    d = base / item
    d.mkdir(exist_ok=True)
    want = {f"{i:05d}.dcm": os.path.join(root, f) for i, f in enumerate(files)}
    for stale in set(os.listdir(d)) - set(want):
        (d / stale).unlink()
    for name, target in want.items():
        _link(target, d / name)
    return str(d)


# ----------------------------------------------------------------------------- build


def _check_paths(section: Mapping[str, Any], results: str | None) -> tuple[Path, Path, Path]:
    problems = []
    root = Path(str(section.get("root") or ""))
    if not section.get("root") or not root.is_dir():
        problems.append(InputError("the DICOM export folder does not exist", "set dicom_export.root to the export's "
                                   "top folder", where=str(root)))
    if not section.get("key_file"):
        problems.append(InputError("no key file", "set dicom_export.key_file to a CSV hospital_id,patient_id kept "
                                   "outside results/ (created when create_key is true)", where="dicom_export.key_file"))
    key, private = _key_path(section), _private_dir(section)
    if results:
        res = Path(results).resolve()
        for what, p in (("key_file", key), ("private_dir", private)):
            if p == res or res in p.parents:
                problems.append(InputError(f"dicom_export.{what} is inside the results folder, which reviewers and "
                                           "the report receive", f"keep it outside {results}/", where=str(p)))
    if problems:
        raise ManifestError(problems, "config section dicom_export")
    return root.resolve(), key, private


def _key(section: Mapping[str, Any], key_path: Path, hids: list[str], report: list[dict]) -> dict[str, str]:
    """The key file's pseudonyms, extended with the export's new patients (``create_key``)."""
    key = read_key(key_path)
    if section.get("create_key", True) and set(hids) - set(key):
        key = extend_key(key, hids, str(section.get("id_prefix") or "P"))
        write_key(key, key_path)
    unknown = [h for h in hids if h not in key]
    if unknown:
        report.append({"patient_id": "", "item": "key file", "status": "excluded", "series": "",
                       "detail": f"{len(unknown)} patient(s) of the export are not in the key file (create_key is "
                                 "false): add them to the key file"})
    return key


def _join_clinical(manifest: pd.DataFrame, clinical: pd.DataFrame, report: list[dict]) -> pd.DataFrame:
    """The manifest with the clinical columns; a clinical ``cohort`` / ``role`` overrides the
    section's value (empty cells keep it)."""
    defaults = manifest[["patient_id", "cohort", "role"]].set_index("patient_id")
    take = [c for c in clinical.columns if c != "patient_id"]
    out = manifest.drop(columns=[c for c in take if c in manifest.columns]).merge(
        clinical, on="patient_id", how="left", validate="1:1")
    for c in ("cohort", "role"):
        out[c] = out[c].where(out[c].notna() & (out[c].astype(str) != ""), out["patient_id"].map(defaults[c]))
    have = set(clinical["patient_id"])
    report += [{"patient_id": pid, "item": "clinical", "status": "note", "series": "",
                "detail": "no row in the clinical table (label and outcomes empty)"}
               for pid in out["patient_id"] if pid not in have]
    return out


def _key_path(section: Mapping[str, Any]) -> Path:
    return Path(str(section.get("key_file") or "key.csv")).resolve()


def _private_dir(section: Mapping[str, Any]) -> Path:
    return Path(section.get("private_dir") or _key_path(section).parent / "dlscore_private").resolve()


def extra_inputs(section: Mapping[str, Any]) -> list[str]:
    """The header cache: rewritten exactly when files of the export were added, changed or
    removed, so the manifest is rebuilt then (and only then)."""
    return [str(_private_dir(section) / "header_cache.parquet")]


def build(section: Mapping[str, Any], results: str | None = None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """(manifest, {"dicom_index": public series index, "dicom_pairing": pairing report}).

    Side effects, all outside the results: the key file is extended (``create_key``), the
    header cache and the series links are written under the private folder. Deterministic:
    building twice gives the same manifest and leaves unchanged links untouched.
    """
    root, key_path, private = _check_paths(section, results)
    series, n_not = index_tree(root, private / "header_cache.parquet", int(section.get("workers") or 1))
    if series.empty:
        raise ManifestError([InputError("no DICOM file found", "point dicom_export.root at the export",
                                        where=str(root))])
    report: list[dict] = []
    hids = sorted(set(series["hospital_id"]))
    key = _key(section, key_path, hids, report)
    if n_not:
        report.append({"patient_id": "", "item": "export", "status": "note", "series": "",
                       "detail": f"{n_not} file(s) are not DICOM (no DICM preamble, DICOMDIR, unreadable header): "
                                 "skipped"})
    spec_series, spec_masks = dict(section.get("series") or {}), dict(section.get("masks") or {})
    items = [f"image_{m}" for m in spec_series] + [f"mask_{r}" for r in spec_masks]
    rows = []
    for hid in (h for h in hids if h in key):
        pid = key[hid]
        chosen, rep = pair_patient(series[series["hospital_id"] == hid], spec_series, spec_masks,
                                   set(section.get("optional_modalities") or []), hid, pid)
        report += rep
        if chosen is not None:
            rows.append({"patient_id": pid, "cohort": section.get("cohort") or "DICOM",
                         "role": section.get("role") or "development",
                         **{i: materialise(str(root), private, pid, i, chosen[i]["files"]) if i in chosen else ""
                            for i in items}})
    manifest = pd.DataFrame(rows, columns=["patient_id", "cohort", "role", *items])
    clinical = _clinical(section, key, report)
    if clinical is not None:
        manifest = _join_clinical(manifest, clinical, report)
    if manifest.empty:  # nothing to plan: the reasons go to the console (pseudonyms only)
        raise ManifestError([InputError(r["detail"], "adjust dicom_export.series / .masks (README, 'From a DICOM "
                                        "export')", r["patient_id"] or None, r["item"])
                             for r in report if r["status"] == "excluded"], "DICOM export: no patient could be paired")
    report_df = pd.DataFrame(report, columns=["patient_id", "item", "status", "series", "detail"])
    return (manifest.sort_values("patient_id", ignore_index=True),
            {"dicom_index": public_index(series, key), "dicom_pairing": report_df})


def _clinical(section: Mapping[str, Any], key: dict[str, str], report: list[dict]) -> pd.DataFrame | None:
    """The clinical table keyed by pseudonym (its hospital-id column dropped), or None."""
    if not section.get("clinical"):
        return None
    from dlscore.manifest import read_table
    df = read_table(section["clinical"], section.get("clinical_sheet"))
    col = section.get("clinical_id_column") or "hospital_id"
    if col not in df.columns:
        raise ManifestError([InputError(f"clinical table has no column {col!r}", "set "
                                        "dicom_export.clinical_id_column to the column of hospital ids",
                                        where=str(section["clinical"]))])
    ids = df[col].astype(str).str.strip()
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ManifestError([InputError(f"{len(dup)} hospital id(s) repeated in the clinical table (rows "
                                        f"{[int(i) + 2 for i in dup.index][:5]})", "one row per patient",
                                        where=str(section["clinical"]))])
    unmatched = int((~ids.isin(list(key))).sum())
    if unmatched:
        report.append({"patient_id": "", "item": "clinical", "status": "note", "series": "",
                       "detail": f"{unmatched} clinical row(s) have no images in the export (rows "
                                 f"{[int(i) + 2 for i in ids[~ids.isin(list(key))].index][:10]}): not in the study"})
    out = df[ids.isin(list(key))].copy()
    out.insert(0, "patient_id", ids[ids.isin(list(key))].map(key))
    return out.drop(columns=[col]).reset_index(drop=True)
