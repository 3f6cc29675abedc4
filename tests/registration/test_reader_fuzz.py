"""Readers of user files never fail with anything but a readable error (issue 15, 16):
ImageJ point files and lesions.csv, fed arbitrary text."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pathodesk.errors import ValidationFailedError
from pathodesk.ml.fusion_data import read_lesions
from pathodesk.registration.landmarks import parse_points

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
CSV_LIKE = st.lists(
    st.sampled_from([",", "\n", "\r", " ", "X", "Y", "1", "2.5", "-", "group", "label", "a.png", "\ufeff"]),
    max_size=60,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(text=st.one_of(TEXT, CSV_LIKE))
@example(text="\r0")  # a bare carriage return once crashed the CSV reader
@example(text=" ,X,Y\r1,2,3\r")
def test_any_points_file_is_read_or_refused_readably(text: str) -> None:
    try:
        points = parse_points(text)
    except ValidationFailedError:
        return
    assert points.ndim == 2 and points.shape[1] == 2


@settings(max_examples=80, deadline=None)
@given(text=st.one_of(TEXT, CSV_LIKE))
def test_any_lesions_csv_is_read_or_refused_readably(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "lesions.csv"
        listing.write_text(text, encoding="utf-8")
        try:
            lesions = read_lesions(listing, 28)
        except ValidationFailedError:
            return
        assert len(lesions.stains) >= 1
