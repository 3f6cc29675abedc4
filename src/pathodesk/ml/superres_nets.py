"""Super-resolution networks (SPEC E6): a fully convolutional generator for ×4 and ×8 and
the patch discriminator of its adversarial loss.

Generator: encoder (a 5 × 5 conv from RGB to ``width`` maps), residual body (``blocks``
residual blocks of two 3 × 3 convs, a long skip around them), decoder (log2(scale) steps
of conv → pixel shuffle ×2, halving the maps each step; the last step's conv makes the RGB
sub-pixels themselves, as ESPCN, so no conv runs at the output's size). Almost all work is
done at the input's resolution, which is what makes a 254-px tile cheap on
two CPU cores. The network predicts the difference to the bicubic enlargement of its
input (a global residual, as VDSR), so an untrained one already gives bicubic and training
only has to learn the detail. No fully connected layer: any input size works.

Discriminator: a PatchGAN (Isola et al., CVPR 2017): strided 4 × 4 convs ending in a map of
real/generated scores, one per overlapping patch, so it judges texture, not layout.

Arch names, as stored in a model file: ``ml.superres_arch``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional

from pathodesk.errors import ValidationFailedError
from pathodesk.ml.superres_arch import DEFAULT_BLOCKS, DEFAULT_WIDTH, SUPERRES_SCALES, parse_superres_arch

# The margin of stored pixels every region is enlarged with (``analysis.superres``,
# ``slides.superresolved``). A generator must not see further, or tiles show seams.
CONTEXT_LOW_PX = 20


class ReachBeyondMarginError(ValidationFailedError, ValueError):
    """A generator too deep for the margin (a ValueError too, as a bad size is)."""


def reach_low_px(scale: int, blocks: int) -> float:
    """How far an output pixel sees, in input pixels: the 5 × 5 encoder (2), two 3 × 3 convs
    a block and the body's last (2·blocks + 1), then the decoder's 3 × 3 convs, the first at
    the input's size (1), each later one at twice the last one's size (½, ¼)."""
    decoder_convs = int(math.log2(scale))
    return 2 + 2 * blocks + 1 + sum(0.5**step for step in range(decoder_convs))


def check_reach(scale: int, blocks: int) -> None:
    """Refuse a generator that would see past the margin (wherever one is built or asked for)."""
    if reach_low_px(scale, blocks) > CONTEXT_LOW_PX:
        raise ReachBeyondMarginError(
            "%(blocks)s residual blocks see further than the %(margin)s-pixel margin each tile"
            " is enlarged with, so tiles would show seams: use fewer blocks",
            blocks=blocks,
            margin=CONTEXT_LOW_PX,
        )


class _Residual(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.body(x)  # residual scaling keeps deep bodies stable (EDSR)


class SuperResolutionNet(nn.Module):
    """RGB in [0, 1], (batch, 3, h, w) → (batch, 3, scale·h, scale·w), any h and w."""

    def __init__(self, scale: int, width: int = DEFAULT_WIDTH, blocks: int = DEFAULT_BLOCKS) -> None:
        super().__init__()
        if scale not in SUPERRES_SCALES:
            raise ValueError(f"scale must be one of {SUPERRES_SCALES}")
        check_reach(scale, blocks)
        self.scale = scale
        self.encoder = nn.Conv2d(3, width, 5, padding=2)
        self.body = nn.Sequential(
            *(_Residual(width) for _ in range(blocks)), nn.Conv2d(width, width, 3, padding=1)
        )
        steps: list[nn.Module] = []
        maps = width
        for _ in range(int(math.log2(scale)) - 1):
            out = max(16, maps // 2)
            steps += [nn.Conv2d(maps, out * 4, 3, padding=1), nn.PixelShuffle(2), nn.ReLU(inplace=True)]
            maps = out
        last = nn.Conv2d(maps, 3 * 4, 3, padding=1)  # the last ×2 lands on RGB directly (ESPCN)
        nn.init.zeros_(last.weight)  # start as bicubic: the residual begins at zero
        assert last.bias is not None
        nn.init.zeros_(last.bias)
        self.decoder = nn.Sequential(*steps, last, nn.PixelShuffle(2))

    def forward(self, low: torch.Tensor) -> torch.Tensor:
        encoded = self.encoder(low)
        detail = self.decoder(encoded + self.body(encoded))
        base = functional.interpolate(low, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base + detail


class PatchDiscriminator(nn.Module):
    """(batch, 3, H, W) → (batch, 1, H/8, W/8) scores (logits): real texture high."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        maps = width
        for _ in range(2):
            layers += [
                nn.Conv2d(maps, maps * 2, 4, 2, 1),
                nn.InstanceNorm2d(maps * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            maps *= 2
        layers.append(nn.Conv2d(maps, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)


def superres_model(arch: str) -> SuperResolutionNet | None:
    parsed = parse_superres_arch(arch)
    if parsed is None:
        return None
    scale, width, blocks = parsed
    return SuperResolutionNet(scale, width, blocks)
