"""Making two things meet at the worst moment, deterministically: the second starts on a
thread of its own just after the first ran a given SQL statement, and gets a moment to finish
before the first goes on, unless a lock makes it wait."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine, event

T = TypeVar("T")


@contextmanager
def meanwhile(
    engine: Engine, after: Callable[[str], bool], action: Callable[[], T], moment: float = 2.0
) -> Iterator[list[T]]:
    """Run ``action`` on another thread the first time this thread runs a statement that
    ``after`` accepts, and wait up to ``moment`` seconds for it before going on. Yields the
    list ``action``'s result is put in; on leaving, waits for it and raises what it raised."""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(action())
        except BaseException as exc:  # raised again on this thread
            errors.append(exc)

    other = threading.Thread(target=run)
    this = threading.current_thread()

    def hook(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if threading.current_thread() is this and other.ident is None and after(statement):
            other.start()
            other.join(moment)

    event.listen(engine, "after_cursor_execute", hook)
    try:
        yield results
    finally:
        event.remove(engine, "after_cursor_execute", hook)
        if other.ident is not None:
            other.join(60)
    assert other.ident is not None, "the statement to start after never ran"
    if errors:
        raise errors[0]
