"""Index a DICOM tree of any layout: one row per file (headers only), then one per series.

A PACS or archive export nests patients, studies and series as each site likes, puts
several series in one folder or one series across folders, and often drops file
extensions. :func:`crawl` reads every file's header (pixel data never: ``stop_before_pixels``
and a fixed tag list), in parallel, and keeps an incremental cache keyed by path, size and
modification time, so re-indexing a grown export reads only the new files.
:func:`series_table` groups the files by ``SeriesInstanceUID``.

Both tables hold the hospital's ``PatientID`` and the files' paths: they are **private**
(written only under the study's private folder, beside the key file, never under
``results/``). :func:`public_index` is the pseudonymous view written to the results: the
patient's study pseudonym, hashed UIDs, days since the patient's first study instead of
dates, and free-text fields with the hospital id replaced.

Units: spacing in mm; ``position`` is the slice position along the slice normal (mm).
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from dlscore.dicom import COMPRESSED

#: header fields kept per file (tag keywords; sequences are read for masks only)
FILE_COLUMNS = ("relpath", "size", "mtime_ns", "hospital_id", "study_uid", "series_uid", "sop_uid", "modality",
                "frame_of_reference", "series_description", "study_date", "date", "time", "position", "orientation",
                "pixel_spacing", "slice_thickness", "rows", "columns", "frames", "units", "decay_correction",
                "transfer_syntax", "referenced_series", "referenced_sops", "roi_names")

_TAGS = ["PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "Modality", "FrameOfReferenceUID",
         "SeriesDescription", "StudyDate", "SeriesDate", "SeriesTime", "AcquisitionDate", "AcquisitionTime",
         "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "Rows", "Columns",
         "NumberOfFrames", "Units", "DecayCorrection", "StructureSetROISequence", "ReferencedFrameOfReferenceSequence",
         "SegmentSequence", "ReferencedSeriesSequence", "ROIContourSequence"]

def _has_preamble(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _referenced(ds) -> tuple[str, ...]:
    """Series UIDs an RTSTRUCT (via its referenced frame of reference) or a SEG refers to."""
    out = []
    for fr in ds.get("ReferencedFrameOfReferenceSequence", []):
        for st in fr.get("RTReferencedStudySequence", []):
            out += [str(se.SeriesInstanceUID) for se in st.get("RTReferencedSeriesSequence", [])
                    if "SeriesInstanceUID" in se]
    out += [str(se.SeriesInstanceUID) for se in ds.get("ReferencedSeriesSequence", []) if "SeriesInstanceUID" in se]
    return tuple(dict.fromkeys(out))


def _referenced_sops(ds, most: int = 3) -> tuple[str, ...]:
    """The first ``most`` image instances an RTSTRUCT's contours name (ContourImageSequence):
    the link to the image series when the structure set does not name the series."""
    out: list[str] = []
    for rc in ds.get("ROIContourSequence", []):
        for c in rc.get("ContourSequence", []):
            for ci in c.get("ContourImageSequence", []):
                if "ReferencedSOPInstanceUID" in ci:
                    out.append(str(ci.ReferencedSOPInstanceUID))
                    if len(out) >= most:
                        return tuple(out)
    return tuple(out)


def read_header(root: str, relpath: str) -> dict[str, Any] | None:
    """The :data:`FILE_COLUMNS` of one file (``None`` when it is not DICOM: no ``DICM``
    preamble, a DICOMDIR, or a header pydicom cannot parse)."""
    import pydicom
    path = os.path.join(root, relpath)
    if not _has_preamble(path):
        return None
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_TAGS)
    except Exception:  # truncated or corrupt: reported as "not DICOM" by the caller
        return None
    if "SeriesInstanceUID" not in ds:  # a DICOMDIR or another non-image object
        return None
    st = os.stat(path)
    iop = [float(v) for v in ds.get("ImageOrientationPatient", [])] or None
    ipp = [float(v) for v in ds.get("ImagePositionPatient", [])] or None
    position = (float(np.dot(np.cross(iop[:3], iop[3:]), ipp)) if iop and ipp and len(iop) == 6 and len(ipp) == 3
                else np.nan)
    modality = str(ds.get("Modality", ""))
    names = [str(r.ROIName) for r in ds.get("StructureSetROISequence", []) if "ROIName" in r]
    names += [str(s.SegmentLabel) for s in ds.get("SegmentSequence", []) if "SegmentLabel" in s]
    spacing = ds.get("PixelSpacing")
    return {
        "relpath": relpath, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
        "hospital_id": str(ds.get("PatientID", "")),
        "study_uid": str(ds.get("StudyInstanceUID", "")), "series_uid": str(ds.SeriesInstanceUID),
        "sop_uid": str(ds.get("SOPInstanceUID", "")), "modality": modality,
        "frame_of_reference": str(ds.get("FrameOfReferenceUID", "")),
        "series_description": str(ds.get("SeriesDescription", "")),
        "study_date": str(ds.get("StudyDate", "")),
        "date": str(ds.get("AcquisitionDate", "") or ds.get("SeriesDate", "") or ds.get("StudyDate", "")),
        "time": str(ds.get("AcquisitionTime", "") or ds.get("SeriesTime", "")),
        "position": position,
        "orientation": ",".join(f"{v:.3f}" for v in iop) if iop else "",
        "pixel_spacing": f"{float(spacing[0]):g}x{float(spacing[1]):g}" if spacing else "",
        "slice_thickness": float(ds.get("SliceThickness") or np.nan),
        "rows": int(ds.get("Rows") or 0), "columns": int(ds.get("Columns") or 0),
        "frames": int(ds.get("NumberOfFrames") or 1),
        "units": str(ds.get("Units", "")), "decay_correction": str(ds.get("DecayCorrection", "")),
        "transfer_syntax": str(getattr(ds.file_meta, "TransferSyntaxUID", "")),
        "referenced_series": "|".join(_referenced(ds)) if modality in ("RTSTRUCT", "SEG") else "",
        "referenced_sops": "|".join(_referenced_sops(ds)) if modality == "RTSTRUCT" else "",
        "roi_names": "|".join(names),
    }


def _read_chunk(args: tuple[str, list[str]]) -> list[dict | tuple[str, None]]:
    root, rels = args
    return [read_header(root, r) or (r, None) for r in rels]


def list_files(root: str | Path) -> pd.DataFrame:
    """Every regular file under ``root`` (symbolic links followed): relpath, size, mtime_ns."""
    rows = []
    root = str(root)
    for d, _, files in os.walk(root, followlinks=True):
        for f in files:
            p = os.path.join(d, f)
            try:
                st = os.stat(p)
            except OSError:
                continue
            rows.append((os.path.relpath(p, root), st.st_size, st.st_mtime_ns))
    return pd.DataFrame(rows, columns=["relpath", "size", "mtime_ns"]).sort_values("relpath", ignore_index=True)


def crawl(root: str | Path, cache: str | Path | None = None, workers: int = 1,
          chunk: int = 500) -> tuple[pd.DataFrame, int]:
    """(files, n_not_dicom): one row per DICOM file under ``root`` (:data:`FILE_COLUMNS`,
    sorted by relpath) and how many files were skipped as not DICOM.

    ``cache`` (a parquet file, private) holds the rows of an earlier crawl: files whose path,
    size and mtime are unchanged are not read again; the cache is rewritten. ``workers``
    processes read the headers of the others, ``chunk`` files per task.
    """
    root = str(Path(root).resolve())
    listing = list_files(root)
    old = pd.DataFrame(columns=[*FILE_COLUMNS, "dicom"])
    if cache and Path(cache).is_file():
        old = pd.read_parquet(cache)
        if old.attrs.get("root") != root or list(old.columns) != [*FILE_COLUMNS, "dicom"]:
            old = pd.DataFrame(columns=[*FILE_COLUMNS, "dicom"])  # another export, or an older cache format
    known = listing.merge(old, on=["relpath", "size", "mtime_ns"], how="left", indicator=True)
    todo = known.loc[known["_merge"] == "left_only", "relpath"].tolist()
    chunks = [(root, todo[i:i + chunk]) for i in range(0, len(todo), chunk)]
    fresh: list = []
    if workers > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            for part in ex.map(_read_chunk, chunks):
                fresh += part
    else:
        for c in chunks:
            fresh += _read_chunk(c)
    stat = {r: (s, m) for r, s, m in zip(listing["relpath"], listing["size"], listing["mtime_ns"])}
    rows = [dict(r, dicom=True) if isinstance(r, dict) else {"relpath": r[0], "dicom": False} for r in fresh]
    for r in rows:  # the listing's size and time: what the next crawl compares with
        r["size"], r["mtime_ns"] = stat[r["relpath"]]
    new = pd.DataFrame(rows, columns=[*FILE_COLUMNS, "dicom"]).astype({"size": "int64", "mtime_ns": "int64"})
    kept = known.loc[known["_merge"] == "both", [*FILE_COLUMNS, "dicom"]]
    parts = [x for x in (kept, new) if len(x)]
    allrows = pd.concat(parts, ignore_index=True) if len(parts) > 1 else (parts[0] if parts else new)
    allrows = allrows.astype({"dicom": bool}).sort_values("relpath", ignore_index=True)
    text = [c for c in FILE_COLUMNS if c not in ("size", "mtime_ns", "position", "slice_thickness", "rows", "columns",
                                                  "frames")]
    allrows[text] = allrows[text].fillna("").astype(str)
    if cache and (todo or len(kept) != len(old)):  # rewritten only when the tree changed (SLURM jobs re-plan)
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        out = allrows.copy()
        out.attrs["root"] = root
        tmp = Path(f"{cache}.{os.getpid()}.tmp")
        out.to_parquet(tmp, index=False)
        os.replace(tmp, cache)
    dicom = allrows[allrows["dicom"]].drop(columns="dicom").reset_index(drop=True)
    dicom = dicom.astype({"size": "int64", "mtime_ns": "int64", "rows": "int64", "columns": "int64",
                          "frames": "int64", "position": "float64", "slice_thickness": "float64"})
    return dicom, int((~allrows["dicom"]).sum())


def _spacing(positions: np.ndarray) -> float:
    """Median distance (mm) between consecutive slice positions (NaN for < 2 slices)."""
    p = np.sort(positions[np.isfinite(positions)])
    return float(np.median(np.diff(p))) if len(p) > 1 else float("nan")


def series_table(files: pd.DataFrame) -> pd.DataFrame:
    """One row per series (private: hospital id, UIDs, file paths).

    Columns: hospital_id, study_uid, series_uid, modality, frame_of_reference,
    series_description, study_date, date, time, n_files, n_folders, rows, columns, frames,
    pixel_spacing, slice_spacing (mm, from positions), slice_thickness (mm), units,
    decay_correction, transfer_syntax, referenced_series, roi_names, problems (a series
    whose files disagree on patient, modality or orientation, or repeat a slice), files
    (relpaths, image series sorted along the slice normal).
    """
    rows = []
    series_of_sop = dict(zip(files["sop_uid"], files["series_uid"]))
    for uid, g in files.groupby("series_uid", sort=True):
        g = g.sort_values(["position", "relpath"], na_position="last")
        problems = []
        for col, what in (("hospital_id", "patient ids"), ("modality", "modalities"), ("orientation", "orientations"),
                          ("pixel_spacing", "pixel spacings")):
            vals = sorted(set(g[col].astype(str)))
            if len(vals) > 1:
                problems.append(f"{len(vals)} {what} in one series")
        pos = g["position"].to_numpy(float)
        if np.isfinite(pos).sum() > 1 and len(np.unique(np.round(pos[np.isfinite(pos)], 3))) < np.isfinite(pos).sum():
            problems.append("repeated slice positions (two acquisitions under one series UID?)")
        first = g.iloc[0]
        rows.append({
            "hospital_id": first["hospital_id"], "study_uid": first["study_uid"], "series_uid": uid,
            "modality": first["modality"], "frame_of_reference": first["frame_of_reference"],
            "series_description": first["series_description"], "study_date": first["study_date"],
            "date": first["date"], "time": str(min(g["time"].astype(str))),
            "n_files": len(g), "n_folders": g["relpath"].map(lambda r: os.path.dirname(r)).nunique(),
            "rows": int(first["rows"]), "columns": int(first["columns"]), "frames": int(g["frames"].sum()),
            "pixel_spacing": first["pixel_spacing"], "slice_spacing": _spacing(pos),
            "slice_thickness": float(first["slice_thickness"]), "units": first["units"],
            "decay_correction": first["decay_correction"],
            "transfer_syntax": "|".join(sorted(set(g["transfer_syntax"].astype(str)))),
            "referenced_series": _referenced_series(g, series_of_sop),
            "roi_names": "|".join(dict.fromkeys(x for v in g["roi_names"] for x in str(v).split("|") if x)),
            "problems": "; ".join(problems), "files": tuple(g["relpath"]),
        })
    return pd.DataFrame(rows)


def _referenced_series(g: pd.DataFrame, series_of_sop: dict[str, str]) -> str:
    """Series UIDs a mask series refers to: those it names, else the series of the image
    instances its contours name (those absent from the export are dropped)."""
    named = [x for v in g["referenced_series"] for x in str(v).split("|") if x]
    if not named:
        named = [series_of_sop[x] for v in g["referenced_sops"] for x in str(v).split("|") if x in series_of_sop]
    return "|".join(dict.fromkeys(named))


def short_uid(uid: str) -> str:
    """A stable pseudonymous handle of a DICOM UID (10 hex digits of its SHA-256): the public
    tables can show which mask refers to which series without printing the UIDs."""
    return hashlib.sha256(uid.encode()).hexdigest()[:10] if uid else ""


def scrub(text: str, hospital_id: str, pseudonym: str) -> str:
    """``text`` with the hospital id replaced by the pseudonym (series descriptions and ROI
    names of exports often embed it)."""
    return str(text).replace(hospital_id, pseudonym) if hospital_id else str(text)


def _syntax_name(uid: str) -> str:
    """"RLE lossless", "JPEG 2000" ... for a compressed transfer syntax, "uncompressed" for the
    other standard ones, the UID itself otherwise."""
    if uid in COMPRESSED:
        return COMPRESSED[uid][0]
    return "uncompressed" if uid.startswith("1.2.840.10008.1.2") else uid


def _days(date: str, first: str) -> float:
    try:
        return float((pd.Timestamp(date) - pd.Timestamp(first)).days)
    except (ValueError, TypeError):
        return float("nan")


def public_index(series: pd.DataFrame, key: dict[str, str]) -> pd.DataFrame:
    """The pseudonymous series index written to the results: ``patient`` (pseudonym from
    ``key``: hospital id -> study id), ``study`` (1, 2 ... by date within the patient),
    hashed ``series`` / ``frame_of_reference`` / ``referenced_series``, ``day`` (days since
    the patient's first study) and ``time`` of acquisition, and the header facts. Series of
    hospital ids absent from ``key`` are left out (the caller reports them)."""
    cols = ["patient", "study", "series", "modality", "series_description", "day", "time", "n_files", "n_folders",
            "rows", "columns", "pixel_spacing", "slice_spacing", "slice_thickness", "units", "decay_correction",
            "transfer_syntax", "frame_of_reference", "referenced_series", "roi_names", "problems"]
    s = series[series["hospital_id"].isin(list(key))].copy()
    if s.empty:
        return pd.DataFrame(columns=cols)
    s["patient"] = s["hospital_id"].map(key)
    first = s.groupby("hospital_id")["study_date"].transform(lambda v: min((x for x in v if x), default=""))
    s["day"] = [_days(d or sd, f) for d, sd, f in zip(s["date"], s["study_date"], first)]
    order = s.groupby(["hospital_id", "study_uid"])["study_date"].first().reset_index()
    order["study"] = order.sort_values(["study_date", "study_uid"]).groupby("hospital_id").cumcount() + 1
    s = s.merge(order[["hospital_id", "study_uid", "study"]], on=["hospital_id", "study_uid"], how="left")
    s["series"] = s["series_uid"].map(short_uid)
    s["frame_of_reference"] = s["frame_of_reference"].map(short_uid)
    s["referenced_series"] = s["referenced_series"].map(lambda v: "|".join(short_uid(u) for u in str(v).split("|")
                                                                           if u))
    for c in ("series_description", "roi_names", "problems"):
        s[c] = [scrub(t, h, p) for t, h, p in zip(s[c], s["hospital_id"], s["patient"])]
    s["transfer_syntax"] = s["transfer_syntax"].map(lambda v: "|".join(_syntax_name(t) for t in str(v).split("|") if t))
    s["time"] = s["time"].map(lambda t: f"{t[:2]}:{t[2:4]}:{t[4:6]}" if len(str(t)) >= 6 else str(t))
    return s.sort_values(["patient", "study", "modality", "series"])[cols].reset_index(drop=True)


def index_tree(root: str | Path, cache: str | Path | None = None, workers: int = 1) -> tuple[pd.DataFrame, int]:
    """(series table, n files that are not DICOM) of the tree under ``root``."""
    files, n_not = crawl(root, cache, workers)
    return series_table(files), n_not


def main(argv: Iterable[str] | None = None) -> None:
    """``python -m dlscore.dicom_index ROOT OUT.csv --key KEY.csv [--workers N] [--cache C]``:
    index a DICOM tree on its own and write the pseudonymous series index (patients absent
    from the key file are counted, not written)."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m dlscore.dicom_index", description=main.__doc__)
    ap.add_argument("root")
    ap.add_argument("out")
    ap.add_argument("--key", required=True, help="CSV hospital_id,patient_id (kept outside the results)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cache", default=None, help="private parquet cache of the headers (re-indexing reads only "
                                                   "new or changed files)")
    a = ap.parse_args(list(argv) if argv is not None else None)
    from dlscore.cohorts.dicom_export import read_key
    series, n_not = index_tree(a.root, a.cache, a.workers)
    key = read_key(a.key)
    pub = public_index(series, key)
    pub.to_csv(a.out, index=False, lineterminator="\n")
    unknown = series.loc[~series["hospital_id"].isin(list(key)), "hospital_id"].nunique()
    print(f"{len(series)} series of {series['hospital_id'].nunique()} patients indexed ({n_not} files not DICOM); "
          f"{len(pub)} series written to {a.out}" + (f"; {unknown} patients not in the key file left out" if unknown
                                                      else ""))


if __name__ == "__main__":
    main()
