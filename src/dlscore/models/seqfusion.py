"""Per-sequence ResNet encoders fused by a transformer with attention (MRI study design).

Input (N, S, H, W): one channel per MRI sequence, in [0, 1]. Each sequence has its own
2D ResNet (MONAI; depth 101 = bottleneck blocks (3, 4, 23, 3), trained from scratch)
giving one embedding per sequence; a linear projection to ``d_model`` plus a learned
sequence-type embedding makes one token per sequence. A learned [CLS] token attends to
the sequence tokens through ``layers`` transformer blocks; the [CLS] output is the
``d_model``-dimensional deep feature vector and feeds the logit.

**Missing sequences**: a channel that is exactly 0 everywhere on a slice is a sequence the
patient does not have (the slicer writes zeros for it; a present z-scored sequence is never
all-zero). Its token is masked out of the attention (key padding mask), so the score uses
only the sequences the patient has. ``last_attention`` holds the [CLS] attention weights
over the S sequence tokens (N, S; renormalised over the sequence tokens so rows sum to 1; 0 for missing) of the last forward pass.
"""

from __future__ import annotations

import torch
from monai.networks.nets import ResNet
from torch import nn

DEPTHS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)),
          50: ("bottleneck", (3, 4, 6, 3)), 101: ("bottleneck", (3, 4, 23, 3))}


def resnet2d(depth: int, width: int) -> tuple[nn.Module, int]:
    """A 1-channel 2D MONAI ResNet without classifier; returns (module, feature dim)."""
    block, layers = DEPTHS[depth]
    net = ResNet(block=block, layers=list(layers), block_inplanes=[width, 2 * width, 4 * width, 8 * width],
                 spatial_dims=2, n_input_channels=1, conv1_t_size=7, conv1_t_stride=2, feed_forward=False)
    return net, 8 * width * (4 if block == "bottleneck" else 1)


class FusionBlock(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * d, d))
        self.norm2 = nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, w = self.attn(x, x, x, key_padding_mask=pad, need_weights=True, average_attn_weights=True)
        x = self.norm1(x + self.drop(a))
        return self.norm2(x + self.drop(self.ff(x))), w


class SequenceFusion(nn.Module):
    def __init__(self, n_sequences: int, depth: int = 101, width: int = 64, d_model: int = 256,
                 heads: int = 4, layers: int = 1, dropout: float = 0.1):
        super().__init__()
        encs, dims = zip(*(resnet2d(depth, width) for _ in range(n_sequences)))
        self.encoders = nn.ModuleList(encs)
        self.project = nn.Linear(dims[0], d_model)
        self.seq_embedding = nn.Parameter(torch.zeros(n_sequences, d_model))
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        nn.init.normal_(self.seq_embedding, std=0.02)
        nn.init.normal_(self.cls, std=0.02)
        self.blocks = nn.ModuleList(FusionBlock(d_model, heads, dropout) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, 1)
        self.last_attention: torch.Tensor | None = None

    @staticmethod
    def present(x: torch.Tensor) -> torch.Tensor:
        """(N, S) bool: which sequences a slice has (not all-zero)."""
        return x.flatten(2).abs().amax(dim=2) > 0

    def features(self, x: torch.Tensor) -> torch.Tensor:
        present = self.present(x)
        tokens = torch.stack([enc(x[:, i:i + 1]) for i, enc in enumerate(self.encoders)], dim=1)
        tokens = self.project(tokens) + self.seq_embedding
        h = torch.cat([self.cls.expand(len(x), -1, -1), tokens], dim=1)
        pad = torch.cat([torch.zeros_like(present[:, :1]), ~present], dim=1)
        w = None
        for blk in self.blocks:
            h, w = blk(h, pad)
        if w is not None:  # [CLS] -> sequence tokens, renormalised over the sequences
            a = w[:, 0, 1:].detach()
            self.last_attention = a / a.sum(dim=1, keepdim=True).clamp_min(1e-12)
        return h[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x))).squeeze(1)
