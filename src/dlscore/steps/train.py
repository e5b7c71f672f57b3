"""The training step (workflow/rules/train.smk)."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from dlscore.config import config_hash, package_versions
from dlscore.tables import write_table


def _slice_data(man: pd.DataFrame, slice_files: Mapping[str, str], patients: Sequence[str]):
    """The slices of ``patients`` (ids, in manifest order) with their labels."""
    from dlscore.slices import SliceSet
    from dlscore.train import SliceData
    man = man.set_index("patient_id")
    xs, ys, ps = [], [], []
    for pid in man.index[man.index.isin(list(patients))]:
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


def training_patients(man: pd.DataFrame, config: Mapping[str, Any], fold: int | None) -> dict[str, list[str]]:
    """The patients one network learns from (``training``) and stops early on
    (``validation``): the holdout split's, or those of one ``fold`` of a cross-validated
    study (:func:`dlscore.folds.fold_patients`, which also gives ``held_out``)."""
    if fold is None:
        return {s: man.loc[man["split"] == s, "patient_id"].tolist() for s in ("training", "validation")}
    from dlscore.folds import fold_patients
    return fold_patients(man, int(fold), float(config["split"]["validation_fraction"]), int(config["seed"]))


def train(config: Mapping[str, Any], model_name: str, validated: str, slice_files: Mapping[str, str],
          weights: str, history_csv: str, card: str, threads: int = 1, fold: int | None = None) -> None:
    """Train one network (holdout), or the network of one ``fold`` of a cross-validated study,
    seeded, checkpointed and resumable; write its weights, history and model card."""
    import torch

    from dlscore.slices import intensity_channel_indices
    from dlscore.train import SliceData, train_model, write_tensorboard
    spec = dict(config["models"][model_name])
    man = pd.read_parquet(validated)
    who = training_patients(man, config, fold)
    idx = channel_indices(config["slices"]["channels"], spec["channels"])
    tr = _slice_data(man, slice_files, who["training"])
    tr = SliceData(np.ascontiguousarray(tr.x[:, idx]), tr.y, tr.patient)
    if who["validation"]:
        va = _slice_data(man, slice_files, who["validation"])
        va = SliceData(np.ascontiguousarray(va.x[:, idx]), va.y, va.patient)
    else:  # split.validation_fraction 0: no early stopping, all epochs, the last kept
        va = SliceData(tr.x[:0], tr.y[:0], tr.patient[:0])
    ckpt = Path(weights).with_name("checkpoint.pt")
    digest = hashlib.sha256(json.dumps({"spec": spec, "seed": int(config["seed"]), **({"fold": int(fold)} if fold else {}),
                                        "slice_channels": list(config["slices"]["channels"])},
                                       sort_keys=True, default=str).encode())
    for arr in (tr.x, tr.y, va.x, va.y):
        digest.update(np.ascontiguousarray(arr).tobytes())
    # an ensemble (spec "ensemble": k > 1) trains k members with seeds seed, seed + 7919, ...;
    # each has its own checkpoint, so a kill resumes the member it interrupted
    k = int(spec.get("ensemble", 1))
    base = int(config["seed"]) + (0 if fold is None else 1000 * int(fold))
    seeds = [base + 7919 * m for m in range(k)]
    states, hists = [], []
    images = intensity_channel_indices(spec["channels"])
    for m in range(k):
        if k > 1:
            logging.getLogger(__name__).info("ensemble member %d of %d (seed %d)", m + 1, k, seeds[m])
        state, h = train_model(tr, va, spec, seeds[m],
                               ckpt if m == 0 else ckpt.with_name(f"checkpoint_member{m + 1}.pt"),
                               config.get("device", "auto"), threads, progress=False,
                               fingerprint=digest.hexdigest() + (f":member{m + 1}" if m else ""),
                               intensity_channels=images)
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
    Path(card).write_text(json.dumps(_model_card(config, model_name, spec, tr, va, hist, seeds, fold,
                                                 len(who.get("held_out", []))), indent=1))


def _model_card(config: Mapping[str, Any], model_name: str, spec: Mapping[str, Any], tr, va, hist: pd.DataFrame,
                seeds: Sequence[int], fold: int | None, n_held_out: int) -> dict:
    """The model card of one trained network (or ensemble): data, hyperparameters, seeds,
    the selected epoch, device and versions."""
    from dlscore.train import pick_device
    k = len(seeds)
    watched = bool(len(va.y))
    best = hist.loc[hist["val_loss"].idxmin()] if watched else hist.iloc[-1]
    return {
        "model": model_name, "architecture": spec.get("arch", "sres"), "input_channels": spec["channels"],
        "data": {"training": {"patients": int(len(set(tr.patient))), "slices": int(len(tr.y)),
                              "positive_slices": int(tr.y.sum())},
                 "validation": {"patients": int(len(set(va.patient))), "slices": int(len(va.y)),
                                "positive_slices": int(va.y.sum())}},
        **({"fold": int(fold), "held_out_patients": n_held_out,
            "early_stopping": "inner validation: a stratified split.validation_fraction of this fold's training "
                              "patients (never the held-out fold)" if watched else
                              "none (split.validation_fraction 0): every training patient of the fold, all epochs"}
           if fold is not None else {}),
        "hyperparameters": dict(spec), "seed": int(config["seed"]),
        "ensemble": {"members": k, "seeds": list(seeds),
                     "combination": "mean of the members' slice probabilities"} if k > 1 else None,
        "selection": ("weights of the epoch with the lowest validation loss (early stopping)" if watched else
                      f"weights of the last epoch ({int(spec.get('epochs', 40))}; no validation patients)")
                     + (", per member" if k > 1 else ""),
        "best_epoch": int(best["epoch"]), "best_val_loss": float(best["val_loss"]) if watched else None,
        "best_val_patient_auc": float(best["val_patient_auc"]) if watched else None,
        "device": str(pick_device(config.get("device", "auto"))),
        "config_hash": config_hash(config), "package_versions": package_versions(),
    }


def fold_ensemble(config: Mapping[str, Any], model_name: str, fold_weights: Sequence[str],
                  fold_histories: Sequence[str], fold_cards: Sequence[str], weights: str, history_csv: str,
                  card: str) -> None:
    """One weights file holding the K fold networks of a cross-validated model (every
    member's state dict, ``fold_of_member``): the score step scores each development patient
    with its own fold's networks and every other patient with the mean of all of them; the
    file is also the frozen model that other studies import. History and cards are gathered
    per fold."""
    import torch

    from dlscore.models import read_weights
    members, fold_of, first = [], [], None
    for f, path in enumerate(fold_weights, 1):
        ck = read_weights(path)
        first = first or ck
        states = ck.get("member_state_dicts") or [ck["state_dict"]]
        members += states
        fold_of += [f] * len(states)
    torch.save({"state_dict": members[0], "member_state_dicts": members, "fold_of_member": fold_of,
                "spec": first["spec"], "channels": first["channels"], "slice_channels": first["slice_channels"]},
               weights)
    hist = pd.concat([pd.read_csv(h).assign(fold=f) for f, h in enumerate(fold_histories, 1)], ignore_index=True)
    write_table(hist, history_csv, config)
    cards = [json.loads(Path(c).read_text()) for c in fold_cards]
    Path(card).write_text(json.dumps({
        "model": model_name, "design": f"{config['split']['method']}: {len(cards)} folds",
        "scoring": "development patients: the networks of the fold that held them out (out-of-fold DLS); every "
                   "other patient: mean of the slice probabilities of all fold networks",
        "folds": cards, "config_hash": config_hash(config), "package_versions": package_versions()}, indent=1))
