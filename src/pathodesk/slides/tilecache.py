"""A thread-safe LRU of encoded tiles, bounded by bytes rather than entries."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class TileCache:
    """Maps a tile key (slide checksum, tiling parameters, level, col, row) to JPEG bytes.

    The slide checksum is part of every key, so a replaced file can never be served stale.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._size -= len(previous)
            self._entries[key] = value
            self._size += len(value)
            while self._size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._size -= len(evicted)

    def discard_prefix(self, prefix: Hashable) -> None:
        """Forget every tile of one slide (keys are tuples starting with the checksum)."""
        with self._lock:
            doomed = [k for k in self._entries if isinstance(k, tuple) and k[0] == prefix]
            for key in doomed:
                self._size -= len(self._entries.pop(key))

    @property
    def size_bytes(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._entries)
