"""Login throttling (SPEC A12; issue 20, A and B), per server process.

Policy: failed logins count per account *and* client address (5 a minute), per client
address over all accounts (30 a minute) and per account over all addresses (50 a minute).
A stranger at another address therefore cannot lock an owner out, and any lock lifts a
minute after the last failure: never for ever. Checking and counting are one step under a
lock: an attempt is counted as a failure when it starts and forgiven when it succeeds, so
ten concurrent guesses cannot all be checked against a limit of five.

Password checks of anonymous callers are also bounded (``MAX_CONCURRENT_CHECKS``): argon2
is deliberately slow, and a flood of them must leave the server to its logged-in users.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager

from pathodesk.errors import PathoDeskError
from pathodesk.i18n import N_

FAILURE_WINDOW_SECONDS = 60.0
PER_ACCOUNT_AND_CLIENT = 5
PER_CLIENT = 30
PER_ACCOUNT = 50
MAX_CONCURRENT_CHECKS = 4
WAIT_FOR_A_CHECK_SECONDS = 10.0


class TooManyAttemptsError(PathoDeskError):
    status = 429
    title = N_("Too many attempts")


class Attempt:
    def __init__(self) -> None:
        self.succeeded = False

    def success(self) -> None:
        self.succeeded = True


class LoginThrottle:
    def __init__(self) -> None:
        self._failures: defaultdict[tuple[str, ...], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._checks = threading.BoundedSemaphore(MAX_CONCURRENT_CHECKS)

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        window = self._failures[key]
        while window and window[0] < now - FAILURE_WINDOW_SECONDS:
            window.popleft()
        return window

    @contextmanager
    def attempt(self, account: str, client: str) -> Iterator[Attempt]:
        """Refuse (429) when a limit is reached, else count this attempt as a failure until
        the caller marks it a success; at most ``MAX_CONCURRENT_CHECKS`` run at once."""
        keys = {
            ("pair", account, client): PER_ACCOUNT_AND_CLIENT,
            ("client", client): PER_CLIENT,
            ("account", account): PER_ACCOUNT,
        }
        with self._lock:
            now = time.monotonic()
            if any(len(self._recent(key, now)) >= limit for key, limit in keys.items()):
                raise TooManyAttemptsError("too many failed logins; wait a minute and try again")
            for key in keys:
                self._failures[key].append(now)
        attempt = Attempt()
        if not self._checks.acquire(timeout=WAIT_FOR_A_CHECK_SECONDS):
            self._uncount(keys, now)  # never checked: a busy server is no failed login
            raise TooManyAttemptsError("too many logins at once; try again in a moment")
        try:
            yield attempt
        finally:
            self._checks.release()
            if attempt.succeeded:
                self._forgive(keys, now, account, client)

    def _uncount(self, keys: dict[tuple[str, ...], int], at: float) -> None:
        with self._lock:
            for key in keys:
                window = self._failures.get(key)
                if window is not None and at in window:
                    window.remove(at)

    def _forgive(self, keys: dict[tuple[str, ...], int], at: float, account: str, client: str) -> None:
        """A success clears the pair's failures and takes back this attempt's count elsewhere."""
        self._uncount(keys, at)
        with self._lock:
            self._failures.pop(("pair", account, client), None)
