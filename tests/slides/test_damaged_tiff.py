"""A damaged pyramid TIFF (a bad disk, a copy cut short, a tool that wrote it wrongly) is
refused when opened or gives pixels and readable errors, never another exception: a 500 in
the viewer and a stack trace in the log instead of a message."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pathodesk.errors import UnsupportedSlideError
from pathodesk.slides.tiff_backend import TiffSlideReader
from tests.support.hostile import damaged_copy

# the sample pyramid's level-0 directory and its tile offsets and byte counts lie in its
# first 3,840 bytes; the rest is mostly tile data and the smaller levels
WHERE = st.one_of(st.integers(0, 3_840), st.integers(0, 5_867_824))
PLACES = ((0, 0), (2000, 1500), (5933, 4439))


@settings(max_examples=60, deadline=None)
@given(edits=st.lists(st.tuples(WHERE, st.integers(0, 255)), min_size=1, max_size=8))
@example(edits=[(206, 100)])  # TileByteCounts: 100 counts for 432 tiles
def test_a_damaged_pyramid_is_refused_or_read_never_a_crash(
    samples: dict[str, Path], edits: list[tuple[int, int]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        damaged = damaged_copy(samples["pyramid"], edits, Path(folder))
        try:
            reader = TiffSlideReader(damaged)
        except UnsupportedSlideError:
            return
        try:
            for x, y in PLACES:
                for level in (0, len(reader.info.level_dimensions) - 1):
                    try:
                        pixels = reader.read_region((x, y), level, (64, 64))
                    except UnsupportedSlideError:
                        continue
                    assert pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8
                tile = reader.native_jpeg_tile(0, x // 256, y // 256)
                assert tile is None or tile.startswith(b"\xff\xd8")
        finally:
            reader.close()
