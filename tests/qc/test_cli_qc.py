"""`pathodesk qc SLIDE --json` (API.md shape) on a real slide and on a blurred copy of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from pathodesk.config import Settings
from pathodesk.qc.checks import CHECKS
from pathodesk.qc.colour_reference import lab_reference, save_reference, slide_histogram
from pathodesk.slides import open_slide
from pathodesk.slides.pyramid import write_pyramid
from pathodesk.slides.raster_backend import RasterSlideReader
from tests.support.paths import SAMPLE_DIR
from tests.support.slides import blurred_copy, cast_copy, fluorescent_copy, tissue_crop


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
    histogram, stain = slide_histogram(reader)
    assert stain == "he"
    reader.close()
    save_reference(Settings(data_dir=tmp_path / "data"), lab_reference(histogram, 1, None, datetime.now(UTC)))
    _, report, _ = qc(yellowish, data_dir=tmp_path / "data")
    assert report["checks"]["colour"] == {"score": 0.0, "passed": True, "conditional_entropy": 1.0}  # type: ignore[index]


def test_with_no_glass_in_view_the_light_is_not_judged_by_the_tissue(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """A crop inside the tissue: its tissue is all found, and exposure, which needs glass to
    measure the light, reports no glass brightness instead of calling the tissue dark glass."""
    crop = write_pyramid(
        RasterSlideReader.from_array(tissue_crop(samples["svs"])), tmp_path / "c.tiff", mpp=0.499
    )
    _, report, _ = qc(crop)
    checks = report["checks"]
    assert isinstance(checks, dict)
    assert checks["tissue_coverage"]["score"] > 0.98
    assert checks["blur"]["tiles"] == 4 and checks["blur"]["passed"] is True  # 350 µm: tiles of half that
    exposure = checks["exposure"]
    assert exposure["score"] is None and exposure["glass_brightness"] is None and exposure["passed"] is True
    assert 100 < exposure["tissue_brightness"] < 225
    text = subprocess.run(
        [sys.executable, "-m", "pathodesk.cli", "qc", str(crop)], capture_output=True, text=True, check=False
    ).stdout
    assert "ok: exposure —" in text


def test_on_a_fluorescence_slide_the_bright_field_checks_do_not_apply(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """Stain colour, ink, folds, bubbles and glass brightness mean nothing in dark field: they
    are reported as not applicable, not flagged (the glow is green, the hue of marker ink)."""
    path = fluorescent_copy(samples["svs"], tmp_path / "glow.tiff")
    code, report, _ = qc(path)
    checks = report["checks"]
    assert isinstance(checks, dict)
    assert code == 0 and report["passed"] is True
    assert 0.2 < checks["tissue_coverage"]["score"] < 0.5 and checks["blur"]["score"] is not None
    bright_field = {name for name, check in CHECKS.items() if check.bright_field_only}
    assert bright_field == {"colour", "pen", "folds", "bubbles", "exposure"}
    for name in bright_field:
        assert checks[name] == {"score": None, "passed": True, "applies": False}
    text = subprocess.run(
        [sys.executable, "-m", "pathodesk.cli", "qc", str(path)], capture_output=True, text=True, check=False
    ).stdout
    assert "not applicable: pen marks —" in text


def test_on_empty_glass_only_the_tissue_coverage_fails(tmp_path: Path) -> None:
    """No tissue: the coverage check says so; colour and exposure do not judge the glass as
    badly stained or washed-out tissue."""
    glass = np.clip(np.random.default_rng(0).normal(236, 3, (1200, 1600, 3)), 0, 255).astype(np.uint8)
    path = write_pyramid(RasterSlideReader.from_array(glass), tmp_path / "glass.tiff", mpp=0.5)
    code, report, _ = qc(path)
    checks = report["checks"]
    assert isinstance(checks, dict)
    flagged = [name for name, check in checks.items() if not check["passed"]]
    exposure = checks["exposure"]
    assert code == 1 and flagged == ["tissue_coverage"]
    assert checks["colour"]["score"] is None and checks["blur"] == {"score": None, "passed": True, "tiles": 0}
    assert exposure["tissue_brightness"] is None and 230 < exposure["glass_brightness"] < 240
