"""The temporary fast store (SPEC E4, E8): generated high-resolution tiles kept on a fast
local disk, capped in bytes, least recently used dropped first, and still there after a
restart.

One file per entry, named by the SHA-256 of its key, in a folder per slide file (the key's
first part, its checksum), so a discharged patient's images can be dropped at once (E5
schedule). A write goes to a
temporary name and is renamed into place, so a crash leaves either the whole entry or none
(stray temporaries are removed at start). Recency is the file's modification time, touched
on every read; the byte count is taken from the disk at start and kept in memory after.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Hashable
from pathlib import Path

from pathodesk.config import Settings

PARTIAL = ".partial"


def generated_tiles_dir(settings: Settings) -> Path:
    return settings.temporary_dir / "tiles"


def generated_slides_dir(settings: Settings) -> Path:
    """Slides generated whole at full resolution (high-resolution mode, E8)."""
    return settings.temporary_dir / "slides"


def drop_generated(settings: Settings, sha256: str) -> int:
    """Every generated image of one slide file, tiles and whole slides; the bytes freed."""
    freed = 0
    folder = generated_tiles_dir(settings) / sha256
    for path in [*folder.glob("*"), *generated_slides_dir(settings).glob(f"{sha256}-*")]:
        try:
            freed += path.stat().st_size
        except FileNotFoundError:
            continue
        path.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    return freed


class TemporaryStore:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root, self.max_bytes = root, max_bytes
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._bytes = 0
        for path in self.root.glob("*/*"):
            if path.name.endswith(PARTIAL):
                path.unlink(missing_ok=True)  # a write a crash interrupted
            else:
                self._bytes += path.stat().st_size
        self._evict()

    def _path(self, key: Hashable) -> Path:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()
        first = str(key[0]) if isinstance(key, tuple) and key else ""
        group = first if first.isalnum() else digest[:2]
        return self.root / group / digest

    def get(self, key: Hashable) -> bytes | None:
        path = self._path(key)
        try:
            body = path.read_bytes()
            os.utime(path)  # recently used
        except FileNotFoundError:
            return None
        return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)  # the store may have been emptied by hand
        partial = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}{PARTIAL}")
        partial.write_bytes(body)
        with self._lock:
            previous = path.stat().st_size if path.exists() else 0
            os.replace(partial, path)
            self._bytes += len(body) - previous
        if self._bytes > self.max_bytes:
            self._evict()

    def size_bytes(self) -> int:
        return self._bytes

    def _evict(self) -> None:
        """Oldest first, down to 90 % of the cap (so the next writes do not evict one by one);
        the count is taken afresh from the disk, which other processes also empty."""
        with self._lock:
            if self._bytes <= self.max_bytes:
                return
            self._bytes = 0
            entries = []
            for path in self.root.glob("*/*"):
                if not path.name.endswith(PARTIAL):
                    try:
                        stat = path.stat()
                    except FileNotFoundError:
                        continue
                    entries.append((stat.st_mtime, stat.st_size, path))
                    self._bytes += stat.st_size
            entries.sort()
            target = int(self.max_bytes * 0.9)
            for _, size, path in entries:
                if self._bytes <= target:
                    break
                path.unlink(missing_ok=True)
                self._bytes -= size
