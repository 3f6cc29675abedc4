"""`pathodesk qc SLIDE --json` (API.md shape) on a real slide and on a blurred copy of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from pathodesk.config import Settings
from pathodesk.qc.checks import CHECKS
from pathodesk.qc.colour_reference import lab_reference, save_reference, slide_histogram
from pathodesk.slides import open_slide
from tests.support.paths import SAMPLE_DIR
from tests.support.slides import blurred_copy, cast_copy


def qc(*paths: Path, data_dir: Path | None = None) -> tuple[int, dict[str, object], str]:
    where = ["--data-dir", str(data_dir)] if data_dir else []
    result = subprocess.run(
        [sys.executable, "-m", "pathodesk.cli", *where, "qc", *map(str, paths), "--json"],
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


def test_qc_measures_colour_against_the_labs_reference_slide(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """The data directory's reference (set on the QC page) is the default; E2."""
    yellowish = cast_copy(samples["svs"], tmp_path / "yellowish.tiff", (1.05, 1.0, 0.8))
    _, report, _ = qc(yellowish, data_dir=tmp_path / "data")
    assert report["checks"]["colour"]["passed"] is False  # type: ignore[index]
    reader = open_slide(yellowish)
    histogram = slide_histogram(reader)
    reader.close()
    save_reference(Settings(data_dir=tmp_path / "data"), lab_reference(histogram, 1, None, datetime.now(UTC)))
    _, report, _ = qc(yellowish, data_dir=tmp_path / "data")
    assert report["checks"]["colour"] == {"score": 0.0, "passed": True, "conditional_entropy": 1.0}  # type: ignore[index]
