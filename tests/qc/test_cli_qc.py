"""`pathodesk qc SLIDE --json` (API.md shape) on a real slide and on a blurred copy of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pathodesk.qc.checks import CHECKS
from tests.support.paths import SAMPLE_DIR
from tests.support.slides import blurred_copy


def qc(*paths: Path) -> tuple[int, dict[str, object], str]:
    result = subprocess.run(
        [sys.executable, "-m", "pathodesk.cli", "qc", *map(str, paths), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PATHODESK_SAMPLE_DIR": str(SAMPLE_DIR)},
    )
    return result.returncode, json.loads(result.stdout), result.stderr


def test_qc_passes_the_sample_and_flags_a_blurred_copy(samples: dict[str, Path], tmp_path: Path) -> None:
    code, report, _ = qc(samples["pyramid"])
    assert code == 0 and report["passed"] is True
    checks = report["checks"]
    assert isinstance(checks, dict)
    assert set(checks) == set(CHECKS)
    assert all(isinstance(c["score"], float | int) and isinstance(c["passed"], bool) for c in checks.values())

    blurred = blurred_copy(samples["svs"], tmp_path / "blurred.tiff")
    code, report, _ = qc(blurred)
    assert code == 1 and report["passed"] is False
    assert report["checks"]["blur"]["passed"] is False  # type: ignore[index]
    assert report["checks"]["blur"]["score"] > 0.5  # type: ignore[index]
