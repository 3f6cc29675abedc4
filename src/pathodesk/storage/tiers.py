"""The deployment's media by role (SPEC E4): the three permanent tiers, the mirror and the
reading stations, each a backend made once per process; and retrieval, which gives a slide
reader a local file whichever tier holds the slide (E5 retrieve)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

from pathodesk.config import MediumSettings, Settings
from pathodesk.db.models import StorageTier
from pathodesk.errors import NotFoundError
from pathodesk.storage.backends import PARTIAL, Backend, LocalBackend, copy_stream, open_backend

PERMANENT_TIERS = (StorageTier.recent, StorageTier.middle, StorageTier.long_term)


def tiers_to_search(recorded: StorageTier) -> tuple[StorageTier, ...]:
    """Where a slide's file is looked for: its recorded tier first (a move may have just
    switched it, or a restored row may predate one), then the others."""
    return (recorded, *(tier for tier in PERMANENT_TIERS if tier != recorded))


_backends: dict[tuple[str, str | None, str], Backend] = {}
_lock = threading.Lock()
# the seconds the latest retrieval from each tier took in this process (the storage page)
RETRIEVAL_SECONDS: dict[str, float] = {}


def backend_for(settings: Settings, medium: MediumSettings) -> Backend:
    key = (medium.url, settings.s3_endpoint_url, settings.s3_region)
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            backend = _backends[key] = open_backend(*key)
    return backend


def tier_backend(settings: Settings, tier: StorageTier | str) -> Backend:
    return backend_for(settings, settings.tier_medium(StorageTier(tier).value))


def mirror_backend(settings: Settings) -> Backend | None:
    return backend_for(settings, settings.mirror) if settings.mirror is not None else None


def station_backend(settings: Settings, station: str) -> Backend:
    medium = settings.stations.get(station)
    if medium is None:
        raise NotFoundError("reading station %(station)s is not configured", station=station)
    return backend_for(settings, medium)


def local_file(settings: Settings, tier: StorageTier | str, location: str) -> Path | None:
    """A local path to the file kept at ``location`` on ``tier``, fetched from object storage
    when the tier is a bucket; None when the tier does not hold it."""
    backend = tier_backend(settings, tier)
    direct = backend.local_path(location)
    if direct is not None:
        return direct if direct.is_file() else None
    if not backend.exists(location):
        return None
    return retrieve(settings, StorageTier(tier), backend, location)


def retrieve(settings: Settings, tier: StorageTier, backend: Backend, location: str) -> Path:
    """A local copy of an object, kept in a size-capped cache (least recently read dropped
    first) so that the next read is a local one."""
    cache = settings.cache_dir / "retrieved"
    target = cache / location
    if target.is_file():
        os.utime(target)
        return target
    started = time.monotonic()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}{PARTIAL}")
    try:
        with backend.open_read(location) as source, partial.open("wb") as out:
            copy_stream(source, out, None)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    RETRIEVAL_SECONDS[tier.value] = time.monotonic() - started
    _trim(LocalBackend(cache), settings.retrieved_cache_bytes, keep=target)
    return target


def forget_retrieved(settings: Settings, location: str) -> None:
    (settings.cache_dir / "retrieved" / location).unlink(missing_ok=True)


def _trim(cache: LocalBackend, max_bytes: int, keep: Path) -> None:
    files = [cache.path(location) for location in cache.locations()]
    stats = sorted((path.stat().st_mtime, path.stat().st_size, path) for path in files if path != keep)
    total = sum(size for _, size, _ in stats) + keep.stat().st_size
    for _, size, path in stats:
        if total <= max_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size
