"""SResCNN: the small residual CNN of the PET/CT study (Mu et al., JITC 2021, fig. S2).

Input (N, C, 64, 64) hyper-images in [0, 1]; a stride-2 stem, four residual stages (the
last three downsample by 2), a 1x1 projection to ``n_features`` (256) channels, global
average pooling -> the 256-d deep features, dropout and one logit. ``forward`` returns the
logit (N,); the sigmoid of it is the slice probability. ``features`` returns (N, 256).
The last convolution (``model.project``) is the Grad-CAM target layer.
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity() if (stride == 1 and c_in == c_out) else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + self.shortcut(x))


class SResCNN(nn.Module):
    def __init__(self, in_channels: int = 3, widths: tuple[int, ...] = (16, 32, 64, 128),
                 n_features: int = 256, dropout: float = 0.3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        stages, c = [], widths[0]
        for i, w in enumerate(widths):
            stages.append(ResidualBlock(c, w, stride=1 if i == 0 else 2))
            c = w
        self.stages = nn.Sequential(*stages)
        self.project = nn.Sequential(nn.Conv2d(c, n_features, 1, bias=False), nn.BatchNorm2d(n_features),
                                     nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(n_features, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.project(self.stages(self.stem(x)))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x))).squeeze(1)
