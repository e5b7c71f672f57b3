"""The scoring and explanation steps (workflow/rules/score.smk)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from dlscore.evaluation import scored
from dlscore.study import display_name
from dlscore.tables import write_table
from dlscore.steps.train import channel_indices


def _trained_model(config: Mapping[str, Any], weights: str, dev) -> tuple[Any, list[int], list[str], dict]:
    """The network in ``weights`` (one model or an ensemble) on ``dev``, the indices of its
    input channels in this study's slices, their names, and the checkpoint. Frozen weights
    from another study may have been trained on a subset or another order of ``slices.channels``."""
    from dlscore.models import load_trained
    from dlscore.models import read_weights
    ck = read_weights(weights, dev)
    try:
        idx = channel_indices(config["slices"]["channels"], ck["channels"])
    except ValueError as err:
        raise ValueError(f"{weights}: {err}. Fix: set slices.channels to include {ck['channels']} "
                         "or use weights trained on this study's channels") from None
    return load_trained(ck, len(idx)).to(dev), idx, list(ck["channels"]), ck


def out_of_fold(scores: pd.DataFrame, fold_scores: Mapping[int, pd.DataFrame], folds: pd.Series) -> pd.DataFrame:
    """The DLS a cross-validated study reports. ``scores``: every (patient, rater) scored by
    the mean of all fold networks; ``fold_scores[f]``: the same columns from fold ``f``'s
    networks alone, for the patients that fold held out; ``folds``: fold per development
    patient id. Development patients take their own fold's row (out-of-fold), all others keep
    the fold-ensemble row; ``score_source`` says which each row is."""
    out = scores.copy()
    out["score_source"] = f"mean of the {len(fold_scores)} fold networks"
    key = ["patient_id", "rater"]
    for f, fs in fold_scores.items():
        mine = fs[fs["patient_id"].isin(folds.index[folds == f])].set_index(key)
        rows = out.set_index(key).index.isin(mine.index)
        cols = [c for c in mine.columns if c in out]
        out.loc[rows, cols] = mine.loc[out.loc[rows].set_index(key).index, cols].to_numpy()
        out.loc[rows, "score_source"] = f"out-of-fold (fold {f})"
    return out


def score(config: Mapping[str, Any], weights: str, slice_files: Mapping[tuple[str, str], str],
          scores_out: str, features_out: str, attention_out: str, threads: int = 1,
          validated: str | None = None) -> None:
    """DLS, deep features and attention of every (patient, rater). Weights of a
    cross-validated model (``fold_of_member``) score development patients out of fold
    (:func:`out_of_fold`; ``validated`` gives the folds); features and attention are those
    of the fold ensemble for everyone."""
    from dlscore.models import load_trained
    from dlscore.score import score_patients
    from dlscore.slices import SliceSet
    from dlscore.train import pick_device, set_determinism
    set_determinism(int(config["seed"]), threads)
    dev = pick_device(config.get("device", "auto"))
    model, idx, channels, ck = _trained_model(config, weights, dev)
    sets = {}
    for key, f in slice_files.items():
        ss = SliceSet.load(f)
        ss.images = np.ascontiguousarray(ss.images[:, idx])
        sets[key] = ss
    scores, feats, attn = score_patients(model, sets, dev, channels)
    if ck.get("fold_of_member") and validated:
        man = pd.read_parquet(validated)
        folds = man.dropna(subset=["fold"]).set_index("patient_id")["fold"].astype(int) if "fold" in man else \
            pd.Series(dtype=int)
        fold_scores = {}
        for f in sorted(set(ck["fold_of_member"])):
            members = [s for s, g in zip(ck["member_state_dicts"], ck["fold_of_member"]) if g == f]
            net = load_trained({**ck, "member_state_dicts": members}, len(idx)).to(dev)
            mine = {k: v for k, v in sets.items() if k[0] in set(folds.index[folds == f])}
            fold_scores[f] = score_patients(net, mine, dev, channels)[0] if mine else scores.iloc[:0]
        scores = out_of_fold(scores, fold_scores, folds)
    scores.to_parquet(scores_out, index=False)
    write_table(attn, attention_out, config)
    feats.to_parquet(features_out, index=False)


def training_figure(config: Mapping[str, Any], model_name: str, history: str | None, out: str) -> None:
    """The model's learning curves (:func:`dlscore.plots.training.plot_learning_curves`) from
    its ``history.csv``; a placeholder saying why for a model scored with frozen weights."""
    from dlscore.plots import placeholder_figure
    from dlscore.plots.training import plot_learning_curves
    if not history:
        placeholder_figure(out, f"{display_name(config, model_name)}: frozen weights, not trained in this study")
        return
    plot_learning_curves(pd.read_csv(history), out, f"{display_name(config, model_name)}: learning curves")


def explain(config: Mapping[str, Any], model_name: str, weights: str, validated: str, scores: str,
            features: str, slice_files: Mapping[str, str], gradcam_out: str, clustermap_out: str,
            threads: int = 1, activations_out: str | None = None, clusters_out: str | None = None) -> None:
    """Grad-CAM overlays (positive and negative class) of ``explain.gradcam_per_class`` patients
    per class (rater 1, the slice with the largest tumour square), the mean activation of each
    residual stage for the first positive and the first negative of them, and the clustered
    heat-map of every patient's deep features with ``explain.side_bars`` and its
    ``explain.clusters`` clusters, tested against the label (``clusters_out``)."""
    from dlscore.explain import activation_maps, central_slice, gradcam_maps, pick_patients
    from dlscore.plots.gradcam import activation_figure, gradcam_figure
    from dlscore.slices import SliceSet
    from dlscore.train import pick_device, set_determinism
    ex = config["explain"]
    set_determinism(int(config["seed"]), threads)
    dev = pick_device(config.get("device", "auto"))
    model, idx, channels, _ = _trained_model(config, weights, dev)
    chosen = pick_patients(scored(validated, scores), int(ex["gradcam_per_class"]), int(config["seed"]))
    imgs, sides, titles = [], [], []
    for _, row in chosen.iterrows():
        ss = SliceSet.load(slice_files[row["patient_id"]])
        k = central_slice(ss.images, ss.tumour_side_mm)
        imgs.append(ss.images[k, idx])
        sides.append(float(ss.side_mm[k]))
        titles.append(f"{row['patient_id']} ({row['split']})\n{'positive' if row['label'] == 1 else 'negative'}, "
                      f"DLS {row['dls']:.2f}")
    x = np.stack(imgs).astype(np.float32)
    gradcam_figure(x, gradcam_maps(model, x, dev), channels, titles, gradcam_out, sides,
                   maps_negative=gradcam_maps(model, x, dev, negative=True))
    if activations_out:
        two = [chosen.index[chosen["label"] == lab][0] for lab in (1, 0) if (chosen["label"] == lab).any()]
        activation_figure(x[two], channels, [(n, m) for n, m in activation_maps(model, x[two], dev)],
                          [titles[i] for i in two], activations_out, [sides[i] for i in two])
    _deep_features(config, model_name, validated, features, clustermap_out, clusters_out)


def _deep_features(config: Mapping[str, Any], model_name: str, validated: str, features: str, clustermap_out: str,
                   clusters_out: str | None) -> None:
    """The deep-feature heat-map with its side bars and clusters, and the cluster x label table."""
    from dlscore.explain import feature_clusters
    from dlscore.plots.gradcam import feature_clustermap
    ex = config["explain"]
    feats = pd.read_parquet(features)
    feats = feats[feats["rater"] == "r1"].set_index("patient_id").drop(columns="rater")
    man = pd.read_parquet(validated).set_index("patient_id").loc[feats.index]
    side = pd.DataFrame(index=feats.index)
    side["label"] = man["label"].map(lambda v: "unknown" if pd.isna(v) else "positive" if v == 1 else "negative")
    k = int(ex.get("clusters", 4))
    clusters = feature_clusters(feats.to_numpy(), k) if len(feats) > k else np.ones(len(feats), int)
    side["cluster"] = [f"G{c}" for c in clusters]
    for col in ex.get("side_bars", []):
        if col in man and col != "label":
            side[col] = man[col].fillna("unknown").astype(str)
    feature_clustermap(feats, side, clustermap_out,
                       f"{display_name(config, model_name)}: deep features of {len(feats)} patients "
                       f"(Ward clustering, {k} clusters)")
    if clusters_out:
        write_table(cluster_table(side["cluster"], man["label"], model_name, int(config["seed"])), clusters_out, config)


def cluster_table(clusters: pd.Series, label: pd.Series, model: str, seed: int = 0) -> pd.DataFrame:
    """Patients per deep-feature cluster by label (0/1, NaN unknown) and the test of cluster
    against label on the labelled patients: Pearson chi-square (as the PET/CT paper) and Fisher's
    exact (r x c), on the first row."""
    from scipy.stats import chi2_contingency
    from dlscore.stats.exact import fisher_exact_rxc
    tab = pd.crosstab(clusters, label.map(lambda v: "unknown" if pd.isna(v) else int(v)))
    rows = pd.DataFrame({"model": model, "cluster": tab.index, "n": tab.sum(axis=1).to_numpy(),
                         "n_positive": tab.get(1, 0), "n_negative": tab.get(0, 0),
                         "n_unknown": tab.get("unknown", 0)}).reset_index(drop=True)
    counts = rows[["n_positive", "n_negative"]].to_numpy()
    counts = counts[counts.sum(axis=1) > 0]
    if counts.shape[0] < 2 or (counts.sum(axis=0) == 0).any():
        return rows.assign(note="not computable: fewer than two clusters or one class among labelled patients")
    chi2, p, dof, _ = chi2_contingency(counts, correction=False)
    fp, method = fisher_exact_rxc(counts, seed=seed)
    first = {"chi2": chi2, "df": dof, "chi2_p": p, "fisher_p": fp, "fisher_method": method, "note": ""}
    for key, v in first.items():
        rows[key] = [v] + [np.nan if key != "note" else "" for _ in range(len(rows) - 1)]
    return rows
