"""Network architectures. ``build_model`` maps a config entry to a module."""

from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from dlscore.models.sres import SResCNN


def build_model(spec: Mapping[str, Any], in_channels: int) -> nn.Module:
    """Instantiate the architecture named by ``spec['arch']``."""
    arch = spec.get("arch", "sres")
    if arch == "sres":
        return SResCNN(in_channels, widths=tuple(spec.get("widths", (16, 32, 64, 128))),
                       n_features=int(spec.get("n_features", 256)), dropout=float(spec.get("dropout", 0.3)))
    raise ValueError(f"unknown architecture {arch!r} (available: sres)")


__all__ = ["SResCNN", "build_model"]
