"""Index a 1,000-patient DICOM export (headers only, no pixel data) with dlscore.dicom_index.

    .venv/bin/python benchmarks/dicom_index.py [--patients 1000] [--slices 40] [--out benchmarks/out/dicom_tree]

The tree: per patient one folder named by the hospital id holding a CT series and a PET
series of ``--slices`` files each in one folder (several series per folder, no extensions)
and an RTSTRUCT that references the CT. Timed in the same run: a cold index with 1 and with
2 worker processes (the baseline is 1 worker), and a warm re-index from the header cache
after 1 % of the patients were added. Generation is not timed. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dlscore.dicom_index import crawl, series_table  # noqa: E402


def _dataset(modality: str, pid: str, study: str, series: str, frame: str, z: int):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.PatientID, ds.PatientName, ds.Modality = pid, f"Name^{pid}", modality
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
    ds.StudyDate = ds.SeriesDate = "20250101"
    ds.SeriesTime = "101500"
    ds.SeriesDescription = f"{modality} body"
    ds.ImagePositionPatient = ["0", "0", f"{3.0 * z:.1f}"]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.PixelSpacing, ds.SliceThickness, ds.Rows, ds.Columns = ["1", "1"], "3", 512, 512
    if modality == "PT":
        ds.Units, ds.DecayCorrection = "BQML", "START"
    return ds


def make_tree(root: Path, patients: int, slices: int, start: int = 0) -> int:
    """Write the headers-only export; returns the number of files written."""
    from pydicom.dataset import Dataset
    from pydicom.uid import generate_uid
    n = 0
    for i in range(start, start + patients):
        pid = f"HOSP{i:06d}"
        d = root / pid / "DICOM"
        d.mkdir(parents=True, exist_ok=True)
        study, frame = generate_uid(), generate_uid()
        ct_uid = generate_uid()
        for modality, series in (("CT", ct_uid), ("PT", generate_uid())):
            for z in range(slices):
                _dataset(modality, pid, study, series, frame, z).save_as(d / f"{modality}{z:04d}",
                                                                         enforce_file_format=True)
                n += 1
        rs = _dataset("RTSTRUCT", pid, study, generate_uid(), frame, 0)
        roi, fr, st, se = Dataset(), Dataset(), Dataset(), Dataset()
        roi.ROINumber, roi.ROIName = 1, "GTV"
        rs.StructureSetROISequence = [roi]
        se.SeriesInstanceUID = ct_uid
        st.RTReferencedSeriesSequence = [se]
        fr.FrameOfReferenceUID, fr.RTReferencedStudySequence = frame, [st]
        rs.ReferencedFrameOfReferenceSequence = [fr]
        rs.save_as(d / "RS", enforce_file_format=True)
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--slices", type=int, default=40)
    ap.add_argument("--out", default="benchmarks/out/dicom_tree")
    a = ap.parse_args()
    root = Path(a.out)
    if root.exists():
        shutil.rmtree(root)
    t = time.perf_counter()
    n = make_tree(root, a.patients, a.slices)
    print(f"generated {n} files of {a.patients} patients in {time.perf_counter() - t:.0f} s (not timed below)")
    rows = []
    for workers in (1, 2):
        cache = root.parent / f"cache_{workers}.parquet"
        cache.unlink(missing_ok=True)
        t = time.perf_counter()
        files, _ = crawl(root, cache, workers)
        s = series_table(files)
        rows.append((f"cold, {workers} worker{'s' if workers > 1 else ''}", time.perf_counter() - t, len(files), len(s)))
    extra = max(1, a.patients // 100)
    make_tree(root, extra, a.slices, start=a.patients)
    t = time.perf_counter()
    files, _ = crawl(root, root.parent / "cache_2.parquet", 2)
    s = series_table(files)
    rows.append((f"warm (cache), 2 workers, +{extra} patients", time.perf_counter() - t, len(files), len(s)))
    base = rows[0][1]
    print("| index | seconds | files | series | files / s | 1-worker cold / this |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, sec, nf, ns in rows:
        print(f"| {name} | {sec:.1f} | {nf:,} | {ns:,} | {nf / sec:,.0f} | {base / sec:.1f}× |")


if __name__ == "__main__":
    main()
