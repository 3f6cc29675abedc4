"""Interactive work first (SPEC E7): while a viewer waits for something being made for it
(a super-resolved tile), batch work in the same process — analyses between their batches,
tile prefetching — waits, so the cores go to what is on screen.

One gate per process: the embedded server runs its jobs in threads beside its routes. A
batch job waits at most ``MAX_YIELD_SECONDS`` at a time, so a viewer who never stops
panning slows an analysis down but never stalls it for good.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

MAX_YIELD_SECONDS = 5.0


class InteractiveGate:
    def __init__(self) -> None:
        self._waiting = 0
        self._condition = threading.Condition()
        self.enabled = True  # off: first come, first served (the baseline bench/superres.py measures)

    @contextmanager
    def interactive(self) -> Iterator[None]:
        """Around work a viewer is waiting for."""
        with self._condition:
            self._waiting += 1
        try:
            yield
        finally:
            with self._condition:
                self._waiting -= 1
                self._condition.notify_all()

    def busy(self) -> bool:
        with self._condition:
            return self.enabled and self._waiting > 0

    def wait_until_idle(
        self, timeout: float = MAX_YIELD_SECONDS, stop: threading.Event | None = None
    ) -> float:
        """Batch work calls this between batches; returns the seconds it gave way."""
        started = time.monotonic()
        deadline = started + timeout
        with self._condition:
            while self.enabled and self._waiting > 0 and not (stop is not None and stop.is_set()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._condition.wait(min(left, 0.05))
        return time.monotonic() - started


INTERACTIVE = InteractiveGate()
