"""Generated tiles made before they are asked for (SPEC E8), never ahead of one that is.

When the viewer asks for a super-resolved tile, the tiles around it are likely next (a pan
or a zoom continues). ``Prefetcher`` makes them in one background thread, newest first;
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
log = logging.getLogger(__name__)


class Prefetcher:
    def __init__(self, limit: int = 64, gate: InteractiveGate = INTERACTIVE) -> None:
        self.limit, self.gate = limit, gate
        self._queue: OrderedDict[Hashable, Produce] = OrderedDict()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def schedule(self, key: Hashable, produce: Produce) -> None:
        """Make ``produce()`` soon, unless it is queued already; newest first."""
        with self._condition:
            if self._stopped:
                return
            self._queue.pop(key, None)
            self._queue[key] = produce
            while len(self._queue) > self.limit:
                self._queue.popitem(last=False)  # the oldest: the view has moved on
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tile-prefetch", daemon=True)
                self._thread.start()
            self._condition.notify_all()

    def pending(self) -> int:
        with self._condition:
            return len(self._queue)

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._queue.clear()
            self._condition.notify_all()

    def _run(self) -> None:
        while True:
            self.gate.wait_until_idle()
            with self._condition:
                while not self._stopped and not self._queue:
                    self._condition.wait()
                if self._stopped:
                    return
                if self.gate.busy():
                    continue  # a viewer started waiting meanwhile
                _, produce = self._queue.popitem(last=True)
            try:
                produce()
            except Exception:  # a tile that fails here is made, or fails visibly, when asked for
                log.debug("prefetching a tile failed", exc_info=True)
