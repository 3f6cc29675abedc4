"""A kind of background job: its name (``Job.kind``) and the handler a worker runs for it.

Each feature declares its job kinds beside their handlers (``analysis.kinds`` for analyses);
the worker pool is given the whole list, so a job kind nobody declared fails clearly.

A handler may be named as ``"module:function"`` instead of given: it is imported when the
first job of its kind runs. Most handlers need torch, scikit-learn or scikit-image, and the
server and the command line would otherwise load them all before answering anything.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from pathodesk.i18n import N_
from pathodesk.jobs.context import JobContext
from pathodesk.lifetime import freeze_new_modules

Handler = Callable[[JobContext], dict[str, object]]

# Shown while a named handler's modules load: seconds for the model stack, which would
# otherwise read as a job stuck at 0 %.
LOADING = N_("loading the analysis programs")


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler | str  # the function, or "module:function" imported on first use
    queue: str = "analysis"  # the Celery queue its jobs go to: interactive, analysis or storage

    def resolve(self) -> Handler:
        """The handler function itself, importing its module if it is named."""
        return imported(self.handler) if isinstance(self.handler, str) else self.handler


@cache
def imported(reference: str) -> Handler:
    module_name, _, function_name = reference.partition(":")
    try:
        handler = getattr(importlib.import_module(module_name), function_name, None)
    except ModuleNotFoundError as error:
        raise ValueError(f"job handler {reference!r}: {error}") from error
    if not callable(handler):
        raise ValueError(f"job handler {reference!r} names no function")
    freeze_new_modules()
    return handler


def deferred(kind: JobKind) -> Handler:
    """A handler that imports the named one when it is first called."""
    if not isinstance(kind.handler, str):
        return kind.handler
    reference = kind.handler

    def run(context: JobContext) -> dict[str, object]:
        if reference.partition(":")[0] not in sys.modules:
            context.report(context.progress, LOADING)
        return imported(reference)(context)

    return run


def handlers(kinds: Iterable[JobKind]) -> dict[str, Handler]:
    table: dict[str, Handler] = {}
    for kind in kinds:
        if kind.name in table:
            raise ValueError(f"job kind {kind.name!r} is declared twice")
        table[kind.name] = deferred(kind)
    return table
