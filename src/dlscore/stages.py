"""One function per workflow step, from input files to output files.

Each Snakemake script calls exactly one of these; they hold no statistics or imaging logic
of their own, only the reading/writing around the pure functions of the other modules.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from dlscore.config import config_hash, package_versions
from dlscore.tables import write_table

# ----------------------------------------------------------------------------- inputs


def make_phantom(config: Mapping[str, Any], manifest_out: str, workers: int = 1) -> None:
    from dlscore.phantom import generate_cohort
    out = Path(manifest_out).parent
    df = generate_cohort(config["phantom"], int(config["phantom"]["seed"]), out, workers)
    df.to_csv(manifest_out, index=False, lineterminator="\n")


def make_lgg_manifest(config: Mapping[str, Any], manifest_out: str) -> None:
    from dlscore.lgg import build_manifest
    lg = config["lgg"]
    df = build_manifest(lg["data_dir"], lg["external_sites"], lg.get("label", "idh_mutant"), lg.get("patients"))
    Path(manifest_out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(manifest_out, index=False, lineterminator="\n")


def make_ici_manifest(config: Mapping[str, Any], manifest_out: str, report_out: str) -> None:
    from dlscore.ici import build_manifest
    man, report = build_manifest(config["ici"])
    Path(manifest_out).parent.mkdir(parents=True, exist_ok=True)
    man.to_csv(manifest_out, index=False, lineterminator="\n")
    write_table(report, report_out, config)


def make_nsclc_rg_manifest(config: Mapping[str, Any], manifest_out: str, report_out: str) -> None:
    from dlscore.nsclc_rg import build_manifest
    nc = config["nsclc_rg"]
    man, report = build_manifest(nc["labels"], nc.get("cohorts", ["R01"]))
    Path(manifest_out).parent.mkdir(parents=True, exist_ok=True)
    man.to_csv(manifest_out, index=False, lineterminator="\n")
    write_table(report, report_out, config)


def validate(config: Mapping[str, Any], manifest: str, out_parquet: str) -> None:
    """Check the manifest (every problem at once) and write it without input paths: the
    imaging jobs read the paths from the manifest (:func:`patient_files`), the table keeps
    only which inputs a patient has (``has_image_<m>``, ``has_mask_<r>``)."""
    from dlscore.clinical import check_covariates
    from dlscore.manifest import read_manifest, validate_manifest
    from dlscore.study import scores_mode
    df = read_manifest(manifest)
    imaging = not scores_mode(config)
    df = validate_manifest(df, config["imaging"]["modalities"] if imaging else [],
                           config["imaging"]["raters"] if imaging else [], base_dir=Path(manifest).parent,
                           optional=config["imaging"].get("optional_modalities", []),
                           reference=config["imaging"]["reference"],
                           tol_mm=float(config["imaging"]["geometry_tolerance_mm"]),
                           suv_modality=config["imaging"].get("suv_modality"),
                           roi_names=config["imaging"].get("roi_names") or (), checks=config.get("checks"))
    check_covariates(df, config.get("clinical", {}).get("covariates") or {})
    if not imaging:
        from dlscore.manifest import validate_markers
        validate_markers(df, config["scores_only"].get("markers") or {})
    from dlscore.consistency import cohort_problems
    from dlscore.errors import ManifestError
    problems = cohort_problems(df, config)
    if problems:
        raise ManifestError(problems, "cohorts (compared with the development cohort)")
    if "label" not in df:
        df["label"] = np.nan
    Path(out_parquet).parent.mkdir(parents=True, exist_ok=True)
    paths = [c for c in df if c.startswith(("image_", "mask_"))]
    df = df.assign(**{f"has_{c}": df[c].notna() & (df[c].astype(str).str.strip() != "") for c in paths})
    df.drop(columns=paths).to_parquet(out_parquet, index=False)


def split(config: Mapping[str, Any], checked: str, out_parquet: str, splits_csv: str) -> None:
    """Assign the training/validation split (stratified, seeded: ``seed``, ``split``) to the
    checked manifest; a step of its own so that a new seed redoes the split, not the checks
    or the imaging."""
    from dlscore.manifest import assign_splits
    df = assign_splits(pd.read_parquet(checked), float(config["split"]["validation_fraction"]), int(config["seed"]))
    df.to_parquet(out_parquet, index=False)
    write_table(df.groupby(["cohort", "split"], dropna=False).agg(
        n=("patient_id", "size"), n_positive=("label", "sum")).reset_index(), splits_csv, config)


def patient_files(manifest: str, patient: str) -> dict[str, str]:
    """The input files of one patient (``image_<m>``, ``mask_<r>`` -> path), read from the
    manifest and resolved against its folder (never copied into results/)."""
    from dlscore.manifest import read_manifest, resolve_path
    df = read_manifest(manifest)
    row = df.loc[df["patient_id"].astype(str).str.strip() == patient].iloc[0]
    return {c: resolve_path(str(v).strip(), Path(manifest).parent) for c, v in row.items()
            if str(c).startswith(("image_", "mask_")) and isinstance(v, str) and v.strip()}


# ----------------------------------------------------------------------------- imaging


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


def preprocess(config: Mapping[str, Any], manifest: str, patient: str, outdir: str) -> None:
    """Co-grid one patient's modalities and masks onto the reference grid (physical units),
    in the canonical LPS orientation (axial slices whatever the acquisition or file convention)."""
    import SimpleITK as sitk

    from dlscore.dicom import EXPECTED_MODALITY, read_mask
    from dlscore.errors import InputError
    from dlscore.io import read_image, write_image
    from dlscore.manifest import DEFAULT_CHECKS
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
    masks = {}
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
    grid = {m: canonical(img) for m, img in grid.items()}
    ref = grid[img_cfg["reference"]]
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    qc: dict[str, Any] = {"patient_id": patient, "spacing_mm": list(ref.GetSpacing()),
                          "size": list(ref.GetSize()), "modalities": "+".join(grid)}
    if suv_mod in images:
        qc["suv_conversion"] = _suv_note(row[f"image_{suv_mod}"], True)
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

    from dlscore.preprocess import normalise
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
        vols[m] = normalise(arr, spec.pop("method"), mask=arr > arr.min(), **spec)
        present.append(m)
    return vols, mask, mask_img, present


def slices(config: Mapping[str, Any], predir: str, rater: str, out_npz: str) -> None:
    from dlscore.slices import extract_slices
    sc = config["slices"]
    vols, mask, mask_img, present = _load_normalised(config, predir, rater)
    fusion = sc.get("fusion") or {}
    ss = extract_slices(vols, mask, mask_img.GetSpacing(), sc["channels"], int(sc["size"]), float(sc["margin_mm"]),
                        float(sc["min_area_fraction"]), int(sc["interpolation_order"]),
                        tuple(fusion.get("of", ("pet", "ct"))), float(fusion.get("alpha", 1.0)),
                        mask_img.GetOrigin(), mask_img.GetDirection())
    ss.meta["present"] = [c for c in sc["channels"] if c in present or c == "fusion"]
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


def radiomics(config: Mapping[str, Any], predir: str, patient: str, raters: Sequence[str], out: str) -> None:
    import SimpleITK as sitk

    from dlscore.radiomics import extract_features
    rc = config["radiomics"]
    mods = [m for m in rc["modalities"] if (Path(predir) / f"{m}.nii.gz").exists()]  # missing -> NaN
    images = {m: sitk.ReadImage(str(Path(predir) / f"{m}.nii.gz")) for m in mods}
    import hashlib
    from importlib.metadata import version
    provenance = {"computed": "3D, reference grid", "params_file": Path(rc["params"]).name,
                  "params_sha256": hashlib.sha256(Path(rc["params"]).read_bytes()).hexdigest()[:12],
                  "pyradiomics": version("pyradiomics-bhklab")}
    rows = []
    for r in raters:
        mask = sitk.ReadImage(str(Path(predir) / f"mask_{r}.nii.gz"))
        feats = extract_features(images, mask, rc["params"], mods, rc.get("bin_width"))
        rows.append({"patient_id": patient, "rater": r, **provenance, **feats})
    pd.DataFrame(rows).to_parquet(out, index=False)


def gather(parts: Sequence[str], out: str) -> None:
    """Concatenate per-patient parquet tables."""
    pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True).to_parquet(out, index=False)


def qc_table(config: Mapping[str, Any], qc_files: Sequence[str], validated: str, out: str) -> None:
    qc = pd.DataFrame([json.loads(Path(f).read_text()) for f in qc_files])
    man = pd.read_parquet(validated)[["patient_id", "cohort", "split"]]
    qc = man.merge(qc, on="patient_id")
    qc["spacing_mm"] = qc["spacing_mm"].map(lambda v: "x".join(f"{x:.3g}" for x in v))
    qc["size"] = qc["size"].map(lambda v: "x".join(str(x) for x in v))
    write_table(qc, out, config)


# ----------------------------------------------------------------------------- model


def _slice_data(validated: str, slice_files: Mapping[str, str], split: str):
    from dlscore.slices import SliceSet
    from dlscore.train import SliceData
    man = pd.read_parquet(validated).set_index("patient_id")
    xs, ys, ps = [], [], []
    for pid in man.index[man["split"] == split]:
        ss = SliceSet.load(slice_files[pid])
        xs.append(ss.images)
        ys.append(np.full(len(ss.images), int(man.at[pid, "label"])))
        ps.append(np.full(len(ss.images), pid, dtype=object))
    return SliceData(np.concatenate(xs), np.concatenate(ys), np.concatenate(ps))


def channel_indices(available: Sequence[str], wanted: Sequence[str]) -> list[int]:
    missing = [c for c in wanted if c not in available]
    if missing:
        raise ValueError(f"model channels {missing} are not in the slice images {list(available)}")
    return [list(available).index(c) for c in wanted]


def train(config: Mapping[str, Any], model_name: str, validated: str, slice_files: Mapping[str, str],
          weights: str, history_csv: str, card: str, threads: int = 1) -> None:
    import torch

    from dlscore.train import SliceData, pick_device, train_model, write_tensorboard
    spec = dict(config["models"][model_name])
    tr = _slice_data(validated, slice_files, "training")
    va = _slice_data(validated, slice_files, "validation")
    idx = channel_indices(config["slices"]["channels"], spec["channels"])
    tr = SliceData(np.ascontiguousarray(tr.x[:, idx]), tr.y, tr.patient)
    va = SliceData(np.ascontiguousarray(va.x[:, idx]), va.y, va.patient)
    ckpt = Path(weights).with_name("checkpoint.pt")
    digest = hashlib.sha256(json.dumps({"spec": spec, "seed": int(config["seed"]),
                                        "slice_channels": list(config["slices"]["channels"])},
                                       sort_keys=True, default=str).encode())
    for arr in (tr.x, tr.y, va.x, va.y):
        digest.update(np.ascontiguousarray(arr).tobytes())
    # an ensemble (spec "ensemble": k > 1) trains k members with seeds seed, seed + 7919, ...;
    # each has its own checkpoint, so a kill resumes the member it interrupted
    k = int(spec.get("ensemble", 1))
    seeds = [int(config["seed"]) + 7919 * m for m in range(k)]
    states, hists = [], []
    for m in range(k):
        state, h = train_model(tr, va, spec, seeds[m],
                               ckpt if m == 0 else ckpt.with_name(f"checkpoint_member{m + 1}.pt"),
                               config.get("device", "auto"), threads, progress=False,
                               fingerprint=digest.hexdigest() + (f":member{m + 1}" if m else ""))
        states.append(state)
        hists.append(h.assign(member=m + 1) if k > 1 else h)
    hist = pd.concat(hists, ignore_index=True)
    saved = {"state_dict": states[0], "spec": spec, "channels": spec["channels"],
             "slice_channels": list(config["slices"]["channels"])}
    if k > 1:
        saved["member_state_dicts"] = states
    torch.save(saved, weights)
    write_table(hist, history_csv, config)
    write_tensorboard(hist, Path(weights).with_name("tensorboard"))
    best = hist.loc[hist["val_loss"].idxmin()]
    model_card = {
        "model": model_name, "architecture": spec.get("arch", "sres"), "input_channels": spec["channels"],
        "data": {"training": {"patients": int(len(set(tr.patient))), "slices": int(len(tr.y)),
                              "positive_slices": int(tr.y.sum())},
                 "validation": {"patients": int(len(set(va.patient))), "slices": int(len(va.y)),
                                "positive_slices": int(va.y.sum())}},
        "hyperparameters": spec, "seed": int(config["seed"]),
        "ensemble": {"members": k, "seeds": seeds,
                     "combination": "mean of the members' slice probabilities"} if k > 1 else None,
        "selection": "weights of the epoch with the lowest validation loss (early stopping)"
                     + (", per member" if k > 1 else ""),
        "best_epoch": int(best["epoch"]), "best_val_loss": float(best["val_loss"]),
        "best_val_patient_auc": float(best["val_patient_auc"]),
        "device": str(pick_device(config.get("device", "auto"))),
        "config_hash": config_hash(config), "package_versions": package_versions(),
    }
    Path(card).write_text(json.dumps(model_card, indent=1))


def _trained_model(config: Mapping[str, Any], weights: str, dev) -> tuple[Any, list[int], list[str]]:
    """The network in ``weights`` (one model or an ensemble) on ``dev``, the indices of its
    input channels in this study's slices, and their names. Frozen weights from another
    study may have been trained on a subset or another order of ``slices.channels``."""
    import torch

    from dlscore.models import load_trained
    from dlscore.models import read_weights
    ck = read_weights(weights, dev)
    try:
        idx = channel_indices(config["slices"]["channels"], ck["channels"])
    except ValueError as err:
        raise ValueError(f"{weights}: {err}. Fix: set slices.channels to include {ck['channels']} "
                         "or use weights trained on this study's channels") from None
    return load_trained(ck, len(idx)).to(dev), idx, list(ck["channels"])


def score(config: Mapping[str, Any], weights: str, slice_files: Mapping[tuple[str, str], str],
          scores_out: str, features_out: str, attention_out: str, threads: int = 1) -> None:
    from dlscore.score import score_patients
    from dlscore.slices import SliceSet
    from dlscore.train import pick_device, set_determinism
    set_determinism(int(config["seed"]), threads)
    dev = pick_device(config.get("device", "auto"))
    model, idx, channels = _trained_model(config, weights, dev)
    sets = {}
    for key, f in slice_files.items():
        ss = SliceSet.load(f)
        ss.images = np.ascontiguousarray(ss.images[:, idx])
        sets[key] = ss
    scores, feats, attn = score_patients(model, sets, dev, channels)
    scores.to_parquet(scores_out, index=False)
    write_table(attn, attention_out, config)
    feats.to_parquet(features_out, index=False)


def explain(config: Mapping[str, Any], model_name: str, weights: str, validated: str, scores: str,
            features: str, slice_files: Mapping[str, str], gradcam_out: str, clustermap_out: str,
            threads: int = 1) -> None:
    """Grad-CAM overlays of ``explain.gradcam_per_class`` patients per class (rater 1, the
    slice with the largest tumour square) and the clustered heat-map of every patient's deep
    features with ``explain.side_bars`` (label and manifest columns) as side bars."""
    from dlscore.explain import central_slice, gradcam_maps, pick_patients
    from dlscore.plots.gradcam import feature_clustermap, gradcam_figure
    from dlscore.slices import SliceSet
    from dlscore.train import pick_device, set_determinism
    ex = config["explain"]
    set_determinism(int(config["seed"]), threads)
    dev = pick_device(config.get("device", "auto"))
    model, idx, channels = _trained_model(config, weights, dev)
    sc = _scored(validated, scores)
    chosen = pick_patients(sc, int(ex["gradcam_per_class"]), int(config["seed"]))
    imgs, sides, titles = [], [], []
    for _, row in chosen.iterrows():
        ss = SliceSet.load(slice_files[row["patient_id"]])
        k = central_slice(ss.images, ss.tumour_side_mm)
        imgs.append(ss.images[k, idx])
        sides.append(float(ss.side_mm[k]))
        titles.append(f"{row['patient_id']} ({row['split']})\nlabel {int(row['label'])}, DLS {row['dls']:.2f}")
    x = np.stack(imgs).astype(np.float32)
    gradcam_figure(x, gradcam_maps(model, x, dev), channels, titles, gradcam_out, sides)

    feats = pd.read_parquet(features)
    feats = feats[feats["rater"] == "r1"].set_index("patient_id").drop(columns="rater")
    man = pd.read_parquet(validated).set_index("patient_id").loc[feats.index]
    side = pd.DataFrame(index=feats.index)
    side["label"] = man["label"].map(lambda v: "unknown" if pd.isna(v) else str(int(v)))
    for col in ex.get("side_bars", []):
        if col in man and col != "label":
            side[col] = man[col].fillna("unknown").astype(str)
    feature_clustermap(feats, side, clustermap_out,
                       f"{model_name}: deep features of {len(feats)} patients (Ward clustering)")


def import_scores(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], cutoffs_out: str,
                  extra_cutoffs: Sequence[str] = ()) -> None:
    """Scores-only study: each marker's manifest column becomes a score table (as a trained
    model's would be: ``dls`` = the grouping value, ``continuous`` = the score for AUC and
    C-index), and its configured cutoff the cutoff table (with ``extra_cutoffs`` tables,
    e.g. the radiomics signature's, appended)."""
    man = pd.read_parquet(validated)
    cuts = []
    for name, spec in (config["scores_only"].get("markers") or {}).items():
        cont = spec.get("continuous", spec["column"])
        pd.DataFrame({"patient_id": man["patient_id"], "rater": "r1",
                      "dls": pd.to_numeric(man[spec["column"]], errors="coerce"),
                      "continuous": pd.to_numeric(man[cont], errors="coerce") if cont in man else np.nan}
                     ).to_parquet(score_files[name], index=False)
        cuts.append({"model": name, "cutoff": float(spec["cutoff"]),
                     "rule": f"{spec.get('label', name)}: {spec['column']} >= {spec['cutoff']:g} (configured)",
                     "n_training": np.nan})
    extra = [pd.read_csv(f).drop(columns="config_hash", errors="ignore") for f in extra_cutoffs]
    write_table(pd.concat([pd.DataFrame(cuts), *extra], ignore_index=True), cutoffs_out, config)


# ----------------------------------------------------------------------------- radiomics signature


SIGNATURE_TABLES = ("signature_selection", "signature_icc", "signature_redundancy", "signature_lasso_cv",
                    "signature_coefficients", "signature_fusion", "signature_discrimination",
                    "signature_comparisons", "radiomics_dls_correlation")


def _signature_features(config: Mapping[str, Any], features: str) -> pd.DataFrame:
    """The long feature table (patient_id, rater, features): our radiomics parquet, or a
    user's PyRadiomics CSV (``signature.id_column`` / ``id_pattern`` give the patient id)."""
    if str(features).endswith(".parquet"):
        f = pd.read_parquet(features)
        return pd.concat([f[["patient_id", "rater"]], f.select_dtypes("number")], axis=1)  # provenance text dropped
    from dlscore.nsclc_rg import read_feature_table
    sc = config["signature"]
    return read_feature_table(features, sc.get("id_column", "Image"), sc.get("id_pattern", r"^([A-Za-z0-9]+-[0-9]+)"))


def signature(config: Mapping[str, Any], validated: str, features: str, tables: Mapping[str, str],
              rasig_scores: str, cutoff_out: str, roc_fig: str, heatmap_fig: str,
              dls_scores: str | None = None, deep_features: str | None = None) -> None:
    """RAsig (LASSO radiomics signature) fitted on the training split, RADLsig (RAsig + DLS)
    and DLS + clinical logistic models when a DLS exists; all frozen and applied to every
    cohort; AUCs (DeLong) and paired DeLong comparisons per set; Spearman correlation of the
    DLS and deep features with the radiomic features. See :mod:`dlscore.signature`."""
    from dlscore.signature import fit_fusion, fit_signature, icc_table, logit
    from dlscore.stats import auc_delong, delong_test, youden_cutoff
    sc = config["signature"]
    seed, alpha = int(config["seed"]), float(config["stats"]["alpha"])
    man = pd.read_parquet(validated)
    feats = _signature_features(config, features)
    cols = [c for c in feats.columns if c not in ("patient_id", "rater")]
    r1 = feats[feats["rater"] == "r1"].set_index("patient_id")
    train = man[(man["split"] == "training") & man["patient_id"].isin(r1.index)]
    lost = man.loc[(man["split"] == "training") & ~man["patient_id"].isin(r1.index), "patient_id"].tolist()
    icc = icc_table(feats, train["patient_id"], cols) if (feats["rater"] == "r2").any() else pd.DataFrame(
        {"feature": cols, "icc": np.nan, "note": "one rater: no stability filter"})
    sig = fit_signature(r1.loc[train["patient_id"], cols], train.set_index("patient_id")["label"].astype(int), seed,
                        icc, float(sc["icc_threshold"]), float(sc["max_correlation"]), int(sc["n_folds"]),
                        bool(sc.get("one_se", False)))
    sel = sig.tables["selection"]
    if lost:
        sel = pd.concat([sel, pd.DataFrame([{"step": f"training patients without features (left out): {len(lost)}",
                                              "n": len(lost)}])], ignore_index=True)
    df = man.copy()
    df["rasig"] = np.nan
    have = df["patient_id"].isin(r1.index)
    df.loc[have, "rasig"] = sig.score(r1.loc[df.loc[have, "patient_id"]])
    scores = {"RAsig": "rasig"}
    fusion_rows = []
    if dls_scores:
        d = pd.read_parquet(dls_scores)
        df = df.merge(d.loc[d["rater"] == "r1", ["patient_id", "dls"]], on="patient_id", how="left")
        df["dls_logit"] = logit(df["dls"])
        scores["DLS"] = "dls"
        clin = [c for c in sc.get("clinical", []) if c in df]
        for model, col, terms in (("RADLsig", "radlsig", ["rasig", "dls_logit"]),
                                  ("DLS + clinical", "dls_clinical", ["dls_logit", *clin])):
            if model == "DLS + clinical" and not clin:
                continue
            ok = df[terms].notna().all(axis=1)
            tr = df[(df["split"] == "training") & ok]
            try:
                tab, res = fit_fusion(tr["label"].astype(int).to_numpy(), tr[terms])
            except Exception as exc:  # e.g. perfect separation in a tiny training split
                fusion_rows.append(pd.DataFrame([{"model": model, "note": f"not estimable: {exc}"[:200]}]))
                continue
            fusion_rows.append(tab.assign(model=model))
            df.loc[ok, col] = res.predict(np.column_stack([np.ones(ok.sum()), df.loc[ok, terms].astype(float)]))
            scores[model] = col
    rows, comps, curves = [], [], {}
    for name, sub in evaluation_sets(df):
        sub = sub[sub["label"].notna()]
        y = sub["label"].astype(int).to_numpy()
        for model, col in scores.items():
            ok = sub[col].notna().to_numpy()
            row = {"model": model, "set": name, "n": int(ok.sum()), "n_pos": int(y[ok].sum())}
            if ok.sum() and 0 < y[ok].sum() < ok.sum():
                a = auc_delong(y[ok], sub[col].to_numpy()[ok], alpha)
                row.update({"auc": a.auc, "auc_ci_low": a.ci_low, "auc_ci_high": a.ci_high, "auc_se": a.se, "note": ""})
                curves.setdefault(name, []).append((model, y[ok], sub[col].to_numpy()[ok]))
            else:
                row["note"] = "AUC not computable: needs both classes"
            rows.append(row)
        names = list(scores)
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                a_, b_ = scores[names[i]], scores[names[j]]
                ok = (sub[a_].notna() & sub[b_].notna()).to_numpy()
                if ok.sum() and 0 < y[ok].sum() < ok.sum():
                    t = delong_test(y[ok], sub[a_].to_numpy()[ok], sub[b_].to_numpy()[ok], alpha)
                    comps.append({"set": name, "a": names[i], "b": names[j], "n": int(ok.sum()), "auc_a": t.auc_a,
                                  "auc_b": t.auc_b, "diff": t.diff, "diff_ci_low": t.ci_low,
                                  "diff_ci_high": t.ci_high, "z": t.z, "p": t.p, "test": "paired DeLong, two-sided"})
    if not comps:
        comps = [{"note": "only one score: no comparison (RADLsig needs a DLS)"}]
    # correlation of the DLS (and deep features) with the radiomic features, all patients with both
    corr_rows, heat = [], None
    if dls_scores:
        from scipy.stats import spearmanr
        both = df[df["rasig"].notna() & df["dls"].notna()]["patient_id"]
        x = r1.loc[both, cols]
        x = x.loc[:, x.std() > 0]
        rho = x.rank().corrwith(df.set_index("patient_id").loc[both, "dls"].rank())
        top = rho.abs().sort_values(ascending=False).index[: int(sc.get("top_correlations", 20))]
        for c in top:
            r, p = spearmanr(x[c], df.set_index("patient_id").loc[both, "dls"])
            corr_rows.append({"radiomic_feature": c, "spearman_rho_with_dls": r, "p": p, "n": len(both),
                              "in_signature": c in sig.features})
        if deep_features:
            deep = pd.read_parquet(deep_features)
            deep = deep[deep["rater"] == "r1"].set_index("patient_id").loc[both].drop(columns="rater")
            deep = deep.loc[:, deep.std() > 0]
            dl_rho = deep.rank().corrwith(df.set_index("patient_id").loc[both, "dls"].rank())
            dtop = dl_rho.abs().sort_values(ascending=False).index[:10]
            mat = pd.concat([df.set_index("patient_id").loc[both, ["dls"]].rename(columns={"dls": "DLS"}),
                             deep[dtop]], axis=1)
            heat = pd.DataFrame({c: x[top].rank().corrwith(mat[c].rank()) for c in mat.columns})
    if not corr_rows:
        corr_rows = [{"note": "no DLS in this study: correlations with the DLS not computed"}]
    out = {"signature_selection": sel, "signature_icc": icc, "signature_redundancy": sig.tables["redundancy"],
           "signature_lasso_cv": sig.tables["lasso_cv"], "signature_coefficients": sig.coefficients(),
           "signature_fusion": pd.concat(fusion_rows) if fusion_rows else pd.DataFrame(
               [{"note": "no DLS in this study: RADLsig not fitted"}]),
           "signature_discrimination": pd.DataFrame(rows), "signature_comparisons": pd.DataFrame(comps),
           "radiomics_dls_correlation": pd.DataFrame(corr_rows)}
    for k, v in out.items():
        write_table(v, tables[k], config)
    # RAsig as a score (scores-only studies analyse it like any marker): probability + log-odds
    pd.DataFrame({"patient_id": df["patient_id"], "rater": "r1", "dls": 1 / (1 + np.exp(-df["rasig"])),
                  "continuous": df["rasig"]}).to_parquet(rasig_scores, index=False)
    trs = df[(df["split"] == "training") & df["rasig"].notna()]
    cut = youden_cutoff(trs["label"].astype(int), 1 / (1 + np.exp(-trs["rasig"])))
    write_table(pd.DataFrame([{"model": "rasig", "cutoff": cut, "rule": "RAsig: maximum Youden index on the "
                               "training split", "n_training": len(trs)}]), cutoff_out, config)
    _signature_figures(config, curves, heat, roc_fig, heatmap_fig, seed)


def _signature_figures(config, curves, heat, roc_fig, heatmap_fig, seed) -> None:
    from dlscore.plots import placeholder_figure
    from dlscore.plots.roc import plot_roc_panels
    sets = [s for s in curves if not s.startswith("training")] or list(curves)
    if sets:
        plot_roc_panels([(f"{s}: {config.get('label_name', 'label')}", curves[s]) for s in sets], roc_fig, seed=seed)
    else:
        placeholder_figure(roc_fig, "no set with both classes: no ROC")
    if heat is None:
        placeholder_figure(heatmap_fig, "no DLS in this study: no correlation heat-map")
        return
    from dlscore.plots.heatmap import correlation_heatmap
    correlation_heatmap(heat, heatmap_fig, "Spearman rho: radiomic features most correlated with the DLS\n"
                        "vs the DLS and its 10 most correlated deep features")


# ----------------------------------------------------------------------------- statistics


def _scored(validated: str, scores: str, rater: str = "r1") -> pd.DataFrame:
    """Manifest rows joined with one rater's scores; the score table's columns (``dls``,
    ``continuous``, ``rater``) win over manifest columns of the same name (a scores-only
    study whose marker column is called ``dls``)."""
    sc = pd.read_parquet(scores)
    man = pd.read_parquet(validated)
    man = man.drop(columns=[c for c in sc.columns if c != "patient_id" and c in man])
    return man.merge(sc[sc["rater"] == rater], on="patient_id", how="inner")


def evaluation_sets(df: pd.DataFrame, splits=("training", "validation", "external", "ici")
                    ) -> list[tuple[str, pd.DataFrame]]:
    """(name, rows) in reporting order: training, validation, then each other cohort.

    Names are the slugs of :func:`dlscore.study.set_slug` with the split added for cohorts.
    """
    from dlscore.study import set_slug
    out = []
    for split in splits:
        if split in ("training", "validation", "unlabelled"):
            if (df["split"] == split).any():
                out.append((split, df[df["split"] == split]))
            continue
        for coh in dict.fromkeys(df.loc[df["split"] == split, "cohort"]):
            out.append((f"{set_slug(split, coh)} ({split})", df[(df["split"] == split) & (df["cohort"] == coh)]))
    return out


def model_comparisons(labelled: Mapping[str, Mapping[str, pd.DataFrame]], alpha: float = 0.05) -> list[dict]:
    """Paired DeLong test of every pair of models in every set where both scored the same
    patients (modality ablations: fused vs PET-only vs CT-only; per MRI sequence vs fusion).

    labelled: model -> set name -> rows (patient_id, label 0/1, dls). Patients scored by
    both models are compared; a set where they share no patient of each class is skipped."""
    from dlscore.stats import delong_test
    out, names = [], list(labelled)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for name, da in labelled[a].items():
                if name not in labelled[b]:
                    continue
                m = da.merge(labelled[b][name][["patient_id", "dls"]], on="patient_id", suffixes=("_a", "_b"))
                y = m["label"].astype(int).to_numpy()
                if len(m) == 0 or y.min() == y.max():
                    continue
                t = delong_test(y, m["dls_a"].to_numpy(), m["dls_b"].to_numpy(), alpha)
                out.append({"model": a, "set": name, "comparator": f"model {b}", "n": len(m),
                            "auc_model": t.auc_a, "auc_comparator": t.auc_b, "diff": t.diff,
                            "diff_ci_low": t.ci_low, "diff_ci_high": t.ci_high, "z": t.z, "p": t.p,
                            "test": "paired DeLong, two-sided"})
    return out


def discrimination(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str],
                   radiomics_table: str, table_out: str, cutoffs_out: str, comparisons_out: str,
                   roc_figs: Mapping[str, str]) -> None:
    from dlscore.plots.roc import plot_roc
    from dlscore.stats import (auc_delong, bootstrap_auc, bootstrap_metrics, delong_test, metrics_at_cutoff,
                               youden_cutoff)
    st = config["stats"]
    alpha, n_boot, seed = float(st["alpha"]), int(st["n_boot"]), int(config["seed"])
    rad = pd.read_parquet(radiomics_table)
    suv_col = "pet_original_firstorder_Maximum"
    rows, cuts, comps = [], [], []
    labelled: dict[str, dict[str, pd.DataFrame]] = {}  # model -> set -> patient_id, label, dls
    for model, f in score_files.items():
        df = _scored(validated, f)
        if suv_col in rad:
            df = df.merge(rad.loc[rad["rater"] == "r1", ["patient_id", suv_col]], on="patient_id", how="left")
        tr = df[df["split"] == "training"]
        fixed = config["models"].get(model, {}).get("cutoff")
        if fixed is not None:  # frozen model from another study: its cutoff travels with it
            cut, cut_from, rule = float(fixed), "fixed (config)", "fixed in the config (models.<name>.cutoff)"
        else:
            cut_from, rule = "training (Youden)", "maximum Youden index on the training split"
            try:
                cut = youden_cutoff(tr["label"].astype(int), tr["dls"])
            except ValueError as err:  # a collapsed network: every table says so instead of a cutoff
                cut, rule = float("nan"), f"not computable: {err} (training split)"
        cuts.append({"model": model, "cutoff": cut, "rule": rule, "n_training": len(tr)})
        curves = []
        for name, sub in evaluation_sets(df):
            for sec in config.get("secondary_labels", []):
                ss = sub[sub[sec].notna()]
                ys = ss[sec].astype(int).to_numpy()
                srow: dict[str, Any] = {"model": model, "label": sec, "analysis": "secondary", "set": name,
                                        "n": len(ss), "n_pos": int(ys.sum())}
                if len(ss) and 0 < ys.sum() < len(ys):
                    a = auc_delong(ys, ss["dls"].to_numpy(), alpha)
                    srow.update({"auc": a.auc, "auc_ci_low": a.ci_low, "auc_ci_high": a.ci_high, "auc_se": a.se,
                                 "auc_ci_method": "DeLong",
                                 "note": f"DLS trained for {config.get('label_name', 'label')}; AUC for {sec}"})
                else:
                    srow["note"] = "AUC not computable: needs both classes"
                rows.append(srow)
            sub = sub[sub["label"].notna()]
            labelled.setdefault(model, {})[name] = sub[["patient_id", "label", "dls"]]
            y = sub["label"].astype(int).to_numpy()
            row: dict[str, Any] = {"model": model, "label": config.get("label_name", "label"), "analysis": "primary",
                                   "set": name, "n": len(sub), "n_pos": int(y.sum())}
            if len(sub) == 0 or y.min() == y.max():
                row["note"] = "AUC not computable: needs both classes"
                rows.append(row)
                continue
            s = sub["dls"].to_numpy()
            a = auc_delong(y, s, alpha)
            if not np.isfinite(cut):
                row.update({"auc": a.auc, "auc_ci_low": a.ci_low, "auc_ci_high": a.ci_high, "auc_se": a.se,
                            "auc_ci_method": "DeLong", "note": f"metrics at the cutoff {rule}"})
                rows.append(row)
                curves.append((name, y, s))
                continue
            m = metrics_at_cutoff(y, s, cut)
            ci = bootstrap_metrics(y, s, cut, n_boot, seed, alpha)
            b_lo, b_hi, _ = bootstrap_auc(y, s, n_boot, seed, alpha)
            row.update({"auc": a.auc, "auc_ci_low": a.ci_low, "auc_ci_high": a.ci_high, "auc_se": a.se,
                        "auc_ci_method": "DeLong", "auc_boot_ci_low": b_lo, "auc_boot_ci_high": b_hi,
                        "cutoff": cut, "cutoff_from": cut_from})
            for k in ("acc", "sen", "spec", "ppv", "npv"):
                row.update({k: m[k], f"{k}_ci_low": ci[k][0], f"{k}_ci_high": ci[k][1]})
            row.update({"tp": m["tp"], "fp": m["fp"], "tn": m["tn"], "fn": m["fn"],
                        "metric_ci_method": f"stratified percentile bootstrap, {n_boot} replicates, cutoff fixed",
                        "note": ""})
            rows.append(row)
            curves.append((name, y, s))
            if suv_col in sub and sub[suv_col].notna().all():
                t = delong_test(y, s, sub[suv_col].to_numpy(), alpha)
                comps.append({"model": model, "set": name, "comparator": "SUVmax (PET, rater-1 mask)",
                              "n": len(sub), "auc_model": t.auc_a, "auc_comparator": t.auc_b, "diff": t.diff,
                              "diff_ci_low": t.ci_low, "diff_ci_high": t.ci_high, "z": t.z, "p": t.p,
                              "test": "paired DeLong, two-sided"})
        plot_roc(curves, roc_figs[model], title=f"{model}: DLS for {config.get('label_name', 'the label')}",
                 seed=seed)
    comps += model_comparisons(labelled, alpha)
    rows = pd.DataFrame(rows).sort_values(["model", "analysis", "label"], kind="stable")
    write_table(rows, table_out, config)
    write_table(pd.DataFrame(cuts), cutoffs_out, config)
    if not comps:
        comps = [{"note": "no comparator in this study (SUVmax needs a PET modality: imaging.suv_modality)"}]
    write_table(pd.DataFrame(comps), comparisons_out, config)


def calibration(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], table_out: str,
                figs: Mapping[str, str]) -> None:
    """Brier, recalibration intercept/slope, calibration-in-the-large and Hosmer-Lemeshow of
    the DLS read as a probability, per model and evaluation set; calibration plot."""
    from dlscore.plots.calibration import plot_calibration
    from dlscore.stats.calibration import brier, hosmer_lemeshow, recalibration
    alpha = float(config["stats"]["alpha"])
    rows = []
    for model, f in score_files.items():
        curves = []
        for name, sub in evaluation_sets(_scored(validated, f)):
            sub = sub[sub["label"].notna()]
            y, p = sub["label"].astype(int).to_numpy(), sub["dls"].to_numpy()
            row: dict[str, Any] = {"model": model, "set": name, "n": len(y), "n_pos": int(y.sum())}
            if len(y) < 10 or y.min() == y.max():
                row["note"] = "not computable: fewer than 10 patients or one class"
                rows.append(row)
                continue
            rc = recalibration(y, p, alpha)
            chi2, df, hl_p = hosmer_lemeshow(y, p, min(10, len(y) // 5))
            row.update({"brier": brier(y, p), "intercept": rc.intercept, "slope": rc.slope,
                        "slope_ci_low": rc.slope_ci_low, "slope_ci_high": rc.slope_ci_high,
                        "citl": rc.citl, "citl_ci_low": rc.citl_ci_low, "citl_ci_high": rc.citl_ci_high,
                        "hl_chi2": chi2, "hl_df": df, "hl_p": hl_p,
                        "method": "logistic recalibration on logit(DLS) (Wald CI); HL over quantile groups",
                        "note": ""})
            rows.append(row)
            curves.append((name, y, p))
        plot_calibration(curves, figs[model], title=f"{model}: calibration of the DLS")
    write_table(pd.DataFrame(rows), table_out, config)


def clinical_utility(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], cutoffs: str,
                     table_out: str, dca_figs: Mapping[str, str], dist_figs: Mapping[str, str]) -> None:
    """Decision curves (net benefit vs treat-all / treat-none, thresholds 0.05-0.95) for the
    cohorts not used for fitting, and the DLS distribution by label in every cohort."""
    from dlscore.plots.distribution import plot_decision_curves, plot_dls_by_label
    from dlscore.stats.decision import net_benefit
    cut = pd.read_csv(cutoffs).set_index("model")["cutoff"]
    label = config.get("label_name", "label")
    thresholds = np.round(np.arange(0.05, 0.951, 0.05), 2)
    tables = []
    for model, f in score_files.items():
        sets = [(n, g[g["label"].notna()]) for n, g in evaluation_sets(_scored(validated, f))]
        curves = []
        for name, g in sets:
            if name == "training" or g["label"].nunique() < 2:
                continue
            nb = net_benefit(g["label"].astype(int), g["dls"], thresholds)
            curves.append((f"{name} (n={len(g)})", nb))
            tables.append(nb.assign(model=model, set=name, n=len(g)))
        if curves:
            plot_decision_curves(curves, dca_figs[model], title=f"{model}: decision curves for {label}")
        dist = pd.concat([g.assign(set=n) for n, g in sets])[["set", "label", "dls"]]
        plot_dls_by_label(dist, float(cut[model]), dist_figs[model], label, title=f"{model}: DLS by {label}")
    cols = ["model", "set", "n", "threshold", "net_benefit", "treat_all", "treat_none"]
    out = pd.concat(tables)[cols] if tables else pd.DataFrame({"note": ["no labelled cohort besides training"]})
    write_table(out, table_out, config)


def association(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], table1_out: str,
                table1_label_out: str, correlations_out: str, groups_out: str, cohort_means_out: str) -> None:
    """Table 1 (per cohort by label, and cohorts side by side), correlations of the DLS with
    metadata, DLS across clinical groups (ANOVA / Kruskal-Wallis + post-hoc), and the
    bootstrapped mean and SE of the DLS per cohort (config ``association``)."""
    from dlscore.stats.association import (bootstrap_mean, compare_groups_continuous, correlation,
                                           group_from_breaks, table_one)
    ac = config.get("association", {})
    alpha, n_boot, seed = float(config["stats"]["alpha"]), int(config["stats"]["n_boot"]), int(config["seed"])
    man = pd.read_parquet(validated)
    cont = [c for c in ac.get("continuous", []) if c in man]
    cat = [c for c in ac.get("categorical", []) if c in man]
    write_table(table_one(man, "cohort", cont, cat), table1_out, config)
    by_label = [table_one(g, "label", cont, cat).assign(cohort=coh, label_name=config.get("label_name", "label"))
                for coh, g in man.groupby("cohort", sort=False) if g["label"].notna().any()]
    write_table(pd.concat(by_label, ignore_index=True) if by_label else pd.DataFrame({"note": ["no labels"]}),
                table1_label_out, config)
    def grouping(frame: pd.DataFrame, spec: Mapping[str, Any]) -> pd.Series:
        col = frame[spec["column"]]
        return group_from_breaks(col, spec["breaks"], spec["labels"]) if "breaks" in spec else col

    groups = {k: v for k, v in ac.get("groups", {}).items() if v["column"] in man}
    corr, grp, means = [], [], []
    for model, f in score_files.items():
        df = _scored(validated, f)
        score_col = "continuous" if "continuous" in df else "dls"  # scores-only: the marker's continuous score
        for set_name, sub in [("all patients", df), *evaluation_sets(df)]:
            for var in [c for c in ac.get("correlate", []) if c in sub]:
                v = pd.to_numeric(sub[var], errors="coerce")
                binary = v.dropna().isin([0, 1]).all()
                c = correlation(sub[score_col], v, "point-biserial" if binary else "spearman", alpha)
                corr.append({"model": model, "set": set_name, "variable": var, "method": c.method, "n": c.n,
                             "r": c.r, "ci_low": c.ci_low, "ci_high": c.ci_high, "p": c.p,
                             "ci_method": "Fisher z" + (" (Bonett-Wright variance)" if c.method == "spearman" else "")})
            for gname, spec in groups.items():
                omni, post = compare_groups_continuous(sub[score_col], grouping(sub, spec).to_numpy(), spec.get("labels"))
                base = {"model": model, "set": set_name, "grouping": gname}
                grp.append({**base, "comparison": "omnibus", **omni})
                for _, r in post.iterrows():
                    grp.append({**base, "comparison": f"{r['group_b']} vs {r['group_a']}", **r.to_dict()})
        for coh, g in df.groupby("cohort", sort=False):
            means.append({"model": model, "cohort": coh, **bootstrap_mean(g[score_col], n_boot, seed, alpha),
                          "method": f"percentile bootstrap, {n_boot} replicates"})
    write_table(pd.DataFrame(corr), correlations_out, config)
    write_table(pd.DataFrame(grp) if grp else pd.DataFrame({"note": ["no association.groups column in the manifest"]}),
                groups_out, config)
    write_table(pd.DataFrame(means), cohort_means_out, config)


def reproducibility(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], out: str) -> None:
    from dlscore.stats import icc
    form = config["stats"]["icc_form"]
    rows = []
    man = pd.read_parquet(validated)
    for model, f in score_files.items():
        sc = pd.read_parquet(f).pivot(index="patient_id", columns="rater", values="dls")
        if "r2" not in sc:
            rows.append({"model": model, "set": "all", "n": 0, "form": form,
                         "note": "only one rater's masks in this study: inter-rater ICC not computable"})
            continue
        both = sc.dropna(subset=["r1", "r2"]).join(man.set_index("patient_id")[["cohort", "split"]])
        groups = [(f"{c} ({s})", g) for (c, s), g in both.groupby(["cohort", "split"], sort=False)]
        groups.append(("all patients with two raters", both))
        for name, g in groups:
            row = {"model": model, "set": name, "n": len(g), "form": form}
            if len(g) < 3:
                row["note"] = "fewer than 3 patients with two raters"
            else:
                r = icc(g[["r1", "r2"]].to_numpy(), form, float(config["stats"]["alpha"]))
                row.update({"icc": r.icc, "ci_low": r.ci_low, "ci_high": r.ci_high, "p": r.p, "F": r.f,
                            "df1": r.df1, "df2": r.df2, "ci_method": "F distribution (Shrout & Fleiss)",
                            "mean_abs_diff": float((g["r1"] - g["r2"]).abs().mean()), "note": ""})
            rows.append(row)
    write_table(pd.DataFrame(rows), out, config)


def survival(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], cutoffs: str,
             out: str, at_risk_out: str, km_figs: Mapping[tuple[str, str], str]) -> None:
    from dlscore.plots import placeholder_figure
    from dlscore.plots.km import plot_km
    from dlscore.survival import compare_groups
    sv = config["survival"]
    alpha = float(config["stats"]["alpha"])
    from dlscore.study import endpoints, group_labels, scores_mode
    cuts = pd.read_csv(cutoffs).set_index("model")
    cut = cuts["cutoff"]
    rows, risk = [], []
    for model, f in score_files.items():
        df = _scored(validated, f)
        hi_label, lo_label = group_labels(config, model)
        for set_name, g in evaluation_sets(df, sv["splits"]):
            cohort = set_name.split(" (")[0]  # the slug used in figure names
            recorded = g["dls"].notna().any()
            g = g[g["dls"].notna()]
            for ep, spec in endpoints(config).items():
                row: dict[str, Any] = {"model": model, "set": set_name, "endpoint": ep, "unit": spec["unit"],
                                       "cutoff": float(cut[model]), "grouping": f"score >= {cut[model]:.4g} ({cuts.at[model, 'rule']})"}
                missing = (f"no cutoff ({cuts.at[model, 'rule']})" if not np.isfinite(cut[model]) else
                           f"{model} not recorded in {cohort}" if not recorded else
                           f"{spec['time']} not recorded in this set"
                           if spec["time"] not in g or g[spec["time"]].isna().all() else None)
                if missing:
                    row["note"] = f"not computable: {missing}"
                    rows.append(row)
                    if (model, cohort, ep) in km_figs:
                        placeholder_figure(km_figs[(model, cohort, ep)], f"{set_name}: not computable: {missing}")
                    continue
                g2 = g.dropna(subset=[spec["time"], spec["event"]])
                high = (g2["dls"] >= cut[model]).to_numpy()
                res = compare_groups(g2[spec["time"]], g2[spec["event"]], high, alpha)
                row.update(res)
                row.update({"hr_method": "Cox PH (Efron ties), Wald CI", "median_ci_method":
                            "KM Greenwood 'log' CI (R survfit default)", "note": f"{len(g) - len(g2)} patients without follow-up"
                            if len(g2) < len(g) else ""})
                rows.append(row)
                if (model, cohort, ep) in km_figs:
                    table = plot_km(g2[spec["time"]], g2[spec["event"]], high, km_figs[(model, cohort, ep)],
                                    spec["label"], spec["unit"], res, float(sv["at_risk_step"]),
                                    labels=(hi_label, lo_label),
                                    title=f"{set_name}: {spec['label']} by {hi_label if scores_mode(config) else model}",
                                    time_origin=sv.get("time_origin", "start of immunotherapy"))
                    for grp, counts in table.items():
                        risk.append({"model": model, "set": set_name, "endpoint": ep, "group": grp,
                                     **{f"t{i}": c for i, c in enumerate(counts)}})
    write_table(pd.DataFrame(rows), out, config)
    write_table(pd.DataFrame(risk), at_risk_out, config)


#: tables written by :func:`clinical_validation` (rule outputs use the same names)
CLINICAL_TABLES = ("cox_univariable", "cox_multivariable", "dcb", "dcb_logistic", "auc_comparisons", "cindex",
                   "hr_difference", "subgroups", "nomogram", "survival_calibration")


def _marker_frame(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str],
                  cutoffs: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Manifest with ``high:<m>`` (0/1, NaN when the marker is missing) and ``value:<m>``
    (continuous score) for every model/marker and every ``clinical.reference_markers`` entry.
    Returns (frame, marker -> printable label)."""
    from dlscore.study import scores_mode
    man = pd.read_parquet(validated)
    cut = pd.read_csv(cutoffs).set_index("model")["cutoff"]
    labels = {}
    for model, f in score_files.items():
        sc = pd.read_parquet(f)
        sc = sc[sc["rater"] == "r1"].set_index("patient_id")
        dls = sc["dls"].reindex(man["patient_id"]).to_numpy()
        value = (sc["continuous"] if "continuous" in sc else sc["dls"]).reindex(man["patient_id"]).to_numpy()
        man[f"high:{model}"] = np.where(np.isnan(dls) | (not np.isfinite(cut[model])), np.nan,
                                        (dls >= cut[model]).astype(float))
        man[f"value:{model}"] = value
        from dlscore.study import group_labels
        labels[model] = group_labels(config, model)[0] if scores_mode(config) else f"{model} DLS high"
    for name, spec in (config.get("clinical", {}).get("reference_markers") or {}).items():
        v = pd.to_numeric(man[spec["column"]], errors="coerce")
        man[f"high:{name}"] = (v >= float(spec["cutoff"])).astype(float).where(v.notna())
        man[f"value:{name}"] = pd.to_numeric(man[spec.get("continuous", spec["column"])], errors="coerce")
        labels[name] = spec.get("label", name)
    return man, labels


def clinical_validation(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], cutoffs: str,
                        outs: Mapping[str, str], forest_figs: Mapping[tuple[str, str, str], str]) -> None:
    """Cox (univariable, multivariable with Schoenfeld check), DCB (rates, AUC, logistic),
    C-index of marker + clinical vs clinical-only (fitted on the development cohort),
    bootstrap CI of HR differences and subgroup analyses, per ICI set and endpoint.

    ``outs`` keys: :data:`CLINICAL_TABLES`. The nomogram (points table) and the survival
    calibration at ``clinical.calibration_months`` are for the marker + clinical Cox model
    fitted on the development cohort."""
    from dlscore.clinical import (compare_cindex, cox_fit, design_matrix, hr_difference_bootstrap, logistic_fit,
                                  points_table, rates_by_group, reference_of, subgroup_table, survival_calibration)
    from dlscore.plots import placeholder_figure
    from dlscore.plots.forest import plot_forest
    from dlscore.stats import auc_delong, delong_test
    from dlscore.study import endpoints, group_labels, set_slug
    cl = config.get("clinical", {})
    alpha, seed, n_boot = float(config["stats"]["alpha"]), int(config["seed"]), int(config["stats"]["n_boot"])
    man, labels = _marker_frame(config, validated, score_files, cutoffs)
    markers = list(labels)
    covs = {k: v for k, v in (cl.get("covariates") or {}).items() if k in man}
    X_all, terms = design_matrix(man, covs)
    sets = evaluation_sets(man, config["survival"]["splits"])
    if not sets:
        raise ValueError("no evaluation set for the clinical analysis: check survival.splits")
    dev_cohort = cl.get("development_cohort")
    dev_name = next((n for n, g in sets if dev_cohort is not None and (g["cohort"] == dev_cohort).all()), sets[0][0])
    p_enter = float(cl.get("multivariable", {}).get("p_enter", 0.05))
    forced = [c for c in cl.get("multivariable", {}).get("forced", []) if c in covs]
    dcb = cl.get("dcb")
    has_dcb = bool(dcb) and dcb in man and man[dcb].notna().any()
    T: dict[str, list] = {k: [] for k in CLINICAL_TABLES}
    horizon = float(cl.get("calibration_months", 12))

    def missing_in(g: pd.DataFrame, cols) -> list[str]:
        return [c for c in cols if c in g and g[c].isna().all()]

    no_cut = pd.read_csv(cutoffs).set_index("model")["rule"]
    no_cut = {m: r for m, r in no_cut.items() if str(r).startswith("not computable")}

    def absent(g: pd.DataFrame, *ms: str) -> str | None:
        """"not computable: <marker> not recorded in <cohort>" when a marker has no value here."""
        for m in ms:
            if m in no_cut:
                return f"not computable: {labels[m]} has no cutoff ({no_cut[m][len('not computable: '):]})"
        gone = [labels[m] for m in ms if g[f"high:{m}"].isna().all()]
        where = ", ".join(dict.fromkeys(g["cohort"].astype(str))) if len(g) else "this set"
        return f"not computable: {' and '.join(gone)} not recorded in {where}" if gone else None

    def term_rows(fit: dict, base: dict, ref_terms: dict) -> list[dict]:
        if fit["terms"].empty:
            return [{**base, "n": fit["n"], "events": fit["events"], "note": fit["note"]}]
        return [{**base, "term": r["term"], "reference": ref_terms.get(r["term"], ""), "n": fit["n"],
                 "events": fit["events"], **{k: r[k] for k in r.index if k != "term"}, "note": fit["note"]}
                for _, r in fit["terms"].iterrows()]

    ref_terms = {t: f"vs {reference_of(man, c, covs[c])}" for c, ts in terms.items() for t in ts
                 if covs[c].get("type") == "categorical"}
    ref_terms.update({f"high:{m}": "vs low" for m in markers})
    # ------------------------------------------------------------------ survival endpoints
    for ep, spec in endpoints(config).items():
        tcol, ecol = spec["time"], spec["event"]
        uni_dev: dict[str, float] = {}
        for set_name, g in sets:
            g = g[g[tcol].notna() & g[ecol].notna()]
            base = {"set": set_name, "endpoint": ep}
            if g.empty:
                T["cox_univariable"].append({**base, "note": f"not computable: {tcol} not recorded in this set"})
                continue
            for c, ts in terms.items():
                if not ts:
                    continue
                if missing_in(g, [c]):
                    T["cox_univariable"].append({**base, "variable": c, "note": f"{c} not recorded in this set"})
                    continue
                fit = cox_fit(g[tcol], g[ecol], X_all.loc[g.index, ts], alpha)
                T["cox_univariable"] += term_rows(fit, {**base, "variable": c}, ref_terms)
                if set_name == dev_name:
                    uni_dev[c] = float(fit["terms"]["p"].min()) if not fit["terms"].empty else np.nan
            for m in markers:
                if absent(g, m):
                    T["cox_univariable"].append({**base, "variable": labels[m], "note": absent(g, m)})
                    continue
                fit = cox_fit(g[tcol], g[ecol], g[[f"high:{m}"]], alpha)
                T["cox_univariable"] += term_rows(fit, {**base, "variable": labels[m]}, ref_terms)
        selected = [c for c in covs if c in forced or uni_dev.get(c, np.nan) < p_enter]
        sel_terms = [t for c in selected for t in terms[c]]
        rule = f"covariates with univariable p < {p_enter:g} in {dev_name}" + (f", plus forced {forced}" if forced else "")
        dev_rows = dict(sets)[dev_name]
        dev_rows = dev_rows[dev_rows[tcol].notna() & dev_rows[ecol].notna()]
        for m in markers:
            cols_full = [f"high:{m}", *sel_terms]
            data_all = pd.concat([man[[tcol, ecol]], X_all, man[[f"high:{m}"]]], axis=1)
            dev_fit = {key: cox_fit(dev_rows[tcol], dev_rows[ecol], data_all.loc[dev_rows.index, cols], alpha)
                       for key, cols in (("full", cols_full), ("clinical", sel_terms))}
            nom_base = {"endpoint": ep, "model": f"{labels[m]} + {', '.join(selected) or 'no covariate'}",
                        "fitted_on": dev_name}
            if "model" in dev_fit["full"]:
                dterms = {labels[m]: [f"high:{m}"], **{c: terms[c] for c in selected}}
                pts, tot = points_table(dev_fit["full"]["model"], data_all.loc[dev_rows.index, cols_full].dropna(),
                                        dterms, horizon,
                                        references={c: reference_of(man, c, covs[c]) for c in selected})
                T["nomogram"] += [{**nom_base, "table": "points", **r} for r in pts.to_dict("records")]
                T["nomogram"] += [{**nom_base, "table": f"total points -> {spec['label']} at {horizon:g} {spec['unit']}",
                                   "level": f"{r['total_points']:.0f} points",
                                   "points": r["total_points"], "predicted_survival": r[f"survival_at_{horizon:g}"]}
                                  for r in tot.to_dict("records")]
            else:
                T["nomogram"].append({**nom_base, "note": f"not computable: {dev_fit['full']['note']}"})
            for set_name, g in sets:
                g = g[g[tcol].notna() & g[ecol].notna()]
                base = {"set": set_name, "endpoint": ep, "model": labels[m], "covariates": ", ".join(selected) or "none",
                        "selection": rule}
                gone = missing_in(g, selected) + ([labels[m]] if absent(g, m) else [])
                if gone:
                    T["cox_multivariable"].append({**base, "note": absent(g, m) or
                                                   f"not computable: {', '.join(gone)} not recorded in this set"})
                else:
                    fit = cox_fit(g[tcol], g[ecol], data_all.loc[g.index, cols_full], alpha)
                    rows = term_rows(fit, base, ref_terms)
                    for r in rows:
                        r.update({"ph_global_min_p": fit["ph_min_p"], "concordance": fit["concordance"]})
                    T["cox_multivariable"] += rows
                # C-index: models fitted on the development set, applied unchanged here
                crow: dict[str, Any] = {"set": set_name, "endpoint": ep, "model_a": f"{labels[m]} + clinical",
                                        "model_b": "clinical only", "covariates": ", ".join(selected) or "none",
                                        "fitted_on": dev_name}
                if gone or not sel_terms or "model" not in dev_fit["full"] or "model" not in dev_fit["clinical"]:
                    why = (absent(g, m)[len("not computable: "):] if absent(g, m) else
                           f"{', '.join(gone)} not recorded in this set" if gone else
                           "no clinical covariate selected" if not sel_terms else
                           dev_fit["full"]["note"] or dev_fit["clinical"]["note"])
                    T["cindex"].append({**crow, "note": f"not computable: {why}"})
                    continue
                d = data_all.loc[g.index, cols_full].dropna()
                pred = dev_fit["full"]["model"].predict_survival_function(d[cols_full], times=[horizon]).iloc[0]
                cal = survival_calibration(g.loc[d.index, tcol], g.loc[d.index, ecol], pred.to_numpy(), horizon,
                                           3, min(n_boot, 1000), seed, alpha)
                T["survival_calibration"] += [{"set": set_name, "endpoint": ep, "model": nom_base["model"],
                                               "horizon": horizon, "unit": spec["unit"], **r,
                                               "method": "tertiles of predicted survival; observed = KM, percentile "
                                                         "bootstrap CI"} for r in cal.to_dict("records")]
                ra = dev_fit["full"]["model"].predict_log_partial_hazard(d[cols_full]).to_numpy()
                rb = dev_fit["clinical"]["model"].predict_log_partial_hazard(d[sel_terms]).to_numpy()
                res = compare_cindex(g.loc[d.index, tcol], g.loc[d.index, ecol], ra, rb, min(n_boot, 2000), seed, alpha)
                T["cindex"].append({**crow, **res, "ci_method": f"paired percentile bootstrap ({res['n_boot']} replicates)",
                                    "test": "z-test, U-statistic variance (compareC approach)",
                                    "note": "apparent (same patients as the fit)" if set_name == dev_name else ""})
        for a, b in cl.get("hr_difference", []):
            if a not in labels or b not in labels:
                continue
            for set_name, g in sets:
                if absent(g, a, b):
                    T["hr_difference"].append({"set": set_name, "endpoint": ep, "marker_a": labels[a],
                                               "marker_b": labels[b], "note": absent(g, a, b)})
                    continue
                g = g.dropna(subset=[tcol, ecol, f"high:{a}", f"high:{b}"])
                res = hr_difference_bootstrap(g[tcol], g[ecol], g[f"high:{a}"], g[f"high:{b}"], n_boot, seed, alpha)
                T["hr_difference"].append({"set": set_name, "endpoint": ep, "marker_a": labels[a], "marker_b": labels[b],
                                           "n": len(g), **res,
                                           "method": "paired percentile bootstrap of HR_a - HR_b (patients resampled, "
                                                     "both Cox models refitted, Efron ties)"})
        for m in markers:
            for set_name, g in sets:
                cohort = set_slug(g["split"].iloc[0], g["cohort"].iloc[0])
                key = (m, cohort, ep)
                if g[tcol].isna().all() or absent(g, m):
                    why = absent(g, m) or f"not computable: {spec['label']} not recorded"
                    T["subgroups"].append({"set": set_name, "endpoint": ep, "marker": labels[m], "note": why})
                    if key in forest_figs:
                        placeholder_figure(forest_figs[key], f"{set_name}: {why}")
                    continue
                sub = subgroup_table(g.dropna(subset=[f"high:{m}"]), tcol, ecol, f"high:{m}",
                                     [s for s in cl.get("subgroups", []) if s in g and g[s].notna().any()],
                                     dcb if has_dcb else None, alpha)
                T["subgroups"] += [{"set": set_name, "endpoint": ep, "marker": labels[m], **r}
                                   for r in sub.to_dict("records")]
                if key in forest_figs:
                    plot_forest(sub, forest_figs[key], title=f"{set_name}: {spec['label']} by {labels[m]}",
                                high_label=group_labels(config, m)[0], endpoint=spec["label"],
                                low_label=group_labels(config, m)[1])
    # ------------------------------------------------------------------ durable clinical benefit
    if has_dcb:
        uni_dev = {}
        for set_name, g in sets:
            g = g[g[dcb].notna()]
            base = {"set": set_name}
            for c, ts in terms.items():
                if not ts:
                    continue
                if missing_in(g, [c]):
                    T["dcb_logistic"].append({**base, "model": "univariable", "variable": c,
                                              "note": f"{c} not recorded in this set"})
                    continue
                fit = logistic_fit(g[dcb], X_all.loc[g.index, ts], alpha)
                T["dcb_logistic"] += term_rows(fit, {**base, "model": "univariable", "variable": c}, ref_terms)
                if set_name == dev_name:
                    uni_dev[c] = float(fit["terms"]["p"].min()) if not fit["terms"].empty else np.nan
        selected = [c for c in covs if c in forced or uni_dev.get(c, np.nan) < p_enter]
        sel_terms = [t for c in selected for t in terms[c]]
        for set_name, g in sets:
            g = g[g[dcb].notna()]
            gone = missing_in(g, selected)
            for m in markers:
                if absent(g, m):
                    T["dcb"].append({"set": set_name, "marker": labels[m], "note": absent(g, m)})
                    continue
                gm = g[g[f"high:{m}"].notna()]
                row: dict[str, Any] = {"set": set_name, "marker": labels[m], **rates_by_group(gm[dcb], gm[f"high:{m}"] == 1)}
                v = g[g[f"value:{m}"].notna()]
                yv = v[dcb].astype(int).to_numpy()
                if len(v) and 0 < yv.sum() < len(yv):
                    a = auc_delong(yv, v[f"value:{m}"].to_numpy(), alpha)
                    row.update({"auc_n": len(v), "auc": a.auc, "auc_ci_low": a.ci_low, "auc_ci_high": a.ci_high,
                                "auc_ci_method": "DeLong"})
                else:
                    row["auc_note"] = "AUC not computable: continuous score not recorded in this set" if not len(v) \
                        else "AUC not computable: one DCB class"
                T["dcb"].append(row)
                T["dcb_logistic"] += term_rows(logistic_fit(gm[dcb], gm[[f"high:{m}"]], alpha),
                                               {"set": set_name, "model": "univariable", "variable": labels[m]}, ref_terms)
                mbase = {"set": set_name, "model": f"multivariable ({', '.join(selected) or 'no covariate selected'})",
                         "variable": labels[m]}
                if gone:
                    T["dcb_logistic"].append({**mbase, "note": f"not computable: {', '.join(gone)} not recorded in this set"})
                elif sel_terms:
                    T["dcb_logistic"] += term_rows(logistic_fit(gm[dcb], pd.concat([gm[[f"high:{m}"]],
                                                                                    X_all.loc[gm.index, sel_terms]], axis=1),
                                                                alpha), mbase, ref_terms)
            for a, b in cl.get("auc_comparisons", []):
                if a not in labels or b not in labels:
                    continue
                v = g.dropna(subset=[f"value:{a}", f"value:{b}"])
                y = v[dcb].astype(int).to_numpy()
                row = {"set": set_name, "outcome": "DCB", "score_a": labels[a], "score_b": labels[b], "n": len(v)}
                if len(v) and 0 < y.sum() < len(y):
                    t = delong_test(y, v[f"value:{a}"].to_numpy(), v[f"value:{b}"].to_numpy(), alpha)
                    row.update({"auc_a": t.auc_a, "auc_b": t.auc_b, "diff": t.diff, "diff_ci_low": t.ci_low,
                                "diff_ci_high": t.ci_high, "z": t.z, "p": t.p, "test": "paired DeLong, two-sided"})
                else:
                    row["note"] = absent(g, a, b) or ("not computable: one DCB class" if len(v) else
                                                      "not computable: a continuous score is not recorded in this set")
                T["auc_comparisons"].append(row)
    for key, rows in T.items():
        df = pd.DataFrame(rows) if rows else pd.DataFrame({"note": [f"nothing to report ({key}): see config clinical"]})
        write_table(df, outs[key], config)


def hyperimage_figure(config: Mapping[str, Any], validated: str, slice_files: Mapping[str, str], out: str,
                      per_class: int = 3) -> None:
    from dlscore.plots import new_figure, save
    from dlscore.slices import SliceSet
    man = pd.read_parquet(validated)
    tr = man[man["split"] == "training"].sort_values("patient_id")
    pick = pd.concat([tr[tr["label"] == c].head(per_class) for c in (1, 0)])
    chans = config["slices"]["channels"]
    fig, _ = new_figure(1.4 * len(chans), 1.5 * len(pick))
    fig.clf()
    axes = fig.subplots(len(pick), len(chans), squeeze=False)
    for i, (_, row) in enumerate(pick.iterrows()):
        ss = SliceSet.load(slice_files[row["patient_id"]])
        k = int(np.argmax(ss.tumour_side_mm))
        for j, c in enumerate(chans):
            ax = axes[i, j]
            ax.imshow(ss.images[k, j], cmap="gray" if c != "pet" else "inferno", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(c.upper() if c != "fusion" else "fusion", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{row['patient_id']}\nlabel {int(row['label'])}", fontsize=7)
    fig.suptitle(f"Hyper-images of training patients (largest kept slice; tumour square + "
                 f"{config['slices']['margin_mm']:g} mm margin on every side, resampled to "
                 f"{config['slices']['size']}x{config['slices']['size']})", fontsize=8)
    save(fig, out)


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
