"""``GET /healthz``: whether this server can do its work, for a load balancer or a monitoring
probe to ask without an account (README: beyond one machine). 200 when every check passes,
503 otherwise, so a balancer sends no users to a server that cannot reach its database. It
names each check and its state, nothing else: no patient data, no versions, no paths."""

from __future__ import annotations

import os

from fastapi import APIRouter, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from pathodesk.db.models import StorageTier
from pathodesk.errors import PathoDeskError
from pathodesk.storage.tiers import tier_backend
from pathodesk.web.deps import StateDep
from pathodesk.web.state import AppState

router = APIRouter(tags=["health"])
PROBE = ".healthz"  # a location looked up, never written: a bucket answers whether it is reachable


def _database(state: AppState) -> str:
    try:
        with state.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return "unreachable"
    return "ok"


def _storage(state: AppState) -> str:
    """The recent tier, where new slides are written."""
    backend = tier_backend(state.settings, StorageTier.recent)
    folder = backend.local_path("")
    if folder is not None:
        return "ok" if folder.is_dir() and os.access(folder, os.W_OK) else "not writable"
    try:
        backend.exists(PROBE)
    except PathoDeskError:
        return "unreachable"
    return "ok"


@router.get("/healthz")
def health(state: StateDep, response: Response) -> dict[str, object]:
    checks = {"database": _database(state), "storage": _storage(state)}
    if state.workers is not None:  # the server's own job runners (absent in an app without them)
        checks["jobs"] = "ok" if state.workers.alive() else "stopped"
    healthy = all(value == "ok" for value in checks.values())
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return {"status": "ok" if healthy else "failing", "checks": checks}
