"""Login throttling (issue 3, item 2): per account, per server process."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from pathodesk.errors import PathoDeskError

FAILURES_ALLOWED = 5
FAILURE_WINDOW_SECONDS = 60.0


class TooManyAttemptsError(PathoDeskError):
    status = 429
    title = "Too many attempts"


class LoginThrottle:
    """At most ``FAILURES_ALLOWED`` failed logins per account per minute."""

    def __init__(self) -> None:
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, account: str) -> deque[float]:
        window = self._failures[account]
        cutoff = time.monotonic() - FAILURE_WINDOW_SECONDS
        while window and window[0] < cutoff:
            window.popleft()
        return window

    def check(self, account: str) -> None:
        with self._lock:
            if len(self._recent(account)) >= FAILURES_ALLOWED:
                raise TooManyAttemptsError("too many failed logins; wait a minute and try again")

    def fail(self, account: str) -> None:
        with self._lock:
            self._recent(account).append(time.monotonic())

    def succeed(self, account: str) -> None:
        with self._lock:
            self._failures.pop(account, None)
