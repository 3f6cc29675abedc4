"""Database backups (README: storage, database backups).

A database of N outlines (100,000 by default) on one slide, then, in the same run:
- ours: ``pathodesk database backup`` as the server takes it — SQLite's online backup API,
  ``PRAGMA integrity_check`` of the copy, gzip, written to the backups medium whole, read back
  and compared;
- the baseline a hospital's cron script would run: SQLite's online backup API into a plain
  file, nothing checked, nothing compressed;
- and a restore of our backup (it first backs up the database it replaces).

The last line is the API.md result line: seconds of the baseline over ours (below 1: ours
does more), with the sizes of both copies.

    .venv/bin/python bench/database_backup.py [--outlines 100000]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from tests.storage.library import Library
from tests.support.shapes import rectangle

from _common import result_line
from pathodesk.annotations import store
from pathodesk.config import Settings
from pathodesk.db.dump import sqlite_path
from pathodesk.db.models import Slide
from pathodesk.lifecycle.restore import restore_database
from pathodesk.storage.backups import take_backup

BATCH = 5000


def database_of(settings: Settings, outlines: int) -> None:
    library = Library.open(settings)
    slide_id = library.slide(library.exam(), side=2048)
    with library.db.session() as session:
        slide = session.get(Slide, slide_id)
        assert slide is not None
        for start in range(0, outlines, BATCH):
            drafts = [
                store.Draft("lung_aca", rectangle(i % 200 * 10, i // 200 % 25 * 80, 8, 8))
                for i in range(start, min(outlines, start + BATCH))
            ]
            store.create_many(session, slide, drafts, None)
            session.commit()
    library.db.dispose()


def plain_copy(database: Path, target: Path) -> None:
    source, copy = sqlite3.connect(f"file:{database}?mode=ro", uri=True), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outlines", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder) / "data")
        settings.ensure_dirs()
        database_of(settings, args.outlines)
        database = sqlite_path(settings.resolved_database_url())
        size = sum(path.stat().st_size for path in database.parent.glob(f"{database.name}*"))

        started = time.perf_counter()
        taken = take_backup(settings)
        ours = time.perf_counter() - started
        started = time.perf_counter()
        plain_copy(database, Path(folder) / "plain.sqlite3")
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        restore_database(settings, taken.name)
        restored = time.perf_counter() - started
        plain_bytes = (Path(folder) / "plain.sqlite3").stat().st_size

    print(
        f"{args.outlines} outlines, database {size / 1e6:.1f} MB: our backup {ours:.2f} s"
        f" ({taken.bytes / 1e6:.1f} MB, checked, compressed, read back) vs a plain copy {baseline:.2f} s"
        f" ({plain_bytes / 1e6:.1f} MB); restore {restored:.2f} s"
    )
    print(
        result_line(
            "database_backup",
            ours,
            baseline,
            "s",
            "sqlite3 Connection.backup into a plain file",
            lower_is_better=True,
            outlines=args.outlines,
            database_mb=round(size / 1e6, 1),
            backup_mb=round(taken.bytes / 1e6, 1),
            plain_copy_mb=round(plain_bytes / 1e6, 1),
            restore_seconds=round(restored, 2),
        )
    )


if __name__ == "__main__":
    main()
