"""What a job handler is given: its parameters, the database, and ways to report progress
and to learn that it should stop (raise ``pathodesk.errors.Cancelled`` then)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from pathodesk.config import Settings
from pathodesk.db.session import Database
from pathodesk.jobs.priority import INTERACTIVE


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

    def report(self, fraction: float, message: str | None = None) -> None:
        """Cheap: the ticker writes it to the database within ``PROGRESS_EVERY``."""
        self.progress = max(0.0, min(1.0, fraction))
        self.message = message

    def should_stop(self) -> bool:
        """Asked between batches: also where a batch job gives way while a viewer waits for
        something being made for it (E7: interactive work first)."""
        INTERACTIVE.wait_until_idle(stop=self.stop)
        return self.stop.is_set()
