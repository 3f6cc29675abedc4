"""What storage holds (SPEC E1, E4; API.md ``storage report``): per tier, how many slides and
how many bytes are kept, against the bytes their scans would take at full resolution —
the saving low-resolution storage buys — plus the temporary fast store."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from pathodesk.config import Settings
from pathodesk.db.models import ResolutionState, Slide, StorageTier

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
    kept_total = sum(int(t["bytes"]) for t in tiers.values())  # type: ignore[call-overload]
    scan_total = sum(int(t["scan_bytes"]) for t in tiers.values())  # type: ignore[call-overload]
    return {
        "tiers": tiers,
        "temporary": {"bytes": temporary_bytes(settings)},
        "mirror": {"configured": False},
        "bytes": kept_total,
        "scan_bytes": scan_total,
        "saved_fraction": round(1 - kept_total / scan_total, 4) if scan_total else 0.0,
    }
