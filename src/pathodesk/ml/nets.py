"""Networks: the seed recipe's ShortcutConcatNet (SPEC B5) and timm backbones from scratch.

ShortcutConcatNet counts its 33 convolutions in four stages whose last layers are 1, 10, 15
and 33 (the taps B5 names):

    layer 1        stem conv, stride 2                        -> tap 1
    layers 2-10    transition conv + 4 residual blocks (2 convs each)   -> tap 10
    layers 11-15   max pool, transition conv + 2 residual blocks        -> tap 15
    layers 16-33   max pool, 2 x (transition conv + 4 residual blocks)  -> tap 33

Each tap is pooled to the same 4 x 4 grid and the four are concatenated on the channel axis
before a two-layer fully connected head; LeakyReLU throughout, max pooling between stages,
softmax on the output (applied by the loss in training and by ``predict_proba``).
Widths are small so that it trains on two CPU cores.
"""

from __future__ import annotations

import torch
from torch import nn

TAP_LAYERS = (1, 10, 15, 33)
POOLED_SIZE = 4
SEED_ARCH = "shortcut-concat"


def _conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.1, inplace=True),
    )


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with an identity shortcut."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.first = _conv(channels, channels)
        self.second = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        )
        self.activation = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(x + self.second(self.first(x)))


def _stage(in_channels: int, out_channels: int, blocks: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.MaxPool2d(2)] if pool else []
    layers.append(_conv(in_channels, out_channels))
    layers += [ResidualBlock(out_channels) for _ in range(blocks)]
    return nn.Sequential(*layers)


class ShortcutConcatNet(nn.Module):
    def __init__(self, num_classes: int, widths: tuple[int, int, int, int] = (16, 24, 48, 96)) -> None:
        super().__init__()
        w1, w2, w3, w4 = widths
        self.stem = _conv(3, w1, stride=2)  # layer 1
        self.stage10 = nn.Sequential(nn.MaxPool2d(2), _stage(w1, w2, blocks=4, pool=False))  # 2-10
        self.stage15 = _stage(w2, w3, blocks=2, pool=True)  # 11-15
        self.stage33 = nn.Sequential(  # 16-33
            _stage(w3, w4, blocks=4, pool=True), _stage(w4, w4, blocks=4, pool=True)
        )
        self.pool = nn.AdaptiveAvgPool2d(POOLED_SIZE)
        concatenated = (w1 + w2 + w3 + w4) * POOLED_SIZE * POOLED_SIZE
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(concatenated, 256),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Dropout(0.3),
            nn.Linear(256, num_classes),
        )

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of layers 1, 10, 15 and 33."""
        t1 = self.stem(x)
        t10 = self.stage10(t1)
        t15 = self.stage15(t10)
        t33 = self.stage33(t15)
        return [t1, t10, t15, t33]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = [self.pool(tap) for tap in self.taps(x)]
        return self.head(torch.cat(pooled, dim=1))


def build_model(arch: str, num_classes: int) -> nn.Module:
    """``shortcut-concat`` (B5), the cascade's networks (``cascade_nets``), the multi-stain
    fusion network (``fusion_nets``) or any timm name,
    randomly initialised: no pretrained weights can be downloaded here, and none are needed
    to reproduce a model."""
    if arch == SEED_ARCH:
        return ShortcutConcatNet(num_classes)
    from pathodesk.ml.cascade_nets import cascade_model
    from pathodesk.ml.fusion_nets import fusion_model

    if (cascade := cascade_model(arch, num_classes)) is not None:
        return cascade
    if (fusion := fusion_model(arch, num_classes)) is not None:
        return fusion
    import timm

    return timm.create_model(arch, pretrained=False, num_classes=num_classes)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
