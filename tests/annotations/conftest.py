"""A real slide (the CMU SVS) in expert A's lung case (outlines to draw: ``tests.support.shapes``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pathodesk.config import Settings
from tests.support.accounts import Accounts
from tests.support.slides import ingest_slide


@pytest.fixture
def slide_id(settings: Settings, accounts: Accounts, samples: dict[str, Path]) -> int:
    return ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
