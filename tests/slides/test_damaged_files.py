"""A damaged slide file (a bad disk, a copy cut short, a tool that wrote it wrongly) is
refused when opened, with a readable error, or read: pixels, or a readable error for the
part that is broken. Never another exception, which would be a 500 in the viewer and a
stack trace in the log instead of a message."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pathodesk.errors import UnsupportedSlideError
from pathodesk.slides import open_slide
from pathodesk.slides.base import SlideReader
from pathodesk.slides.dicom_backend import DicomSlideReader
from tests.slides.test_stored_jpeg import WHERE as SVS_DIRECTORY_OR_ANYWHERE
from tests.support.hostile import damaged_copy

EDIT = st.integers(0, 255)
# the sample pyramid's level-0 directory and its tile offsets and byte counts lie in its
# first 3,840 bytes; the rest is mostly tile data and the smaller levels
PYRAMID_EDITS = st.lists(
    st.tuples(st.one_of(st.integers(0, 3_840), st.integers(0, 5_867_824)), EDIT), max_size=8
)
# the DICOM sample's header (sizes, frame count, transfer syntax) and the frame offsets
# table lie in its first 3,000 bytes
DICOM_EDITS = st.lists(
    st.tuples(st.one_of(st.integers(0, 3_000), st.integers(0, 1_546_967)), EDIT), max_size=6
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def read_everywhere(reader: SlideReader) -> None:
    """Corners and middle of the first and last level, and the label and macro images:
    pixels or a readable error."""
    width, height = reader.info.level_dimensions[0]
    for x, y in ((0, 0), (width // 2, height // 2), (width - 1, height - 1)):
        for level in (0, len(reader.info.level_dimensions) - 1):
            try:
                pixels = reader.read_region((x, y), level, (64, 64))
            except UnsupportedSlideError:
                continue
            assert pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8
    for name in reader.info.associated_images:
        try:
            reader.associated_image(name).load()
        except UnsupportedSlideError:
            continue


def refused_or_read(
    source: Path,
    edits: list[tuple[int, int]],
    opener: Callable[[Path], SlideReader] = open_slide,
    more: Callable[[SlideReader], None] | None = None,
) -> None:
    """A damaged copy of ``source`` is refused at open, or read everywhere (and ``more``)."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            reader = opener(damaged_copy(source, edits, Path(folder)))
        except UnsupportedSlideError:
            return
        try:
            read_everywhere(reader)
            if more is not None:
                more(reader)
        finally:
            reader.close()


@FUZZ
@given(edits=PYRAMID_EDITS)
@example(edits=[(206, 100)])  # TileByteCounts: 100 counts for 432 tiles
@example(edits=[(182, 0)])  # TileLength: a list instead of a number
def test_a_damaged_pyramid_is_refused_or_read_never_a_crash(
    samples: dict[str, Path], edits: list[tuple[int, int]]
) -> None:

    def stored_tile(reader: SlideReader) -> None:
        tile = reader.native_jpeg_tile(0, 3, 4)
        assert tile is None or tile.startswith(b"\xff\xd8")

    refused_or_read(samples["pyramid"], edits, more=stored_tile)


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns of each damaged value it reads
@FUZZ
@given(edits=DICOM_EDITS)
def test_a_damaged_dicom_is_refused_or_read_never_a_crash(
    shared_data: Path, edits: list[tuple[int, int]]
) -> None:
    source = shared_data / "wsi-samples" / "TCGA-XK-AAJU-01A-01-TS1_small_wsi.dcm"
    refused_or_read(source, edits, opener=DicomSlideReader)


@FUZZ
@given(edits=st.lists(st.tuples(SVS_DIRECTORY_OR_ANYWHERE, EDIT), max_size=6))
def test_a_damaged_svs_is_refused_or_read_never_a_crash(
    samples: dict[str, Path], edits: list[tuple[int, int]]
) -> None:
    """OpenSlide reads it: its errors (a corrupt JPEG tile, a broken directory, properties
    that fail after opening) become readable ones."""
    refused_or_read(samples["svs"], edits)


def label_ranges(path: Path) -> tuple[tuple[int, int], tuple[int, int]]:
    """Where the label's directory and its pixels lie in the file."""
    with tifffile.TiffFile(path) as tif:
        label = next(page for page in tif.pages if "label" in (page.description or ""))
        return (label.offset, label.offset + 300), (
            label.dataoffsets[0],
            label.dataoffsets[0] + sum(label.databytecounts) - 1,
        )


@FUZZ
@given(data=st.data())
def test_a_damaged_label_is_refused_or_read_never_a_crash(
    labelled_pyramid: Path, data: st.DataObject
) -> None:
    """The label shows the patient's name: a damaged one says so, and the slide still opens."""
    directory, pixels = label_ranges(labelled_pyramid)
    where = st.one_of(st.integers(*directory), st.integers(*pixels))
    edits = data.draw(st.lists(st.tuples(where, EDIT), min_size=1, max_size=5))
    refused_or_read(labelled_pyramid, edits)


def test_a_label_declaring_a_huge_size_is_not_offered(labelled_pyramid: Path, tmp_path: Path) -> None:
    """Decoding it would allocate what its directory claims (here 60,000 x 60,000 px, ten
    gigabytes): a damaged directory must not take the server's memory."""
    with tifffile.TiffFile(labelled_pyramid) as tif:
        label = next(page for page in tif.pages if "label" in (page.description or ""))
        width, length = label.tags["ImageWidth"], label.tags["ImageLength"]
        assert (width.dtype, length.dtype) == (4, 4)  # LONG values held in the entries
        offsets = width.valueoffset, length.valueoffset
    data = bytearray(labelled_pyramid.read_bytes())
    for offset in offsets:
        data[offset : offset + 4] = (60_000).to_bytes(4, "little")
    damaged = tmp_path / "huge-label.tiff"
    damaged.write_bytes(bytes(data))
    reader = open_slide(damaged)
    try:
        assert "label" not in reader.info.associated_images
        assert "macro" in reader.info.associated_images
    finally:
        reader.close()
