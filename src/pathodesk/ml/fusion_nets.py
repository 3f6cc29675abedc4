"""The multi-stain lesion classifier (SPEC D6): one CNN branch per stain, a squeeze-and-
excitation block that weighs the stains (Hu et al., CVPR 2018, with the stains as its
channels), dropout, and one linear layer to the classes (softmax in the loss).

The seed's branch: 5 × 5 conv, 64 maps → max-pool → 5 × 5 conv, 64 maps → FC 512, on 28 × 28
patches. Beyond the seed, a branch can be a small timm backbone (random start: no pretrained
weights can be downloaded here) pooled and projected to the same 512 features.

Arch names, as stored in a model file: ``stain-fusion-<stains>`` (seed branches) and
``stain-fusion-<stains>:<timm name>``. One stain is the single-stain baseline: the same
branch and head, its SE gate a single weight.
"""

from __future__ import annotations

import torch
from torch import nn

FUSION_PREFIX = "stain-fusion-"
FEATURES = 512
SEED_PATCH_PX = 28


def fusion_arch(stains: int, backbone: str | None = None) -> str:
    return f"{FUSION_PREFIX}{stains}" + (f":{backbone}" if backbone else "")


def parse_fusion_arch(arch: str) -> tuple[int, str | None] | None:
    """(stains, backbone or None) of a fusion arch name; None for any other name."""
    if not arch.startswith(FUSION_PREFIX):
        return None
    count, _, backbone = arch.removeprefix(FUSION_PREFIX).partition(":")
    return int(count), backbone or None


class SeedBranch(nn.Module):
    """5 × 5 conv 64 → ReLU → max-pool 2 → 5 × 5 conv 64 → ReLU → FC 512 → ReLU (D6). Patches
    larger than 28 px are max-pooled to the 14 × 14 map the FC layer expects."""

    def __init__(self) -> None:
        super().__init__()
        side = SEED_PATCH_PX // 2
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.AdaptiveMaxPool2d(side),
        )
        self.project = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * side * side, FEATURES), nn.ReLU(inplace=True)
        )

    def forward(self, patch: torch.Tensor) -> torch.Tensor:
        return self.project(self.features(patch))


class BackboneBranch(nn.Module):
    """A timm backbone, globally pooled, projected to ``FEATURES``."""

    def __init__(self, name: str) -> None:
        super().__init__()
        import timm

        self.body = timm.create_model(name, pretrained=False, num_classes=0)
        width = int(self.body.num_features)  # type: ignore[arg-type]
        self.project = nn.Sequential(nn.Linear(width, FEATURES), nn.ReLU(inplace=True))

    def forward(self, patch: torch.Tensor) -> torch.Tensor:
        return self.project(self.body(patch))


class StainExcitation(nn.Module):
    """Squeeze (each stain's branch features averaged to one number) → FC → ReLU → FC →
    sigmoid: one weight in (0, 1) per stain, by which its features are scaled."""

    def __init__(self, stains: int) -> None:
        super().__init__()
        hidden = max(4, 2 * stains)  # with a handful of stains, no reduction: widen instead
        self.gate = nn.Sequential(
            nn.Linear(stains, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, stains), nn.Sigmoid()
        )

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, stains, features) → the same scaled, and the weights (batch, stains)."""
        weights = self.gate(features.mean(dim=2))
        return features * weights.unsqueeze(2), weights


class StainFusionNet(nn.Module):
    """Input (batch, stains, 3, H, W): each stain through its own branch, weighed by SE,
    concatenated, dropout, linear to the classes. ``last_weights`` keeps the SE weights of
    the latest forward pass (what the product shows: which stain the model leaned on)."""

    def __init__(
        self,
        stains: int,
        num_classes: int,
        backbone: str | None = None,
        dropout: float = 0.5,
        stain_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            BackboneBranch(backbone) if backbone else SeedBranch() for _ in range(stains)
        )
        self.excitation = StainExcitation(stains)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(stains * FEATURES, num_classes))
        self.stain_dropout = stain_dropout
        self.last_weights: torch.Tensor | None = None

    def forward(self, stacks: torch.Tensor) -> torch.Tensor:
        features = torch.stack(
            [branch(stacks[:, index]) for index, branch in enumerate(self.branches)], dim=1
        )
        if self.training and self.stain_dropout > 0 and features.shape[1] > 1:
            features = features * self._kept_stains(features)
        weighted, self.last_weights = self.excitation(features)
        return self.head(weighted.flatten(1))

    def _kept_stains(self, features: torch.Tensor) -> torch.Tensor:
        """Stain dropout (modality dropout): in training, each stain of a sample is silenced
        with probability ``stain_dropout`` (never all of them), so no branch can lean on the
        others and each learns what its stain shows alone. (batch, stains, 1) of 0 / 1."""
        keep = torch.rand(features.shape[:2], device=features.device) >= self.stain_dropout
        silent = ~keep.any(dim=1)
        keep[silent, torch.randint(features.shape[1], (int(silent.sum()),))] = True
        return keep.unsqueeze(2).to(features.dtype)


def fusion_model(arch: str, num_classes: int) -> nn.Module | None:
    parsed = parse_fusion_arch(arch)
    if parsed is None:
        return None
    stains, backbone = parsed
    return StainFusionNet(stains, num_classes, backbone)
