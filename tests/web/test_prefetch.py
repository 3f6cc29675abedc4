"""Prefetching generated tiles (SPEC E7, E8; issue 17, items 4 and 5): neighbours made in the
background, never while a tile a viewer waits for is being made, newest first, stale work
dropped."""

from __future__ import annotations

import threading
import time

from pathodesk.jobs.priority import InteractiveGate
from pathodesk.web.prefetch import NEIGHBOURS, Headings, Prefetcher, prefetch_plan
from tests.support.jobs import wait_for


def test_prefetch_waits_for_the_viewer_and_takes_the_newest_first() -> None:
    gate = InteractiveGate()
    prefetcher = Prefetcher(limit=3, gate=gate)
    done: list[int] = []
    release = threading.Event()
    with gate.interactive():  # a tile a viewer waits for is being made
        for index in range(5):
            prefetcher.schedule(("tile", index), lambda index=index: done.append(index))
        time.sleep(0.2)
        assert done == []  # nothing done behind the viewer's back
        assert prefetcher.pending() == 3  # only the latest three kept: the view moved on
    wait_for(lambda: len(done) == 3)
    assert done == [4, 3, 2]  # newest first
    prefetcher.schedule(("slow",), release.wait)
    prefetcher.schedule(("after",), lambda: done.append(99))
    release.set()
    wait_for(lambda: 99 in done)
    prefetcher.schedule(("boom",), lambda: 1 / 0)  # a failing tile does not stop the thread
    prefetcher.schedule(("fine",), lambda: done.append(100))
    wait_for(lambda: 100 in done)
    prefetcher.stop()
    prefetcher.schedule(("late",), lambda: done.append(101))
    time.sleep(0.1)
    assert 101 not in done


def test_the_next_tiles_along_a_viewers_heading_come_first() -> None:
    headings = Headings(limit=2)
    assert headings.step("a", 3, 4) is None  # a first tile: no heading yet
    assert headings.step("a", 4, 4) == (1, 0)
    assert headings.step("b", 9, 9) is None and headings.step("a", 4, 5) == (0, 1)
    assert headings.step("a", 9, 1) is None  # a jump is no pan
    around, ahead = prefetch_plan((1, 0))
    assert ahead == [(2, 0), (1, 0)] and sorted([*around, (1, 0)]) == sorted(NEIGHBOURS)
    assert prefetch_plan(None) == (list(NEIGHBOURS), [])

    gate = InteractiveGate()
    prefetcher = Prefetcher(gate=gate)
    done: list[str] = []
    with gate.interactive():  # four viewers' tiles queue up while one is being made
        for viewer in "abcd":
            prefetcher.schedule((viewer, "next"), lambda v=viewer: done.append(f"{v} next"), ahead=True)
            for offset in range(3):
                prefetcher.schedule((viewer, offset), lambda v=viewer: done.append(f"{v} around"))
    wait_for(prefetcher.idle)
    assert done[:4] == ["d next", "c next", "b next", "a next"], "every viewer's next tile first"
    prefetcher.stop()


def test_a_batch_job_gives_way_between_batches_while_a_viewer_waits() -> None:
    """E7 preemption: the job's between-batches check waits while interactive work runs, and
    goes on as soon as it ends (or after at most the cap; off, first come first served)."""
    gate = InteractiveGate()
    order: list[str] = []
    started = threading.Event()

    def viewer() -> None:
        with gate.interactive():
            started.set()
            time.sleep(0.3)
            order.append("viewer's tile")

    thread = threading.Thread(target=viewer)
    thread.start()
    started.wait()
    waited = gate.wait_until_idle()
    order.append("next batch")
    thread.join()
    assert order == ["viewer's tile", "next batch"] and 0.2 < waited < 1.0
    with gate.interactive():
        assert gate.wait_until_idle(timeout=0.2) < 0.4  # never stalled for good
        stop = threading.Event()
        stop.set()
        assert gate.wait_until_idle(stop=stop) < 0.1  # a cancelled job does not wait
        gate.enabled = False
        assert not gate.busy() and gate.wait_until_idle() < 0.1  # first come, first served
