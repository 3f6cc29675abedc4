"""Start-up step: the models shipped with PathoDesk are in every data directory's registry."""

from __future__ import annotations

import logging

from pathodesk.config import Settings
from pathodesk.db.session import Database
from pathodesk.ml.registry import ensure_shipped_models

log = logging.getLogger(__name__)


def install_shipped_models(db: Database, settings: Settings) -> None:
    with db.session() as session:
        added = ensure_shipped_models(session, settings)
    if added:
        log.info("registered %d shipped model(s)", added)
