"""What storage holds (SPEC E1, E4; API.md ``storage report``): per tier, how many slides and
how many bytes are kept, against the bytes their scans would take at full resolution —
the saving low-resolution storage buys — with each tier's medium and figures; the temporary
fast store; the mirror's last scrub; moves planned, under way and failed; the database's
backups, and whether they sit on the database's own disk (one failure would take both)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from pathodesk.config import MediumSettings, Settings
from pathodesk.db.dump import is_sqlite, sqlite_path
from pathodesk.db.models import MirrorScrub, MoveState, ResolutionState, Slide, StorageMove, StorageTier
from pathodesk.errors import PathoDeskError
from pathodesk.storage.backups import backups_backend, list_backups
from pathodesk.storage.tiers import RETRIEVAL_SECONDS

# API.md's names for the permanent tiers
TIER_NAMES = {StorageTier.recent: "recent", StorageTier.middle: "middle", StorageTier.long_term: "long"}


def temporary_bytes(settings: Settings) -> int:
    """What the temporary fast store holds: generated tiles and slides generated whole."""
    return sum(path.stat().st_size for path in settings.temporary_dir.rglob("*") if path.is_file())


def storage_report(session: Session, settings: Settings) -> dict[str, object]:
    """Slides sharing one file (the same scan in two cases) count once for bytes."""
    files = (
        select(
            Slide.storage_tier,
            Slide.sha256,
            func.max(Slide.byte_size).label("scan"),
            func.max(func.coalesce(Slide.stored_bytes, Slide.byte_size)).label("kept"),
            func.max(Slide.resolution_state).label("state"),
            func.count().label("slides"),
        )
        .group_by(Slide.storage_tier, Slide.sha256)
        .subquery()
    )
    rows = session.execute(
        select(
            files.c.storage_tier,
            func.sum(files.c.slides),
            func.count(),
            func.sum(files.c.kept),
            func.sum(files.c.scan),
            func.sum(case((files.c.state == ResolutionState.low.value, 1), else_=0)),
        ).group_by(files.c.storage_tier)
    ).all()
    tiers: dict[str, dict[str, object]] = {
        name: {"slides": 0, "files": 0, "bytes": 0, "scan_bytes": 0, "low_resolution_files": 0}
        for name in TIER_NAMES.values()
    }
    for tier, slides, count, kept, scan, low in rows:
        name = TIER_NAMES.get(StorageTier(tier), str(tier))
        tiers[name] = {
            "slides": int(slides),
            "files": int(count),
            "bytes": int(kept or 0),
            "scan_bytes": int(scan or 0),
            "low_resolution_files": int(low or 0),
        }
    for tier, name in TIER_NAMES.items():
        tiers[name] |= _medium(settings.tier_medium(tier.value), int(tiers[name]["bytes"]))  # type: ignore[call-overload]
        tiers[name]["last_retrieval_seconds"] = RETRIEVAL_SECONDS.get(tier.value)
    kept_total = sum(int(t["bytes"]) for t in tiers.values())  # type: ignore[call-overload]
    scan_total = sum(int(t["scan_bytes"]) for t in tiers.values())  # type: ignore[call-overload]
    return {
        "tiers": tiers,
        "temporary": {"bytes": temporary_bytes(settings), "max_bytes": settings.temporary_store_bytes},
        "mirror": _mirror(session, settings),
        "moves": _moves(session),
        "database_backups": _backups(settings),
        "bytes": kept_total,
        "scan_bytes": scan_total,
        "saved_fraction": round(1 - kept_total / scan_total, 4) if scan_total else 0.0,
    }


def _medium(medium: MediumSettings, kept_bytes: int) -> dict[str, object]:
    return {
        "url": medium.url,
        "cost_per_gb_month": medium.cost_per_gb_month,
        "monthly_cost": round(kept_bytes / 1024**3 * medium.cost_per_gb_month, 2),
        "read_mb_per_s": medium.read_mb_per_s,
        "latency_ms": medium.latency_ms,
    }


def _mirror(session: Session, settings: Settings) -> dict[str, object]:
    if settings.mirror is None:
        return {"configured": False}
    scrub = session.scalar(select(MirrorScrub).order_by(MirrorScrub.id.desc()).limit(1))
    last = None
    if scrub is not None:
        last = {
            "finished_at": scrub.finished_at.isoformat() if scrub.finished_at else None,
            "files": scrub.files,
            "mismatches": scrub.mismatches,
            "repaired": scrub.repaired,
            "unrepairable": scrub.unrepairable,
        }
    return {"configured": True, "url": settings.mirror.url, "last_scrub": last}


def _moves(session: Session) -> dict[str, object]:
    counts = dict(session.execute(select(StorageMove.state, func.count()).group_by(StorageMove.state)).all())
    failed = session.execute(
        select(
            StorageMove.id,
            StorageMove.source,
            StorageMove.destination,
            StorageMove.attempts,
            StorageMove.error,
        )
        .where(StorageMove.state == MoveState.failed)
        .order_by(StorageMove.id.desc())
        .limit(20)
    ).all()
    return {
        **{state.value: int(counts.get(state, 0)) for state in MoveState},
        "recent_failures": [
            {
                "id": i,
                "from": TIER_NAMES[StorageTier(a)],
                "to": TIER_NAMES[StorageTier(b)],
                "attempts": n,
                "error": e,
            }
            for i, a, b, n, e in failed
        ],
    }


def _backups(settings: Settings) -> dict[str, object]:
    summary: dict[str, object] = {"url": settings.backups_medium().url, "kept": settings.backups_kept}
    try:
        found = list_backups(settings)
    except PathoDeskError as exc:  # the medium cannot be reached: say so, show the rest
        return summary | {"error": exc.detail}
    return summary | {
        "count": len(found),
        "bytes": sum(backup.bytes for backup in found),
        "newest": found[0].as_json() if found else None,
        "beside_database": _beside_database(settings),
    }


def _beside_database(settings: Settings) -> bool:
    """Backups on the same local disk as an SQLite database: losing the disk loses both."""
    url = settings.resolved_database_url()
    folder = backups_backend(settings).local_path("")
    if not is_sqlite(url) or folder is None:
        return False
    return _device(folder) == _device(sqlite_path(url))


def _device(path: Path) -> int:
    while not path.exists():  # a folder not made yet is on its parent's disk
        path = path.parent
    return os.stat(path).st_dev
