"""Storage (API.md: ``GET /api/v1/storage/report``; SPEC E1, E4): administrators see what is
kept per tier against what the scans would take."""

from __future__ import annotations

from fastapi import APIRouter

from pathodesk.storage.report import storage_report
from pathodesk.web.deps import AdminUser, DbSession, StateDep

router = APIRouter(prefix="/api/v1", tags=["storage"])


@router.get("/storage/report")
def report(_admin: AdminUser, session: DbSession, state: StateDep) -> dict[str, object]:
    return storage_report(session, state.settings)
