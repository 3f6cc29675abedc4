"""Login throttling (SPEC A12; issue 20, A and B), shared by every server process.

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

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, func, select

from pathodesk.db.models import LoginFailure, utcnow
from pathodesk.db.session import Database
from pathodesk.errors import PathoDeskError
from pathodesk.i18n import N_

FAILURE_WINDOW_SECONDS = 60.0
WINDOW = timedelta(seconds=FAILURE_WINDOW_SECONDS)
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
    """Failures are rows of ``login_failures``, so every server process sharing the database
    counts the same attempts (issue 19: API replicas). Keys are hashed: the table holds no
    account name or address."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._checks = threading.BoundedSemaphore(MAX_CONCURRENT_CHECKS)

    @contextmanager
    def attempt(self, account: str, client: str) -> Iterator[Attempt]:
        """Refuse (429) when a limit is reached, else count this attempt as a failure until
        the caller marks it a success; at most ``MAX_CONCURRENT_CHECKS`` run at once per
        process. Counted first and checked after (one transaction), so concurrent guesses on
        any number of servers cannot all slip under the limit."""
        limits = {
            _key("pair", account, client): PER_ACCOUNT_AND_CLIENT,
            _key("client", client): PER_CLIENT,
            _key("account", account): PER_ACCOUNT,
        }
        rows = self._count(limits)
        attempt = Attempt()
        if not self._checks.acquire(timeout=WAIT_FOR_A_CHECK_SECONDS):
            self._forget(rows)  # never checked: a busy server is no failed login
            raise TooManyAttemptsError("too many logins at once; try again in a moment")
        try:
            yield attempt
        finally:
            self._checks.release()
            if attempt.succeeded:  # a success forgives the pair, and this attempt everywhere
                self._forget(rows, pair=_key("pair", account, client))

    def _count(self, limits: dict[str, int]) -> list[int]:
        now = utcnow()
        with self.db.session() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.at < now - WINDOW))
            rows = [LoginFailure(key=key, at=now) for key in limits]
            session.add_all(rows)
            session.flush()
            counts = dict(
                session.execute(
                    select(LoginFailure.key, func.count())
                    .where(LoginFailure.key.in_(list(limits)), LoginFailure.at >= now - WINDOW)
                    .group_by(LoginFailure.key)
                ).all()
            )
            if any(counts.get(key, 0) > limit for key, limit in limits.items()):
                session.rollback()
                raise TooManyAttemptsError("too many failed logins; wait a minute and try again")
            return [row.id for row in rows]

    def _forget(self, rows: list[int], pair: str | None = None) -> None:
        with self.db.session() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.id.in_(rows)))
            if pair is not None:
                session.execute(delete(LoginFailure).where(LoginFailure.key == pair))


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
