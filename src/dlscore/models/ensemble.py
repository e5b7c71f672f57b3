"""Ensemble of several trained networks of one architecture (e.g. 5 SResCNNs from 5 seeds).

The slice probability is the mean of the members' probabilities (not of their logits);
``features`` concatenates the members' deep features (N, k * F), and ``head`` maps that
concatenation back to the logit of the mean probability, so code written for one network
(``predict_slices``: sigmoid(head(features(x)))) scores an ensemble unchanged.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class _MeanProbabilityHead(nn.Module):
    def __init__(self, heads: Sequence[nn.Module], n_features: int):
        super().__init__()
        self.heads = nn.ModuleList(heads)
        self.n_features = n_features

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """f: (N, k * F) -> (N, 1) logit of the mean member probability."""
        chunks = f.split(self.n_features, dim=1)
        p = torch.stack([torch.sigmoid(h(c)) for h, c in zip(self.heads, chunks)]).mean(dim=0)
        p = p.clamp(1e-7, 1 - 1e-7)
        return torch.log(p) - torch.log1p(-p)


class EnsembleMean(nn.Module):
    """Mean-probability ensemble of ``members`` (each with ``features`` and ``head``)."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        n_features = members[0].head.in_features
        self.head = _MeanProbabilityHead([m.head for m in members], n_features)

    @property
    def last_attention(self) -> torch.Tensor | None:
        """Mean over members of their [CLS] attention (fusion members), else None."""
        att = [getattr(m, "last_attention", None) for m in self.members]
        return torch.stack(att).mean(dim=0) if all(a is not None for a in att) else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.features(x) for m in self.members], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)
