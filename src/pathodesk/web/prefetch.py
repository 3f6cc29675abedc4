"""Generated tiles made before they are asked for (SPEC E8), never ahead of one that is.

When the viewer asks for a super-resolved tile, the tiles around it are likely next (a pan
or a zoom continues), the next ones along the viewer's own heading most of all
(``Headings``). ``Prefetcher`` makes them in one background thread, newest first, every
viewer's next tiles ahead of any tile merely around one;
while any tile a viewer is waiting for is being made (the ``InteractiveGate``), it holds
back, so prefetching never delays what is on screen (E7: the viewer's requests come first).
Work the viewer has moved away from is dropped, not done: the queue keeps the latest
``limit``.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from pathodesk.jobs.priority import INTERACTIVE, InteractiveGate

Produce = Callable[[], object]
Step = tuple[int, int]
log = logging.getLogger(__name__)
NEIGHBOURS: tuple[Step, ...] = tuple((dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dx or dy)


class Headings:
    """Where each viewer's last generated tile was, to tell which way they pan."""

    def __init__(self, limit: int = 1024) -> None:
        self.limit = limit
        self._last: OrderedDict[Hashable, Step] = OrderedDict()
        self._lock = threading.Lock()

    def step(self, viewer: Hashable, col: int, row: int) -> Step | None:
        """(dx, dy) from the viewer's last tile to this one when they are neighbours."""
        with self._lock:
            last = self._last.pop(viewer, None)
            self._last[viewer] = (col, row)
            while len(self._last) > self.limit:
                self._last.popitem(last=False)
        if last is None:
            return None
        dx, dy = col - last[0], row - last[1]
        return (dx, dy) if (dx or dy) and abs(dx) <= 1 and abs(dy) <= 1 else None


def prefetch_plan(step: Step | None) -> tuple[list[Step], list[Step]]:
    """(around, ahead): offsets of the tiles to make. Ahead, two and one tiles further along
    the viewer's heading (scheduled in that order, so the next one is made first); around,
    the other neighbours."""
    ahead = [] if step is None else [(2 * step[0], 2 * step[1]), step]
    return [offset for offset in NEIGHBOURS if offset not in ahead], ahead


class Prefetcher:
    def __init__(self, limit: int = 64, gate: InteractiveGate = INTERACTIVE) -> None:
        self.limit, self.gate = limit, gate
        self._queue: OrderedDict[Hashable, Produce] = OrderedDict()
        self._ahead: OrderedDict[Hashable, Produce] = OrderedDict()  # along viewers' headings
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._making = False

    def schedule(self, key: Hashable, produce: Produce, ahead: bool = False) -> None:
        """Make ``produce()`` soon, unless it is queued already; newest first, those ``ahead``
        of a viewer before all others."""
        with self._condition:
            if self._stopped:
                return
            self._queue.pop(key, None)
            self._ahead.pop(key, None)
            queue = self._ahead if ahead else self._queue
            queue[key] = produce
            while len(queue) > self.limit:
                queue.popitem(last=False)  # the oldest: the view has moved on
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tile-prefetch", daemon=True)
                self._thread.start()
            self._condition.notify_all()

    def pending(self) -> int:
        with self._condition:
            return len(self._queue) + len(self._ahead)

    def idle(self) -> bool:
        """Nothing queued and nothing being made."""
        with self._condition:
            return not (self._queue or self._ahead or self._making)

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._queue.clear()
            self._ahead.clear()
            self._condition.notify_all()

    def _run(self) -> None:
        while True:
            self.gate.wait_until_idle()
            with self._condition:
                while not self._stopped and not (self._queue or self._ahead):
                    self._condition.wait()
                if self._stopped:
                    return
                if self.gate.busy():
                    continue  # a viewer started waiting meanwhile
                _, produce = (self._ahead or self._queue).popitem(last=True)
                self._making = True
            try:
                produce()
            except Exception:  # a tile that fails here is made, or fails visibly, when asked for
                log.debug("prefetching a tile failed", exc_info=True)
            finally:
                with self._condition:
                    self._making = False
