"""Storage tiers (SPEC E4, E5; issue 18, item 7).

1. Move throughput: slide files moved recent → middle tier (two local folders on this disk)
   by PathoDesk's moves — copy, fsync, read back and verify SHA-256, switch the database rows
   in one transaction, delete the source — against the baseline a hospital script does:
   ``shutil.copy`` of each file and ``sha256`` of the copy, on the same files in the same run.
   Files are incompressible random bytes of slide size (the bytes are what a move costs).
2. The placement policy over 100,000 slide records (20,000 patients, admissions spread over
   three years) answered by one grouped query, against a per-slide loop in Python over the
   same records (measured on 10,000 of them, then per slide).

The last line is the API.md result line: MB/s of our moves over MB/s of copy + checksum.

    .venv/bin/python bench/storage.py [--files 6] [--mb 64]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sqlalchemy import insert, select

from _common import result_line
from pathodesk.config import Settings
from pathodesk.db.models import DiseaseType, Exam, Patient, Slide, StorageTier
from pathodesk.db.session import Database, migrate
from pathodesk.lifecycle.schedule import apply_policy, run_moves
from pathodesk.storage.policy import misplaced

TODAY = datetime.now(UTC).date()


def _database(root: Path) -> tuple[Settings, Database]:
    settings = Settings(data_dir=root / "data", move_grace_seconds=0.0)
    settings.ensure_dirs()
    migrate(settings.resolved_database_url())
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        if session.get(DiseaseType, "lung") is None:
            raise SystemExit("the migrated database lacks the lung disease type")
    return settings, db


def _records(
    db: Database, slides: int, patients: int, files: dict[int, tuple[str, int, str]] | None = None
) -> None:
    """``patients`` patients with one exam each, admissions spread over three years, and
    ``slides`` slides spread over them, all recorded on the recent tier."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    with db.session() as session:
        session.execute(
            insert(Patient),
            [{"id": i + 1, "patient_code": f"B{i}", "created_at": now} for i in range(patients)],
        )
        exams = []
        for i in range(patients):
            admitted = TODAY - timedelta(days=rng.randrange(0, 3 * 365))
            stay = rng.randrange(2, 20)
            discharged = admitted + timedelta(days=stay) if admitted + timedelta(days=stay) < TODAY else None
            exams.append(
                {
                    "id": i + 1,
                    "pathology_id": f"BE{i}",
                    "patient_id": i + 1,
                    "disease_type": "lung",
                    "admitted_on": admitted,
                    "discharged_on": discharged,
                    "created_at": now,
                }
            )
        session.execute(insert(Exam), exams)
        rows = []
        for i in range(slides):
            path, size, checksum = (files or {}).get(i, (f"{i % 256:02x}/bench-{i}.svs", 1_000_000, None))
            rows.append(
                {
                    "id": i + 1,
                    "exam_id": i % patients + 1,
                    "slide_number": str(i),
                    "original_filename": f"bench-{i}.svs",
                    "path": path,
                    "sha256": f"{i:064x}",
                    "stored_sha256": checksum,  # recorded at ingest
                    "byte_size": size,
                    "format": "aperio",
                    "width": 1000,
                    "height": 1000,
                    "level_count": 1,
                    "storage_tier": StorageTier.recent.value,
                    "created_at": now,
                }
            )
        for start in range(0, len(rows), 10_000):
            session.execute(insert(Slide), rows[start : start + 10_000])
        session.commit()


def _copy_and_hash(
    source: Path, target: Path, files: dict[int, tuple[str, int, str]], durable: bool
) -> float:
    """The baseline: ``shutil.copy`` and ``sha256`` of the copy; ``durable`` adds the fsync a
    move must do before it may delete the source."""
    started = time.perf_counter()
    for location, _, _ in files.values():
        copy = target / location
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / location, copy)
        if durable:
            with copy.open("rb+") as handle:
                os.fsync(handle.fileno())
        hashlib.sha256(copy.read_bytes()).hexdigest()
    seconds = time.perf_counter() - started
    shutil.rmtree(target)
    return seconds


def bench_moves(count: int, megabytes: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        root = Path(tmp)
        settings, db = _database(root)
        files: dict[int, tuple[str, int, str]] = {}
        for i in range(count):
            location = f"{i:02x}/move-{i}.svs"
            path = settings.slides_dir / location
            path.parent.mkdir(parents=True, exist_ok=True)
            body = os.urandom(megabytes * 1024**2)
            path.write_bytes(body)
            files[i] = (location, len(body), hashlib.sha256(body).hexdigest())
        total_mb = sum(size for _, size, _ in files.values()) / 1024**2
        _records(db, count, count, files)
        with db.session() as session:  # every patient discharged long ago: everything moves
            session.query(Exam).update({"admitted_on": date(2020, 1, 1), "discharged_on": date(2020, 1, 5)})
            session.commit()

        baseline_seconds = _copy_and_hash(settings.slides_dir, root / "baseline", files, durable=False)
        durable_seconds = _copy_and_hash(settings.slides_dir, root / "baseline", files, durable=True)

        plan = apply_policy(db, settings)
        started = time.perf_counter()
        outcome = run_moves(db, settings)
        ours_seconds = time.perf_counter() - started
        assert outcome["done"] == count == plan["planned_moves"], outcome
        return total_mb / ours_seconds, total_mb / baseline_seconds, total_mb / durable_seconds


def bench_policy(
    slides: int = 100_000, patients: int = 20_000, looped: int = 10_000
) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        settings, db = _database(Path(tmp))
        _records(db, slides, patients)
        started = time.perf_counter()
        with db.session() as session:
            placements = misplaced(session, settings)
        query_seconds = time.perf_counter() - started

        started = time.perf_counter()
        with db.session() as session:
            for slide in session.scalars(select(Slide).limit(looped)):
                _looped_target(settings, slide.exam.patient.exams)
        per_slide = (time.perf_counter() - started) / looped
        return query_seconds, per_slide * slides, len(placements)


def _looped_target(settings: Settings, exams: list[Exam]) -> StorageTier:
    """The same policy, one slide at a time, as a script over the records would do it."""
    cutoff = TODAY - timedelta(days=settings.long_term_after_days)
    best = 2
    for exam in exams:
        if exam.admitted_on and (exam.discharged_on is None or exam.discharged_on > TODAY):
            best = 0
        elif max(d for d in (exam.admitted_on, exam.discharged_on) if d is not None) >= cutoff:
            best = min(best, 1)
    return (StorageTier.recent, StorageTier.middle, StorageTier.long_term)[best]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--mb", type=int, default=64)
    args = parser.parse_args()

    query_seconds, loop_seconds, misplaced_count = bench_policy()
    print(
        f"policy over 100,000 slides / 20,000 patients: one query {query_seconds:.2f} s"
        f" ({misplaced_count} misplaced); a per-slide loop would take {loop_seconds:.1f} s"
        f" ({loop_seconds / query_seconds:.0f}x)"
    )
    ours, baseline, durable = bench_moves(args.files, args.mb)
    print(
        f"moves of {args.files} files x {args.mb} MB: ours {ours:.0f} MB/s (copy, fsync, verify, switch,"
        f" delete) vs shutil.copy + sha256 {baseline:.0f} MB/s, with an fsync {durable:.0f} MB/s"
    )
    print(
        result_line(
            "storage_moves",
            ours,
            baseline,
            "MB/s",
            "shutil.copy + hashlib.sha256 of the copy",
            baseline_with_fsync=round(durable, 1),
            policy_seconds_100k=round(query_seconds, 3),
            policy_loop_seconds_100k=round(loop_seconds, 1),
        )
    )


if __name__ == "__main__":
    main()
