"""A kind of background job: its name (``Job.kind``) and the handler a worker runs for it.

Each feature declares its job kinds beside their handlers (``analysis.kinds`` for analyses);
the worker pool is given the whole list, so a job kind nobody declared fails clearly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pathodesk.jobs.context import JobContext

Handler = Callable[[JobContext], dict[str, object]]


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler
    queue: str = "analysis"  # the Celery queue its jobs go to: interactive, analysis or storage


def handlers(kinds: Iterable[JobKind]) -> dict[str, Handler]:
    table: dict[str, Handler] = {}
    for kind in kinds:
        if kind.name in table:
            raise ValueError(f"job kind {kind.name!r} is declared twice")
        table[kind.name] = kind.handler
    return table
