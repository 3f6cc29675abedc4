"""Prefetching generated tiles (SPEC E7, E8; issue 17, items 4 and 5): neighbours made in the
background, never while a tile a viewer waits for is being made, newest first, stale work
dropped."""

from __future__ import annotations

import threading
import time

from pathodesk.web.prefetch import Prefetcher


def _until(condition, seconds: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_prefetch_waits_for_the_viewer_and_takes_the_newest_first() -> None:
    prefetcher = Prefetcher(limit=3)
    done: list[int] = []
    release = threading.Event()
    with prefetcher.interactive():  # a tile a viewer waits for is being made
        for index in range(5):
            prefetcher.schedule(("tile", index), lambda index=index: done.append(index))
        time.sleep(0.2)
        assert done == []  # nothing done behind the viewer's back
        assert prefetcher.pending() == 3  # only the latest three kept: the view moved on
    assert _until(lambda: len(done) == 3)
    assert done == [4, 3, 2]  # newest first
    prefetcher.schedule(("slow",), release.wait)
    prefetcher.schedule(("after",), lambda: done.append(99))
    release.set()
    assert _until(lambda: 99 in done)
    prefetcher.schedule(("boom",), lambda: 1 / 0)  # a failing tile does not stop the thread
    prefetcher.schedule(("fine",), lambda: done.append(100))
    assert _until(lambda: 100 in done)
    prefetcher.stop()
    prefetcher.schedule(("late",), lambda: done.append(101))
    time.sleep(0.1)
    assert 101 not in done
