"""Losses of the super-resolution generator (SPEC E6): pixel (L1), perceptual and adversarial.

A perceptual loss compares images in the feature space of a trained network (Johnson et
al., ECCV 2016, used VGG on ImageNet). No ImageNet weights can be downloaded here, and
features of tissue suit tissue better anyway, so the features are those of PathoDesk's own
shipped lung tile classifier (a MobileNetV3 trained on LC25000 H&E tiles): its stem and
first three inverted-residual stages (strides 2 to 8), frozen, on the classifier's own
input normalization.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import torch
from torch import nn
from torch.nn import functional

from pathodesk.ml.model_file import load_model

FEATURE_STAGES = 3  # MobileNetV3 stages kept: edges and nuclei, not the classes


class TissueFeatures(nn.Module):
    """The early layers of a trained timm EfficientNet/MobileNet tile model, frozen."""

    def __init__(self, model_file: Path) -> None:
        super().__init__()
        loaded = load_model(model_file)
        parts = [getattr(loaded.model, name, None) for name in ("conv_stem", "bn1", "blocks")]
        if not all(isinstance(part, nn.Module) for part in parts):
            raise ValueError(f"{loaded.arch}: perceptual features need a timm EfficientNet/MobileNet")
        stem, norm, blocks = (cast(nn.Module, part) for part in parts)
        stages = list(blocks.children())[:FEATURE_STAGES]
        self.layers = nn.Sequential(stem, norm, *stages).to(memory_format=torch.contiguous_format)
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(loaded.normalization.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(loaded.normalization.std).view(1, 3, 1, 1))
        self.eval()
        for parameter in self.parameters():
            parameter.requires_grad_(False)

    def train(self, mode: bool = True) -> TissueFeatures:
        return super().train(False)  # batch statistics stay the classifier's

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.layers((image - self.mean) / self.std)


def perceptual_loss(features: TissueFeatures, generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    return functional.l1_loss(features(generated), features(real))


def adversarial_loss(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Binary cross-entropy of the patch scores against all-real or all-generated."""
    target = torch.ones_like(scores) if real else torch.zeros_like(scores)
    return functional.binary_cross_entropy_with_logits(scores, target)
