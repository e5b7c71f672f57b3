"""Scoring with a frozen model: patient DLS = mean of its slice probabilities."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from dlscore.slices import SliceSet
from dlscore.train import predict_slices


def score_patients(model: nn.Module, slice_sets: Mapping[tuple[str, str], SliceSet],
                   device: torch.device, channels: Sequence[str] = ()
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Scores, deep features and (fusion models) attention of every (patient, rater).

    Returns ``scores`` (patient_id, rater, dls, n_slices, slice_sd), ``features``
    (patient_id, rater, f000 ... f255: mean of the slice features) and ``attention``
    (patient_id, rater, attention_<channel>: mean over slices of the [CLS] attention to each
    sequence; empty with a note for models without attention).
    """
    rows, feats, attn = [], [], []
    for (pid, rater), ss in slice_sets.items():
        p, f = predict_slices(model, ss.images, device, with_features=True)
        a = getattr(model, "last_attention", None)
        if a is not None and len(ss.images) <= 256:
            attn.append({"patient_id": pid, "rater": rater,
                         **{f"attention_{c}": float(v) for c, v in zip(channels, a.float().cpu().numpy().mean(axis=0))}})
        rows.append({"patient_id": pid, "rater": rater, "dls": float(np.mean(p)),
                     "n_slices": int(len(p)), "slice_sd": float(np.std(p))})
        feats.append({"patient_id": pid, "rater": rater,
                      **{f"f{j:03d}": float(v) for j, v in enumerate(f.mean(axis=0))}})
    if not attn:
        attention = pd.DataFrame({"note": ["this model has no attention over sequences"]})
    else:
        attention = pd.DataFrame(attn)
    return pd.DataFrame(rows), pd.DataFrame(feats), attention
