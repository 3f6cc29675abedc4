"""Who opened which patient's records: the access trail hospitals keep beside the trail of
changes. A page or API read that shows one patient, exam or slide, or a case report, is
recorded in the audit log (ids only, never patient values) once per person and record every
``state.OPENED_AGAIN_SECONDS`` on each server, so reloads and going back and forth add no rows."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pathodesk.audit import record_by
from pathodesk.web.state import AppState, Principal


def note_opened(
    state: AppState, session: Session, user: Principal, record_type: str, record_id: int, action: str = "open"
) -> None:
    key = (user.user_id, action, record_type, record_id)
    if state.opened.get(key):
        return
    record_by(session, user, action, record_type, record_id)
    state.opened.put(key, True)
