"""The cascade's two networks (SPEC C1, C2).

Stage 1, ``CoarseAttentionNet`` (C1): a small fully convolutional network over the whole
tissue at low power (one fine tile's footprint is ``COARSE_CELL_PX`` = 28 px: 2.5×, 4 µm/px
when the fine model reads 20×). Its features are weighted by a *spatial attention* map
built as in CBAM's spatial module (Woo et al., "CBAM: Convolutional Block Attention Module",
ECCV 2018: channel-wise mean and max, a 7 × 7 convolution, a sigmoid); unlike CBAM the map
is also supervised, with the lesion mask as its target, so it is an objectness map (the
role of the objectness score in Faster R-CNN's region proposals, Ren et al. 2015). A 1 × 1
convolution over the attended features gives the coarse grade at every position.

Stage 2, ``PyramidClassifier`` (C2): a timm backbone's feature maps at strides 4, 8, 16 and
32, fused top-down by torchvision's ``FeaturePyramidNetwork`` (Lin et al., CVPR 2017); every
level is pooled and the four are concatenated before the classifier, so the grade sees
nuclei (fine levels) and architecture (coarse levels) together.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional

COARSE_ARCH = "coarse-attention"
PYRAMID_PREFIX = "fpn-"  # "fpn-<timm name>": a feature pyramid over that backbone
COARSE_CELL_PX = 28  # low-power pixels per fine tile: 1/8 of a 224 px tile (2.5× for a 20× model)
COARSE_STRIDE = 4  # input pixels per output position


def _conv(in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SpatialAttention(nn.Module):
    """CBAM's spatial attention: where to look, from the channels' mean and maximum."""

    def __init__(self, kernel: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Attention logits, one channel (the sigmoid is applied by the caller)."""
        summary = torch.cat([features.mean(dim=1, keepdim=True), features.amax(dim=1, keepdim=True)], dim=1)
        return self.conv(summary)


def _separable(channels: int, dilation: int) -> nn.Sequential:
    """A depthwise 3 x 3 then pointwise convolution (MobileNet's block): a ninth of a full
    convolution's work, which is what makes one pass over the whole tissue cheap."""
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, groups=channels, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, 1, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
    )


class CoarseAttentionNet(nn.Module):
    """Low-power image -> (grade logits, attention logits), both at 1/4 of its size.

    A 4 x 4 stride-4 stem, then separable blocks at growing dilation: the receptive field
    (76 px) spans almost three fine tiles' footprints, so a position sees its tile and the
    tissue around it, as a pathologist's eye does at low power."""

    def __init__(self, num_grades: int, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, COARSE_STRIDE, stride=COARSE_STRIDE, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            *(_separable(width, dilation) for dilation in (1, 2, 2, 4)),
        )
        self.attention = SpatialAttention()
        self.grade = nn.Conv2d(width, num_grades, 1)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(image)
        attention = self.attention(features)
        return self.grade(features * torch.sigmoid(attention)), attention


class PyramidClassifier(nn.Module):
    """A classifier over the feature pyramid of a timm backbone (C2's multi-scale grader)."""

    def __init__(self, backbone: str, num_classes: int, channels: int = 64) -> None:
        super().__init__()
        import timm
        from torchvision.ops import FeaturePyramidNetwork

        self.body = timm.create_model(
            backbone, pretrained=False, features_only=True, out_indices=(1, 2, 3, 4)
        )
        channels_in = self.body.feature_info.channels()  # type: ignore[union-attr,operator]
        self.fpn = FeaturePyramidNetwork(list(channels_in), channels)
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(4 * channels, num_classes))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        levels = OrderedDict((str(i), level) for i, level in enumerate(self.body(image)))
        pooled = [functional.adaptive_avg_pool2d(level, 1).flatten(1) for level in self.fpn(levels).values()]
        return self.head(torch.cat(pooled, dim=1))


def cascade_model(arch: str, num_classes: int) -> nn.Module | None:
    """The network an arch name stands for, when it is one of the cascade's."""
    if arch == COARSE_ARCH:
        return CoarseAttentionNet(num_classes)
    if arch.startswith(PYRAMID_PREFIX):
        return PyramidClassifier(arch.removeprefix(PYRAMID_PREFIX), num_classes)
    return None


def load_backbone(model: nn.Module, state: dict[str, torch.Tensor]) -> int:
    """Start a pyramid classifier's backbone from a tile classifier of the same timm
    architecture (its stem and blocks carry over; its head does not). Returns how many
    tensors were taken."""
    body = model.body if isinstance(model, PyramidClassifier) else model
    own = body.state_dict()
    taken = {name: value for name, value in state.items() if name in own and own[name].shape == value.shape}
    body.load_state_dict(taken, strict=False)
    return len(taken)
