"""Helpers shared by benchmarks: the result line of API.md and percentiles. Importing it
also puts the project root on the path, so that benchmarks share ``tests/support`` (server
start, ports, HTTP ingest, browser helpers) with the tests."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pathodesk.config import Settings


def side_venv(name: str, pins: tuple[str, ...]) -> tuple[Path, dict[str, object]]:
    """A baseline's own virtual environment under ``bench-results/`` (never a project
    dependency): its interpreter, made now if missing or left half-made, and what making it
    cost (seconds, gigabytes) the time it is made."""
    folder = ROOT / "bench-results" / name
    python, made = folder / "bin" / "python", folder / "complete"
    if made.is_file():
        return python, {"venv": "reused"}
    started = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *pins], check=True)
    made.touch()
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
    return python, {
        "venv_build_seconds": round(time.perf_counter() - started),
        "venv_gigabytes": round(size / 1e9, 2),
    }


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def result_line(
    bench: str,
    ours: float,
    baseline: float,
    unit: str,
    baseline_name: str,
    lower_is_better: bool = False,
    **extra: object,
) -> str:
    """The last line every benchmark prints; ``ratio`` > 1 means PathoDesk is better (for an
    error, ``lower_is_better``: baseline / ours)."""
    better, worse = (baseline, ours) if lower_is_better else (ours, baseline)
    body: dict[str, object] = {
        "bench": bench,
        "ours": round(ours, 6 if lower_is_better else 3),
        "baseline": round(baseline, 6 if lower_is_better else 3),
        "unit": unit,
        "ratio": round(better / worse, 3) if worse else math.inf,
        "baseline_name": baseline_name,
    }
    body.update(extra)
    return json.dumps(body)


def one_slide_library(folder: str, sample: Path) -> tuple[Settings, int]:
    """A data directory in ``folder`` with the test accounts and ``sample`` ingested for
    expert A: its settings and the slide's id (what the server-starting benches share)."""
    from tests.support.accounts import make_accounts
    from tests.support.slides import ingest_slide

    settings = Settings(data_dir=Path(folder) / "data")
    settings.ensure_dirs()
    accounts = make_accounts(settings)
    return settings, ingest_slide(settings, sample, accounts.exam_a_id, accounts.expert_a_id)
