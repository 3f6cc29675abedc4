"""The temporary fast store of generated tiles (SPEC E4, E8; issue 17, item 6): capped in
bytes, least recently used dropped first, whole entries or none after a crash, and still
there after a restart."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pathodesk.storage.temporary import TemporaryStore


def test_the_cap_holds_and_the_least_recently_used_go_first(tmp_path: Path) -> None:
    store = TemporaryStore(tmp_path, max_bytes=10_000)
    for index in range(8):
        store.put(("slide", index), bytes([index]) * 1_000)
        os.utime(store._path(("slide", index)), (time.time() - 100 + index,) * 2)  # distinct ages
    assert store.get(("slide", 0)) == bytes([0]) * 1_000  # read now: the most recent
    for index in range(8, 14):
        store.put(("slide", index), bytes([index]) * 1_000)
    assert store.size_bytes() <= 10_000
    assert store.get(("slide", 0)) is not None  # kept, because it was read
    assert store.get(("slide", 1)) is None  # the oldest unread went first
    assert store.get(("slide", 13)) == bytes([13]) * 1_000
    store.put(("huge",), b"x" * 20_000)  # larger than the whole store: never kept
    assert store.get(("huge",)) is None and store.size_bytes() <= 10_000


def test_a_restart_keeps_entries_and_clears_interrupted_writes(tmp_path: Path) -> None:
    store = TemporaryStore(tmp_path, max_bytes=1_000_000)
    store.put(("tile", 1), b"a" * 500)
    store.put(("tile", 1), b"b" * 300)  # replaced, counted once
    assert store.size_bytes() == 300
    half = store._path(("tile", 2))
    half.parent.mkdir(exist_ok=True)
    interrupted = half.with_name(half.name + ".1234abcd.partial")
    interrupted.write_bytes(b"half a tile")  # what a crash mid-write leaves
    again = TemporaryStore(tmp_path, max_bytes=1_000_000)
    assert again.get(("tile", 1)) == b"b" * 300  # survives the restart
    assert again.get(("tile", 2)) is None and not interrupted.exists()
    assert again.size_bytes() == 300
    smaller = TemporaryStore(tmp_path, max_bytes=100)  # a lowered cap applies at start
    assert smaller.size_bytes() <= 100 and smaller.get(("tile", 1)) is None
