"""Where tests and benchmarks find sample data and leave their pictures."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = Path(os.environ.get("PATHODESK_SAMPLE_DIR", ROOT / "sample-data"))
SHARED_DATA = Path(os.environ.get("PATHODESK_SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
ARTIFACTS = ROOT / "test-artifacts"
