"""Network architectures. ``build_model`` maps a config entry to a module."""

from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from dlscore.models.ensemble import EnsembleMean
from dlscore.models.seqfusion import SequenceFusion
from dlscore.models.sres import SResCNN


def build_model(spec: Mapping[str, Any], in_channels: int) -> nn.Module:
    """Instantiate the architecture named by ``spec['arch']``."""
    arch = spec.get("arch", "sres")
    if arch == "sres":
        return SResCNN(in_channels, widths=tuple(spec.get("widths", (16, 32, 64, 128))),
                       n_features=int(spec.get("n_features", 256)), dropout=float(spec.get("dropout", 0.3)))
    if arch == "seqfusion":
        return SequenceFusion(in_channels, depth=int(spec.get("depth", 101)), width=int(spec.get("width", 64)),
                              d_model=int(spec.get("n_features", 256)), heads=int(spec.get("heads", 4)),
                              layers=int(spec.get("layers", 1)), dropout=float(spec.get("dropout", 0.1)))
    raise ValueError(f"unknown architecture {arch!r} (available: sres, seqfusion)")


def load_trained(checkpoint: Mapping[str, Any], in_channels: int) -> nn.Module:
    """The network saved by the ``train`` stage (``weights.pt`` contents): one model, or an
    :class:`EnsembleMean` when it holds ``member_state_dicts`` (``models.<name>.ensemble`` > 1)."""
    states = checkpoint.get("member_state_dicts") or [checkpoint["state_dict"]]
    members = []
    for state in states:
        m = build_model(checkpoint["spec"], in_channels)
        m.load_state_dict(state)
        members.append(m)
    return members[0] if len(members) == 1 else EnsembleMean(members)


__all__ = ["EnsembleMean", "SResCNN", "SequenceFusion", "build_model", "load_trained"]
