"""What a job handler is given: its parameters, the database, and ways to report progress
and to learn that it should stop (raise ``pathodesk.errors.Cancelled`` then)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pathodesk.config import Settings
from pathodesk.db.session import Database
from pathodesk.jobs import queue
from pathodesk.jobs.priority import INTERACTIVE

LOOK_EVERY = 0.5  # seconds between looks for waiting interactive jobs


@dataclass
class JobContext:
    job_id: int
    slide_id: int | None
    params: dict[str, Any]
    user_id: int | None
    db: Database
    settings: Settings
    progress: float = 0.0
    message: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    interactive: bool = False  # the job is itself interactive work: it never gives way
    worker: str = ""
    checkpoint: dict[str, Any] | None = None  # what an earlier run of the job had done (E7)
    # E7 preemption: set by a handler that can resume from a checkpoint; False for a worker
    # that does not take interactive jobs (yielding would not let them in)
    resumable: bool = False
    serves_interactive: bool = True
    yielding: bool = False  # it stopped to give way, not because it was cancelled
    _next_look: float = 0.0

    def report(self, fraction: float, message: str | None = None) -> None:
        """Cheap: the ticker writes it to the database within ``PROGRESS_EVERY``."""
        self.progress = max(0.0, min(1.0, fraction))
        self.message = message

    def should_stop(self) -> bool:
        """Asked between batches. Also where batch work gives way (E7: interactive work
        first): it waits while a viewer in this process waits for something being made for
        it, and a resumable job stops — to be requeued with its checkpoint — while an
        interactive job waits for a worker."""
        self.give_way_to_viewers()
        if self.stop.is_set():
            return True
        if self._interactive_job_waiting():
            self.yielding = True
        return self.yielding

    def give_way_to_viewers(self) -> None:
        """Returns once no viewer in this process waits for a tile being made (E7); at once
        when the job is being stopped."""
        INTERACTIVE.wait_until_idle(stop=self.stop)

    def save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """What the job has done so far; the next run of it finds it in ``checkpoint``."""
        with self.db.session() as session:
            queue.save_checkpoint(session, self.job_id, self.worker, checkpoint)

    def _interactive_job_waiting(self) -> bool:
        may_yield = self.resumable and self.serves_interactive and not self.interactive
        if not (may_yield and self.settings.interactive_priority) or time.monotonic() < self._next_look:
            return False
        self._next_look = time.monotonic() + LOOK_EVERY
        with self.db.session() as session:
            return queue.interactive_waiting(
                session, timedelta(seconds=self.settings.interactive_wait_seconds)
            )
