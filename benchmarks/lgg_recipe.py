"""Training-recipe ablation on TCGA-LGG, cross-validated inside the development cohort only.

Reads the preprocessed volumes and validated manifest of an LGG run (``results/lgg`` after at
least the ``preprocess`` step, any ``split.method``), deals the labelled development
patients into ``--k`` stratified folds (:func:`dlscore.folds.stratified_folds`, seeded), and
for every recipe trains one network per fold with the workflow's own training code
(:func:`dlscore.train.train_model`, early stopping on an inner validation split of the
training folds, :func:`dlscore.folds.fold_patients`). The out-of-fold patient DLS gives the
cross-validated AUC (DeLong CI). External-site patients are never read: the recipe is chosen
without looking at them.

    .venv/bin/python benchmarks/lgg_recipe.py results/lgg --k 5 --recipes base small --out benchmarks/lgg_recipe.csv

Recipes are overrides of the ``models.sres_mri`` entry of ``config/lgg.yaml`` (see
:data:`RECIPES`); ``channels`` picks the input channels, ``slices`` a slice-extraction variant
(:data:`VARIANTS`: mask channel, margin, all slices, 2.5D neighbours, z-score region, location
channels), built once from the run's preprocessed volumes under ``results/lgg/ablation_slices/``;
``tta: true`` scores each held-out slice as the mean over its 8 flips/quarter turns. ``--table`` prints the
Markdown table of ``benchmarks/README.md`` from the CSV.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
#: what every recipe overrides: ``models.sres_mri`` and ``slices`` of config/lgg.yaml as they were
#: before the first ablation (pinned here, so the table's rows stay reproducible after the config
#: adopts a recipe); network settings not named take the schema defaults
BASE = {"arch": "sres", "channels": ["t1pre", "flair", "t1post"], "widths": [16, 32, 64, 128], "n_features": 256,
        "dropout": 0.3, "lr": 0.001, "weight_decay": 0.0001, "epochs": 20, "patience": 6, "batch_size": 32,
        "augment": True}
#: the inner early-stopping fraction of each fold's training patients (``inner: false`` recipes: none)
INNER_FRACTION = 0.29
BASE_SLICES = {"channels": ["t1pre", "flair", "t1post"], "size": 64, "margin_mm": 20.0, "min_area_fraction": 0.3,
               "interpolation_order": 3, "distance_scale_mm": 5.0}
#: recipe name -> overrides of BASE
SMALL = {"widths": [8, 16, 32, 64], "n_features": 64}
#: the 2026-11-25 recipes ran on top of the config's 3-member ensemble per fold (flair_t1post_ens3)
SMALL3 = {**SMALL, "ensemble": 3}
#: the recipe config/lgg.yaml adopted on 2026-11-25 (ft_m10_mask_all_cos12)
ADOPTED = {**SMALL3, "slices": "m10_mask", "channels": ["flair", "t1post", "mask"], "inner": False, "epochs": 12,
           "lr_schedule": "cosine"}
ADOPTED_VARIATIONS = {
    "cos16": {"epochs": 16}, "ens5": {"ensemble": 5}, "wide": {"widths": [16, 32, 64, 128], "n_features": 128},
    "t1pre": {"channels": ["t1pre", "flair", "t1post", "mask"]}, "m5": {"slices": "m5_mask"},
    "distance": {"slices": "m10_distance", "channels": ["flair", "t1post", "distance"]},
    "mask_distance": {"slices": "m10_distance", "channels": ["flair", "t1post", "mask", "distance"]},
}
#: around the recipe adopted second (adopted_mask_distance): changes aimed at the site shift (z-score
#: region, test-time augmentation, intensity jitter, location channels), the ``md_*`` recipes
MASK_DISTANCE = {**ADOPTED, **ADOPTED_VARIATIONS["mask_distance"]}
MASK_DISTANCE_VARIATIONS = {"otsu": {"slices": "m10_distance_otsu"}, "otsu_nt": {"slices": "m10_distance_otsu_nt"},
                            "tta": {"tta": True}, "int2": {"intensity_augment": 0.2}, "int4": {"intensity_augment": 0.4},
                            "xy": {"slices": "m10_distance_xy", "channels": ["flair", "t1post", "mask", "distance", "lr", "ap"]}}
RECIPES = {
    "base": {},
    "small": SMALL,
    "small_drop5": {**SMALL, "dropout": 0.5},
    "small_wd1e-3": {**SMALL, "weight_decay": 0.001},
    "small_lr3e-4": {**SMALL, "lr": 0.0003},
    "small_noaug": {**SMALL, "augment": False},
    "small_e40": {**SMALL, "epochs": 40, "patience": 10},
    "small_bs16": {**SMALL, "batch_size": 16},
    "small_ls": {**SMALL, "label_smoothing": 0.1},
    "small_ens3": {**SMALL, "ensemble": 3},
    "tiny": {"widths": [8, 16, 32], "n_features": 32},
    "micro": {"widths": [4, 8, 16, 32], "n_features": 32},
    "flair_only": {**SMALL, "channels": ["flair"]},
    "flair_t1post": {**SMALL, "channels": ["flair", "t1post"]},
    "small_no_early_stop": {**SMALL, "epochs": 12, "patience": 12},
    "flair_t1post_ens3": {**SMALL, "channels": ["flair", "t1post"], "ensemble": 3},
    # slice variants (VARIANTS) with FLAIR + post-contrast T1
    "ft_mask": {**SMALL3, "slices": "mask", "channels": ["flair", "t1post", "mask"]},
    "all3_mask": {**SMALL3, "slices": "mask", "channels": ["t1pre", "flair", "t1post", "mask"]},
    "ft_nb1": {**SMALL3, "slices": "nb1", "channels": ["flair@-1", "flair", "flair@1", "t1post@-1", "t1post", "t1post@1"]},
    "ft_nb1_mask": {**SMALL3, "slices": "nb1",
                    "channels": ["flair@-1", "flair", "flair@1", "t1post@-1", "t1post", "t1post@1", "mask"]},
    "ft_allslices": {**SMALL3, "slices": "all", "channels": ["flair", "t1post"]},
    "ft_m10": {**SMALL3, "slices": "m10", "channels": ["flair", "t1post"]},
    "ft_m10_mask": {**SMALL3, "slices": "m10_mask", "channels": ["flair", "t1post", "mask"]},
    "ft_mask_mixup": {**SMALL3, "slices": "mask", "channels": ["flair", "t1post", "mask"], "mixup": 0.4},
    "ft_mask_cosine": {**SMALL3, "slices": "mask", "channels": ["flair", "t1post", "mask"], "lr_schedule": "cosine",
                       "patience": 20},
    # no inner validation split: every training patient of the fold, a fixed number of epochs, the last kept
    "ft_m10_mask_all_e8": {**SMALL3, "slices": "m10_mask", "channels": ["flair", "t1post", "mask"], "inner": False,
                           "epochs": 8},
    "ft_m10_mask_all_e12": {**SMALL3, "slices": "m10_mask", "channels": ["flair", "t1post", "mask"], "inner": False,
                            "epochs": 12},
    "ft_m10_mask_all_cos12": ADOPTED,
    # around ADOPTED: one change each (the last one, mask_distance, is config/lgg.yaml since 2026-11-25 noon)
    **{f"adopted_{k}": {**ADOPTED, **v} for k, v in ADOPTED_VARIATIONS.items()},
    **{f"md_{k}": {**MASK_DISTANCE, **v} for k, v in MASK_DISTANCE_VARIATIONS.items()},
    # the MRI design's per-sequence ResNet encoders + transformer fusion (config/lgg.yaml resnet_fusion)
    "fusion_r101_w16": {"arch": "seqfusion", "depth": 101, "width": 16, "n_features": 256, "heads": 4, "layers": 1,
                        "dropout": 0.1, "epochs": 12, "patience": 4, "batch_size": 32, "lr": 0.0003},
    "fusion_r18_w16": {"arch": "seqfusion", "depth": 18, "width": 16, "n_features": 128, "heads": 4, "layers": 1,
                       "dropout": 0.1, "epochs": 12, "patience": 4, "batch_size": 32, "lr": 0.0003},
}


#: slice-extraction variants (overrides of BASE_SLICES); "mask" is the tumour mask as a channel,
#: "<sequence>@<dz>" the neighbouring slice dz above/below in the same square (2.5D)
VARIANTS = {
    "base": {},
    "mask": {"channels": ["t1pre", "flair", "t1post", "mask"]},
    "nb1": {"channels": ["flair@-1", "flair", "flair@1", "t1post@-1", "t1post", "t1post@1", "mask"]},
    "all": {"min_area_fraction": 0.0},
    "m10": {"margin_mm": 10.0},
    "m10_mask": {"margin_mm": 10.0, "channels": ["t1pre", "flair", "t1post", "mask"]},
    "m5_mask": {"margin_mm": 5.0, "channels": ["t1pre", "flair", "t1post", "mask"]},
    "m10_distance": {"margin_mm": 10.0, "channels": ["t1pre", "flair", "t1post", "mask", "distance"]},
    # z-score statistics from the head (Otsu) instead of every voxel above the minimum, with/without the tumour
    "m10_distance_otsu": {"margin_mm": 10.0, "channels": ["t1pre", "flair", "t1post", "mask", "distance"],
                          "normalise": {"region": "otsu"}},
    "m10_distance_otsu_nt": {"margin_mm": 10.0, "channels": ["t1pre", "flair", "t1post", "mask", "distance"],
                             "normalise": {"region": "otsu", "exclude_tumour": True}},
    # where in the head the slice lies: distance from the mid-sagittal plane and the anterior-posterior
    # position, both relative to the head's extent (CoordConv-style constant maps; benchmark only)
    "m10_distance_xy": {"margin_mm": 10.0, "channels": ["t1pre", "flair", "t1post", "mask", "distance", "lr", "ap"]},
}
LOCATION_CHANNELS = ("lr", "ap")


def location_maps(flair: np.ndarray) -> dict:
    """``lr`` (0 on the head's mid-sagittal plane, 1 at its left/right edge) and ``ap`` (0 most
    anterior, 1 most posterior) for every voxel of a canonical LPS volume (z, y, x), the head
    being the voxels above FLAIR's Otsu threshold (1st-99th percentile of their coordinates)."""
    from dlscore.preprocess import zscore_region
    head = zscore_region(flair, "otsu")
    _, yy, xx = np.nonzero(head)
    (x0, x1), (y0, y1) = np.percentile(xx, [1, 99]), np.percentile(yy, [1, 99])
    z, y, x = np.indices(flair.shape, dtype=np.float32)
    lr = np.clip(np.abs(x - (x0 + x1) / 2) / max((x1 - x0) / 2, 1.0), 0, 1)
    ap = np.clip((y - y0) / max(y1 - y0, 1.0), 0, 1)
    return {"lr": lr.astype(np.float32), "ap": ap.astype(np.float32)}


def variant_slices(results: Path, cfg: dict, name: str, pids) -> Path:
    """Slice files of the ``name`` variant of every patient in ``pids`` (built once, cached
    under ``results/ablation_slices/<name>/``)."""
    from dlscore.slices import extract_slices
    from dlscore.steps.preprocess import _load_normalised
    out = results / "ablation_slices" / name
    sc = {**BASE_SLICES, **VARIANTS[name]}
    norm = {m: {**v, **sc.get("normalise", {})} for m, v in cfg["imaging"]["normalise"].items()}
    cfg = {**cfg, "imaging": {**cfg["imaging"], "normalise": norm}}
    for pid in pids:
        f = out / pid / "r1.npz"
        if f.exists():
            continue
        vols, mask, img, _ = _load_normalised(cfg, str(results / "preprocessed" / pid), "r1")
        if set(LOCATION_CHANNELS) & set(sc["channels"]):
            vols.update(location_maps(vols["flair"]))
        for c in sc["channels"]:
            if "@" in c:
                seq, dz = c.split("@")
                idx = np.clip(np.arange(mask.shape[0]) + int(dz), 0, mask.shape[0] - 1)
                vols[c] = vols[seq][idx]
        ss = extract_slices(vols, mask, img.GetSpacing(), sc["channels"], int(sc["size"]), float(sc["margin_mm"]),
                            float(sc["min_area_fraction"]), int(sc["interpolation_order"]),
                            distance_scale_mm=float(sc["distance_scale_mm"]))
        f.parent.mkdir(parents=True, exist_ok=True)
        ss.save(f)
    return out


def _load(pids, channels, slice_channels, slice_dir: Path):
    from dlscore.slices import SliceSet
    from dlscore.steps.train import channel_indices
    from dlscore.train import SliceData
    idx = channel_indices(slice_channels, channels)
    xs, ys, ps = [np.zeros((0, len(idx), 64, 64), np.float32)], [np.zeros(0, int)], [np.zeros(0, object)]
    for pid, y in pids.items():
        ss = SliceSet.load(slice_dir / pid / "r1.npz")
        xs.append(ss.images[:, idx])
        ys.append(np.full(len(ss.images), int(y)))
        ps.append(np.full(len(ss.images), pid, dtype=object))
    return SliceData(np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys), np.concatenate(ps))


def dihedral_views(x: np.ndarray) -> list:
    """The 8 flips/quarter turns of slices ``x`` (N, C, H, W), the transforms training augments
    with (test-time augmentation: the prediction is the mean over them)."""
    return [np.rot90(v, r, axes=(-2, -1)) for v in (x, x[..., ::-1]) for r in range(4)]


def run_recipe(man: pd.DataFrame, spec: dict, slice_channels, k: int, seed: int, fraction: float, threads: int,
               slice_dir: Path, cv: str = "kfold") -> tuple[pd.Series, float]:
    """Out-of-fold patient DLS of one recipe (indexed by patient id) and its wall time (s):
    ``cv`` kfold (``k`` stratified folds) or site (leave one development site out)."""
    import torch

    from dlscore.folds import fold_patients, site_folds, stratified_folds
    from dlscore.models import build_model
    from dlscore.slices import intensity_channel_indices
    from dlscore.train import patient_mean, predict_slices, train_model
    dev = man[(man["role"] == "development") & man["label"].notna()].copy()
    by_pid = dev.set_index("patient_id")
    folds = stratified_folds(by_pid["label"], k, seed) if cv == "kfold" else site_folds(by_pid["site"])[0]
    dev["split"], dev["fold"] = "development", folds.to_numpy()
    lab = by_pid["label"]
    oof, t0 = {}, time.perf_counter()
    images = intensity_channel_indices(spec["channels"])
    for f in sorted(dev["fold"].unique()):
        who = fold_patients(dev, f, fraction, seed)
        if not spec.get("inner", True):  # train on the whole of the other folds, no early stopping
            who = {**who, "training": who["training"] + who["validation"], "validation": []}
        tr, va, ho = (_load(lab[who[s]], spec["channels"], slice_channels, slice_dir)
                      for s in ("training", "validation", "held_out"))
        probs = []
        for m in range(int(spec.get("ensemble", 1))):
            state, _ = train_model(tr, va, spec, seed + 1000 * f + 7919 * m, device="cpu", threads=threads,
                                   progress=False, intensity_channels=images)
            net = build_model(spec, tr.x.shape[1])
            net.load_state_dict(state)
            views = dihedral_views(ho.x) if spec.get("tta") else [ho.x]
            probs.append(np.mean([predict_slices(net, np.ascontiguousarray(v), torch.device("cpu")) for v in views],
                                 axis=0))
        oof.update(patient_mean(np.mean(probs, axis=0), ho.patient).to_dict())
    return pd.Series(oof), time.perf_counter() - t0


def markdown(csv: Path) -> str:
    """The ablation table of benchmarks/README.md from the recipe CSV: one line per recipe,
    best mean cross-validated AUC first."""
    d = pd.read_csv(csv)
    g = d.groupby("recipe", sort=False).agg(overrides=("overrides", "first"), seeds=("seed", "nunique"),
                                            mean=("cv_auc", "mean"), sd=("cv_auc", "std"), lo=("cv_auc", "min"),
                                            hi=("cv_auc", "max"), seconds=("seconds", "median"))
    lines = ["| recipe | overrides | seeds | mean CV AUC | SD | range | seconds |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in g.sort_values("mean", ascending=False).iterrows():
        over = " ".join(str(r["overrides"]).split()).replace("[ ", "[")  # yaml folds long lines
        sd = f"{r['sd']:.3f}" if r["seeds"] > 1 else "—"
        lines.append(f"| `{name}` | `{over}` | {r['seeds']} | {r['mean']:.3f} | {sd} | {r['lo']:.3f}–{r['hi']:.3f} | "
                     f"{r['seconds']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    from dlscore.config import load_config
    from dlscore.stats import auc_delong
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--cv", choices=["kfold", "site"], default="kfold",
                    help="kfold: --k stratified folds; site: leave one development site out")
    ap.add_argument("--seeds", type=int, nargs="+", default=[20261123, 1, 2])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "lgg_recipe.csv")
    ap.add_argument("--table", action="store_true", help="print the Markdown table of --out and stop")
    a = ap.parse_args(argv)
    if a.table:
        print(markdown(a.out))
        return
    cfg = load_config(REPO / "config" / "lgg.yaml")  # the preprocessing (normalisation) of the volumes
    man = pd.read_parquet(a.results / "manifest" / "validated.parquet")
    for name in a.recipes:
        over = dict(RECIPES[name])
        variant = over.pop("slices", "base")
        spec = {**BASE, **over}
        pids = man.loc[(man["role"] == "development") & man["label"].notna(), "patient_id"]
        slice_dir = variant_slices(a.results, cfg, variant, pids)
        slice_channels = {**BASE_SLICES, **VARIANTS[variant]}["channels"]
        rows = []
        for seed in a.seeds:  # the folds and the networks' initialisation both follow the seed
            oof, secs = run_recipe(man, spec, slice_channels, a.k, seed, INNER_FRACTION, a.threads, slice_dir,
                                   a.cv)
            y = man.set_index("patient_id").loc[oof.index, "label"].astype(int).to_numpy()
            r = auc_delong(y, oof.to_numpy())
            rows.append({"recipe": name, "overrides": yaml.safe_dump(RECIPES[name], default_flow_style=True).strip(),
                         "k": a.k if a.cv == "kfold" else "sites", "seed": seed, "n": len(y), "n_pos": int(y.sum()), "cv_auc": round(float(r.auc), 3),
                         "ci_low": round(float(r.ci_low), 3), "ci_high": round(float(r.ci_high), 3),
                         "seconds": round(secs)})
            print(rows[-1], flush=True)
        out = pd.DataFrame(rows)
        if a.out.exists():  # keep other recipes' rows (one line per recipe, k and seed)
            old = pd.read_csv(a.out)
            old = old[~old.set_index(["recipe", "k", "seed"]).index.isin(out.set_index(["recipe", "k", "seed"]).index)]
            out = pd.concat([old, out], ignore_index=True)
        out.to_csv(a.out, index=False)
        print(f"{name}: mean CV AUC {np.mean([r['cv_auc'] for r in rows]):.3f} "
              f"(SD {np.std([r['cv_auc'] for r in rows], ddof=1) if len(rows) > 1 else 0:.3f})", flush=True)


if __name__ == "__main__":
    main()
