"""Scoring with a frozen model: patient DLS = mean of its slice probabilities."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn

from dlscore.slices import SliceSet
from dlscore.train import predict_slices


def score_patients(model: nn.Module, slice_sets: Mapping[tuple[str, str], SliceSet],
                   device: torch.device) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and deep features of every (patient, rater).

    Returns ``scores`` (patient_id, rater, dls, n_slices, slice_sd) and ``features``
    (patient_id, rater, f000 ... f255: mean of the slice features).
    """
    rows, feats = [], []
    for (pid, rater), ss in slice_sets.items():
        p, f = predict_slices(model, ss.images, device, with_features=True)
        rows.append({"patient_id": pid, "rater": rater, "dls": float(np.mean(p)),
                     "n_slices": int(len(p)), "slice_sd": float(np.std(p))})
        feats.append({"patient_id": pid, "rater": rater,
                      **{f"f{j:03d}": float(v) for j, v in enumerate(f.mean(axis=0))}})
    return pd.DataFrame(rows), pd.DataFrame(feats)
