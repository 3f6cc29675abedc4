"""Super-resolution arch names, as stored in a model file (``superres-x4-w48b6``: scale,
width, residual blocks), written and read without torch: the registry files a model by its
scale whenever the database opens."""

from __future__ import annotations

import re

SUPERRES_SCALES = (4, 8)
DEFAULT_WIDTH = 48
DEFAULT_BLOCKS = 6
_ARCH = re.compile(r"^superres-x(\d+)-w(\d+)b(\d+)$")


def superres_arch(scale: int, width: int = DEFAULT_WIDTH, blocks: int = DEFAULT_BLOCKS) -> str:
    return f"superres-x{scale}-w{width}b{blocks}"


def parse_superres_arch(arch: str) -> tuple[int, int, int] | None:
    """(scale, width, blocks) of a super-resolution arch name; None for any other name."""
    match = _ARCH.match(arch)
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]))


def superres_scale(arch: str) -> int | None:
    parsed = parse_superres_arch(arch)
    return None if parsed is None else parsed[0]
