"""Explainability of a trained slice model: Grad-CAM maps and which patients to show.

Grad-CAM (MONAI ``monai.visualize.GradCAM``) of the model's logit with respect to the
activations of its last convolutional layer, ReLU'd, upsampled to the 64 x 64 slice and
divided by its maximum per slice (0 = no evidence for a positive label, 1 = the strongest). ``SResCNN`` sees all channels at once, so one map serves every channel;
``SequenceFusion`` has one encoder per MRI sequence, so each channel gets the map of its own
encoder (a sequence the patient lacks gets a zero map).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from dlscore.models import EnsembleMean, SequenceFusion, SResCNN


class _Logit2D(nn.Module):
    """(N,) logit -> (N, 1), the class-score layout MONAI's CAM classes expect; ``sign`` -1 gives
    the negative class's score (the logit of "label 0")."""

    def __init__(self, net: nn.Module, sign: float = 1.0):
        super().__init__()
        self.net, self.sign = net, sign

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sign * self.net(x).unsqueeze(1)


def cam_layers(model: nn.Module, prefix: str = "net.") -> list[tuple[int | None, str]]:
    """(input channel, target layer) pairs as module names of the wrapped model (prefix
    ``net.``); channel ``None``: the layer sees all channels. An ensemble lists every
    member's layers; their maps are averaged."""
    if isinstance(model, SResCNN):
        return [(None, f"{prefix}project")]  # the last convolution (1 x 1 projection to the deep features)
    if isinstance(model, SequenceFusion):
        return [(i, f"{prefix}encoders.{i}.layer4") for i in range(len(model.encoders))]
    if isinstance(model, EnsembleMean):
        return [pair for i, m in enumerate(model.members) for pair in cam_layers(m, f"{prefix}members.{i}.")]
    raise TypeError(f"no Grad-CAM target layer known for {type(model).__name__}")


def scale_maps(m: np.ndarray) -> np.ndarray:
    """Scale each map (N, H, W) of non-negative importance to [0, 1] by its maximum; a map
    without any positive evidence stays 0 (it is not stretched to look important)."""
    m = np.clip(np.nan_to_num(m), 0, None)
    peak = m.reshape(len(m), -1).max(axis=1)
    return np.where(peak[:, None, None] > 0, m / np.where(peak > 0, peak, 1)[:, None, None], 0.0).astype(np.float32)


def gradcam_maps(model: nn.Module, x: np.ndarray, device: torch.device | str = "cpu",
                 negative: bool = False) -> np.ndarray:
    """Grad-CAM maps for slices ``x`` (N, C, H, W) float32 -> (N, C, H, W) in [0, 1]: the evidence
    for the positive class (the logit), or with ``negative`` for the negative class (minus the
    logit), as the PET/CT paper's positive and negative filters.

    The model is put in eval mode (BatchNorm running statistics, no dropout); its weights
    are not changed. Channel c's map explains the score through the layer that sees c."""
    from monai.visualize import GradCAM
    model = model.to(device).eval()
    wrapped = _Logit2D(model, -1.0 if negative else 1.0)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
    out = np.zeros(x.shape, np.float32)
    count = np.zeros(x.shape[1], np.float32)
    for channel, layer in cam_layers(model):
        # MONAI's default post-processing maps (min, max) to (1, 0) — it flips importance —
        # so the raw (ReLU'd, upsampled) maps are taken and scaled here
        cam = GradCAM(nn_module=wrapped, target_layers=layer, postprocessing=lambda t: t)
        with torch.enable_grad():
            m = scale_maps(cam(x=xt, class_idx=0).detach().float().cpu().numpy()[:, 0])  # (N, H, W)
        if channel is None:
            out += m[:, None]
            count += 1
        else:
            out[:, channel] += m
            count[channel] += 1
    out /= np.maximum(count, 1)[None, :, None, None]
    # a missing MRI sequence (all-zero channel) explains nothing
    out[np.abs(x).reshape(*x.shape[:2], -1).max(axis=2) == 0] = 0.0
    return out


def activation_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of each residual stage whose output the activation figure shows: the four
    stages of ``SResCNN``, ``layer1``-``layer4`` of the first sequence's ResNet encoder of
    ``SequenceFusion``; an ensemble shows its first member."""
    if isinstance(model, EnsembleMean):
        return activation_layers(model.members[0])
    if isinstance(model, SResCNN):
        return [(f"residual block {i + 1}", m) for i, m in enumerate(model.stages)]
    if isinstance(model, SequenceFusion):
        enc = model.encoders[0]
        return [(f"{name} (sequence 1)", getattr(enc, name)) for name in ("layer1", "layer2", "layer3", "layer4")
                if hasattr(enc, name)]
    raise TypeError(f"no residual stages known for {type(model).__name__}")


def activation_maps(model: nn.Module, x: np.ndarray, device: torch.device | str = "cpu"
                    ) -> list[tuple[str, np.ndarray]]:
    """The output of every residual stage (:func:`activation_layers`) for slices ``x`` (N, C, H, W):
    its mean over feature channels, upsampled (bilinear) to H x W and scaled to [0, 1] per slice
    (:func:`scale_maps`): (name, (N, H, W)) per stage, shallow to deep."""
    model = model.to(device).eval()
    grabbed: list[torch.Tensor] = []
    layers = activation_layers(model)
    hooks = [m.register_forward_hook(lambda _m, _i, out: grabbed.append(out.detach())) for _, m in layers]
    try:
        with torch.no_grad():
            model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device))
    finally:
        for h in hooks:
            h.remove()
    out = []
    for (name, _), act in zip(layers, grabbed):
        mean = act.float().mean(dim=1, keepdim=True)
        up = nn.functional.interpolate(mean, size=x.shape[2:], mode="bilinear", align_corners=False)
        out.append((name, scale_maps(up[:, 0].cpu().numpy())))
    return out


def feature_clusters(features: np.ndarray, k: int) -> np.ndarray:
    """Cluster of every patient (1..k) from its deep features (n, F): Ward linkage on Euclidean
    distances of the z-scored features (the clustering of the heat-map), cut into ``k`` clusters."""
    from scipy.cluster.hierarchy import fcluster, linkage
    f = np.asarray(features, float)
    sd = f.std(axis=0)
    z = np.clip((f - f.mean(axis=0)) / np.where(sd > 0, sd, 1), -3, 3)
    return fcluster(linkage(z, method="ward", metric="euclidean"), t=k, criterion="maxclust")


def pick_patients(scores: pd.DataFrame, n_per_class: int, seed: int,
                  prefer: Sequence[str] = ("external", "validation", "development", "training")) -> pd.DataFrame:
    """Rows of ``scores`` (columns patient_id, label, dls, split) to explain: ``n_per_class``
    positives and negatives drawn with ``seed`` from the first split of ``prefer`` that has
    both classes; sorted by label, then DLS (descending)."""
    for split in prefer:
        sub = scores[scores["split"] == split]
        if sub["label"].nunique() == 2:
            break
    else:
        sub = scores
    rng = np.random.default_rng(seed)
    parts = []
    for lab in (1, 0):
        cls = sub[sub["label"] == lab].sort_values("patient_id")
        take = rng.choice(len(cls), size=min(n_per_class, len(cls)), replace=False) if len(cls) else []
        parts.append(cls.iloc[sorted(take)])
    return pd.concat(parts).sort_values(["label", "dls"], ascending=[False, False]).reset_index(drop=True)


def central_slice(images: np.ndarray, areas: np.ndarray | None = None) -> int:
    """Index of the slice to show for a patient: the one with the largest tumour area
    (``areas`` (n,) in mm^2, if stored) else the middle slice."""
    if areas is not None and len(areas):
        return int(np.argmax(areas))
    return len(images) // 2


__all__ = ["activation_layers", "activation_maps", "cam_layers", "central_slice", "feature_clusters", "gradcam_maps",
           "pick_patients", "scale_maps"]
