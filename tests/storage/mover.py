"""One storage move in a process of its own, for the fault tests: ``python -m tests.storage.mover
DATA_DIR MOVE_ID STEP`` claims the move and runs it, killing itself with SIGKILL when the move
reaches STEP ("none": never), as a power cut or the OOM killer would. Settings (the tiers)
come from the environment. ``--pretend-free-space`` hides a full disk from the check made
before copying, so the copy itself meets ENOSPC."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import NamedTuple

from pathodesk.config import Settings
from pathodesk.db.session import Database
from pathodesk.storage.moves import claim, run_move


class _Usage(NamedTuple):
    total: int
    used: int
    free: int


def main(argv: list[str]) -> int:
    data_dir, move_id, kill_at = Path(argv[0]), int(argv[1]), argv[2]
    if "--pretend-free-space" in argv:
        shutil.disk_usage = lambda _path: _Usage(1 << 40, 0, 1 << 40)  # type: ignore[assignment]
    settings = Settings(data_dir=data_dir, move_grace_seconds=0.0)
    db = Database(settings.resolved_database_url())

    def on_step(step: str) -> None:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    if not claim(db, move_id):
        print(json.dumps({"claimed": False}))
        return 1
    print(json.dumps({"state": run_move(db, settings, move_id, on_step).value}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
