"""The imaging steps (workflow/rules/preprocess.smk): co-gridding, slices, QC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from dlscore.steps.manifest import patient_files
from dlscore.tables import write_table


def imaging(config: Mapping[str, Any], manifest: str, patient: str, predir: str, slicedir: str) -> None:
    """Preprocess one patient and cut the slices of every rater's mask (one job)."""
    from dlscore.slices import SliceSet
    preprocess(config, manifest, patient, predir)
    qc_path = Path(predir) / "qc.json"
    qc = json.loads(qc_path.read_text())
    for mask in sorted(Path(predir).glob("mask_*.nii.gz")):
        rater = mask.name[len("mask_"):-len(".nii.gz")]
        out = Path(slicedir) / f"{rater}.npz"
        slices(config, predir, rater, str(out))
        qc[f"kept_slices_{rater}"] = int(len(SliceSet.load(out).z_index))
    qc_path.write_text(json.dumps(qc, indent=1))


def imaging_chunk(config, manifest: str, patients: Sequence[str], predirs: Sequence[str], slicedirs: Sequence[str],
                  logs: Sequence[str], results: str) -> None:
    """:func:`imaging` for every patient of a chunk job (``compute.patients_per_job``), each
    with its own outputs and log; a patient a killed attempt finished is restored, not
    recomputed (:func:`dlscore.chunks.run_chunk`). ``config``: the step's
    :class:`~dlscore.settings.Settings` (its ``config_hash`` keys the restored outputs)."""
    from dlscore.chunks import PatientWork, run_chunk
    works = [PatientWork(p, tuple(patient_files(manifest, p).values()), (pre, sl), log)
             for p, pre, sl, log in zip(patients, predirs, slicedirs, logs, strict=True)]
    run_chunk("preprocess", works, lambda w: imaging(config, manifest, w.patient, *w.outputs), config.config_hash,
              results)


def _suv_note(path: str, suv: bool) -> str:
    """How the PET values became SUV, for the QC table (no identifier, no date)."""
    if not suv:
        return ""
    if not Path(path).is_dir():
        return "file: values taken as SUV"
    from dlscore.dicom import find_series, series_suv
    info = series_suv(find_series(path))
    if info.units == "GML":
        return "DICOM GML: already SUV"
    delay = f", {info.delay_s / 60:.0f} min after injection" if info.delay_s is not None else ""
    return f"DICOM BQML x weight / dose (decay {info.decay_correction}{delay})"


def _check_fov(images, reference: str, mask: np.ndarray, checks: Mapping[str, Any], patient: str, row) -> str:
    """Per modality, the percentage of the tumour outside its field of view ("pet 0.0 %,
    mr 0.0 %"); above ``limit`` (checks.max_tumour_outside_fov) an error: the fill value
    would enter the hyper-images and the radiomics as if it were tissue."""
    from dlscore.errors import InputError
    from dlscore.preprocess import outside_fov
    frac, limit = outside_fov(images, reference, mask), float(checks["max_tumour_outside_fov"])
    for m, f in frac.items():
        if f > limit:
            raise InputError(f"{f:.1%} of the tumour lies outside the {m} field of view (limit "
                             f"checks.max_tumour_outside_fov = {limit:.1%})", f"give a {m} series that covers the whole "
                             f"tumour, or list {m} in imaging.optional_modalities and leave it empty for this patient",
                             patient, row[f"image_{m}"])
    return ", ".join(f"{m} {f:.1%}" for m, f in frac.items())


def preprocess(config: Mapping[str, Any], manifest: str, patient: str, outdir: str) -> None:
    """Co-grid one patient's modalities and masks onto the reference grid (physical units),
    in the canonical LPS orientation (axial slices whatever the acquisition or file convention)."""
    import SimpleITK as sitk

    from dlscore.dicom import EXPECTED_MODALITY, read_mask
    from dlscore.errors import InputError
    from dlscore.io import read_image, write_image
    from dlscore.plausibility import DEFAULT_CHECKS
    from dlscore.preprocess import canonical, check_mask, check_volume, check_voxels, cogrid
    img_cfg = config["imaging"]
    suv_mod = img_cfg.get("suv_modality")
    row = patient_files(manifest, patient)
    checks = {**DEFAULT_CHECKS, **(config.get("checks") or {})}
    images = {m: read_image(row[f"image_{m}"], patient, f"image_{m}", EXPECTED_MODALITY.get(m), suv=m == suv_mod)
              for m in img_cfg["modalities"] if isinstance(row.get(f"image_{m}"), str) and row[f"image_{m}"]}
    for m, img in images.items():  # a PET file must already hold SUV; DICOM PET is converted from its tags
        file_suv = m == suv_mod and not Path(row[f"image_{m}"]).is_dir()
        check_voxels(img, patient, f"image_{m}", row[f"image_{m}"], checks["max_suv"] if file_suv else None)
    if img_cfg["reference"] not in images:
        raise InputError(f"the reference modality {img_cfg['reference']} is missing",
                         "every patient needs the reference image (config imaging.reference)", patient,
                         f"image_{img_cfg['reference']}")
    grid = cogrid(images, img_cfg["reference"])
    raw_ref = grid[img_cfg["reference"]]
    masks, fov = {}, ""
    for r in img_cfg["raters"]:
        path = row.get(f"mask_{r}")
        if not isinstance(path, str) or not path:
            continue
        arr = read_mask(path, raw_ref, img_cfg.get("roi_names") or (), patient, f"mask_{r}")
        if arr is None:
            arr = check_mask(read_image(path, patient, f"mask_{r}"), raw_ref, patient, path,
                             float(img_cfg["geometry_tolerance_mm"]))
        m_img = sitk.GetImageFromArray(arr.astype(np.uint8))
        m_img.CopyInformation(raw_ref)
        masks[r] = canonical(m_img)
        fov = _check_fov(images, img_cfg["reference"], arr.astype(bool), checks, patient, row) if r == "r1" else fov
    grid = {m: canonical(img) for m, img in grid.items()}
    ref = grid[img_cfg["reference"]]
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    qc: dict[str, Any] = {"patient_id": patient, "spacing_mm": list(ref.GetSpacing()),
                          "size": list(ref.GetSize()), "modalities": "+".join(grid)}
    if suv_mod in images:
        qc["suv_conversion"] = _suv_note(row[f"image_{suv_mod}"], True)
    qc["tumour_outside_fov"] = fov
    for r, m_img in masks.items():
        write_image(m_img, out / f"mask_{r}.nii.gz")
        if r == "r1":
            mask = sitk.GetArrayViewFromImage(m_img).astype(bool)
            qc["tumour_volume_ml"] = check_volume(mask, ref.GetSpacing(), patient, row["mask_r1"],
                                                  float(checks["max_tumour_volume_ml"]))
            qc["tumour_slices"] = int(mask.any(axis=(1, 2)).sum())
            if suv_mod in grid:
                qc["suv_max"] = float(sitk.GetArrayViewFromImage(grid[suv_mod])[mask].max())
    for m, img in grid.items():
        write_image(img, out / f"{m}.nii.gz")
    (out / "qc.json").write_text(json.dumps(qc, indent=1))


def _load_normalised(config: Mapping[str, Any], predir: str, rater: str):
    import SimpleITK as sitk

    from dlscore.preprocess import normalise, zscore_region
    img_cfg = config["imaging"]
    mask_img = sitk.ReadImage(str(Path(predir) / f"mask_{rater}.nii.gz"))
    mask = sitk.GetArrayFromImage(mask_img).astype(bool)
    vols, present = {}, []
    for m in img_cfg["modalities"]:
        f = Path(predir) / f"{m}.nii.gz"
        if not f.exists():  # an optional modality this patient lacks: all-zero channel
            vols[m] = np.zeros(mask.shape, np.float32)
            continue
        arr = sitk.GetArrayFromImage(sitk.ReadImage(str(f)))
        spec = dict(img_cfg["normalise"][m])
        method = spec.pop("method")
        region = zscore_region(arr, spec.pop("region", "above_minimum"),
                               mask if spec.pop("exclude_tumour", False) else None) if method == "zscore" else None
        vols[m] = normalise(arr, method, mask=region, **spec)
        present.append(m)
    return vols, mask, mask_img, present


def slices(config: Mapping[str, Any], predir: str, rater: str, out_npz: str) -> None:
    from dlscore.slices import DERIVED_CHANNELS, extract_slices
    sc = config["slices"]
    vols, mask, mask_img, present = _load_normalised(config, predir, rater)
    fusion = sc.get("fusion") or {}
    ss = extract_slices(vols, mask, mask_img.GetSpacing(), sc["channels"], int(sc["size"]), float(sc["margin_mm"]),
                        float(sc["min_area_fraction"]), int(sc["interpolation_order"]),
                        tuple(fusion.get("of", ("pet", "ct"))), float(fusion.get("alpha", 1.0)),
                        mask_img.GetOrigin(), mask_img.GetDirection(), float(sc["distance_scale_mm"]))
    ss.meta["present"] = [c for c in sc["channels"] if c in present or c in DERIVED_CHANNELS]
    Path(out_npz).parent.mkdir(parents=True, exist_ok=True)
    ss.save(out_npz)


def _montage_job(args) -> None:
    qc_montage(*args)


def qc_montages(config: Mapping[str, Any], patients: Sequence[str], predirs: Sequence[str],
                slicedirs: Sequence[str], outdir: str, workers: int = 1) -> None:
    """QC montages of all patients, ``outdir/<patient>.png``, in ``workers`` processes (one
    matplotlib start-up per process instead of one per patient)."""
    Path(outdir).mkdir(parents=True, exist_ok=True)
    jobs = [(config, pre, str(Path(sl) / "r1.npz"), pid, str(Path(outdir) / f"{pid}.png"))
            for pid, pre, sl in zip(patients, predirs, slicedirs)]
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_montage_job, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
    else:
        for j in jobs:
            _montage_job(j)


def qc_montage(config: Mapping[str, Any], predir: str, slice_npz: str, patient: str, out_png: str) -> None:
    """QC montage of one patient: kept slices (rows, at most ``qc.montage_rows``) of every
    modality with the tumour outline and the dilated ROI square, and the hyper-image."""
    from dlscore.plots.montage import montage
    from dlscore.slices import SliceSet, keep_large, tumour_squares
    vols, mask, mask_img, present = _load_normalised(config, predir, "r1")
    ss = SliceSet.load(slice_npz)
    sc = config["slices"]
    squares = keep_large(tumour_squares(mask, mask_img.GetSpacing(), float(sc["margin_mm"])),
                         float(sc["min_area_fraction"]))
    montage({m: vols[m] for m in present}, mask, ss, squares, mask_img.GetSpacing(), patient, out_png,
            int(config.get("qc", {}).get("montage_rows", 4)))


def qc_table(config: Mapping[str, Any], qc_files: Sequence[str], validated: str, out: str,
             figure_out: str | None = None) -> None:
    """The per-patient QC table, with an ``outlier`` column naming the measures far from the
    patient's cohort (:func:`dlscore.qc_overview.outliers`), and the cohort overview figure."""
    from dlscore.qc_overview import outliers, qc_measures
    qc = pd.DataFrame([json.loads(Path(f).read_text()) for f in qc_files])
    man = pd.read_parquet(validated)[["patient_id", "cohort", "split"]]
    qc = man.merge(qc, on="patient_id")
    qc["spacing_mm"] = qc["spacing_mm"].map(lambda v: "x".join(f"{x:.3g}" for x in v))
    qc["size"] = qc["size"].map(lambda v: "x".join(str(x) for x in v))
    measures = qc_measures(qc)
    qc["outlier"] = outliers(measures)
    write_table(qc, out, config)
    if figure_out:
        from dlscore.plots.qc import plot_qc_overview
        plot_qc_overview(measures, figure_out, f"Imaging QC by cohort ({len(qc)} patients)")
