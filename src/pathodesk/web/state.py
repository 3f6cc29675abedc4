"""Process-wide state of one server: database, open readers, tile cache, small lookups."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from pathodesk.config import Settings
from pathodesk.db.session import Database
from pathodesk.slides.deepzoom import DeepZoomTiler
from pathodesk.slides.pool import ReaderPool
from pathodesk.slides.tilecache import TileCache
from pathodesk.web.prefetch import Headings, Prefetcher
from pathodesk.web.throttle import LoginThrottle

LOOKUP_TTL_SECONDS = 5.0
OPENED_AGAIN_SECONDS = 15 * 60  # a record opened again within this is not recorded again
# Tiles and thumbnails never change for a given file (the ETag carries its checksum);
# private because they are patient data behind a login.
IMMUTABLE = "private, max-age=31536000, immutable"
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the routes need it."""

    user_id: int
    account: str
    name: str
    role: str
    csrf_token: str
    session_id: int

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


if TYPE_CHECKING:
    from pathodesk.analysis.superres_service import SuperResolution
    from pathodesk.jobs.worker import Workers
    from pathodesk.storage.temporary import TemporaryStore


@dataclass(frozen=True)
class SlideHandle:
    """What tile serving needs of a slide row, cached so tiles skip the database."""

    slide_id: int
    path: Path
    sha256: str
    viewer_ids: frozenset[int]  # experts who may see it besides administrators
    disease_type: str = ""  # picks the super-resolution models of a low-resolution slide
    store_downsample: int = 1  # E1: >1 when only a reduced pyramid is kept (tiles are generated)


class TtlCache(Generic[K, V]):
    """A tiny time-bounded dictionary; a miss goes back to the database."""

    def __init__(self, ttl: float = LOOKUP_TTL_SECONDS, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        entry = self._data.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (time.monotonic() + self.ttl, value)

    def pop(self, key: K) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


@dataclass
class AppState:
    settings: Settings
    db: Database
    readers: ReaderPool
    tiles: TileCache
    principals: TtlCache[str, Principal] = field(default_factory=TtlCache)
    slide_handles: TtlCache[int, SlideHandle] = field(default_factory=TtlCache)
    # who opened which record lately (``web.access_log``): one audit row per person and record
    opened: TtlCache[tuple[int, str, str, int], bool] = field(
        default_factory=lambda: TtlCache(ttl=OPENED_AGAIN_SECONDS)
    )
    login_throttle: LoginThrottle = field(init=False)  # counted in the database: across processes
    # Deep Zoom tilers per slide checksum: geometry is computed once per file.
    tilers: dict[str, DeepZoomTiler] = field(default_factory=dict)
    workers: Workers | None = None  # background jobs (issue 7); None in tools that run none
    superres: SuperResolution | None = None  # E8: enlarges low-resolution slides (None: bicubic)
    generated: TemporaryStore | None = None  # E8: generated tiles on fast disk, across restarts
    prefetch: Prefetcher = field(default_factory=Prefetcher)  # E8: neighbours of viewed generated tiles
    headings: Headings = field(default_factory=Headings)  # which way each viewer pans

    def __post_init__(self) -> None:
        self.login_throttle = LoginThrottle(self.db)
