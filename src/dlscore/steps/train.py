"""The training step (workflow/rules/train.smk)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from dlscore.config import config_hash, package_versions
from dlscore.tables import write_table


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
