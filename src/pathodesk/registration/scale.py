"""Sections are registered at one pixel size: ``register`` assumes it (its starts are rigid),
so whole slides are read as thumbnails whose sizes keep that true."""

from __future__ import annotations

from collections.abc import Sequence


def common_sides(longest_px: Sequence[int], mpp: Sequence[float | None], side: int) -> list[int]:
    """Thumbnail sizes (longest side, px) giving every section the same µm per px — by their
    mpp when all are known, else the same downsample — the largest section at ``side`` px."""
    known = all(value for value in mpp)
    extents = [px * (value or 1.0) if known else float(px) for px, value in zip(longest_px, mpp, strict=True)]
    scale = side / max(extents)
    return [max(16, round(extent * scale)) for extent in extents]
