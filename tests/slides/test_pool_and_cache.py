"""The reader pool and the tile LRU under concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from pathodesk.slides import open_slide
from pathodesk.slides.base import SlideReader
from pathodesk.slides.pool import ReaderPool
from pathodesk.slides.tilecache import TileCache


def test_cache_evicts_least_recently_used_by_bytes() -> None:
    cache = TileCache(max_bytes=30)
    cache.put(("a", 1), b"x" * 10)
    cache.put(("a", 2), b"y" * 10)
    cache.put(("b", 1), b"z" * 10)
    assert cache.get(("a", 1)) == b"x" * 10  # now most recent
    cache.put(("b", 2), b"w" * 10)  # evicts ("a", 2)
    assert cache.get(("a", 2)) is None
    assert cache.size_bytes == 30 and len(cache) == 3
    cache.discard_prefix("a")
    assert cache.get(("a", 1)) is None and cache.size_bytes == 20


def test_cache_is_consistent_under_threads() -> None:
    cache = TileCache(max_bytes=5_000)

    def work(i: int) -> None:
        for j in range(500):
            cache.put((i, j), bytes(37))
            cache.get((i, j - 3))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert cache.size_bytes <= 5_000
    assert cache.size_bytes == 37 * len(cache)


class NotThreadSafe:
    """A reader that fails if two threads use it at once."""

    thread_safe = False
    opened = 0

    def __init__(self, path: Path) -> None:
        self.inner = open_slide(path)
        self.info = self.inner.info
        self.busy = threading.Lock()
        NotThreadSafe.opened += 1

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        assert self.busy.acquire(blocking=False), "two threads in one reader"
        try:
            return self.inner.read_region(location, level, size)
        finally:
            self.busy.release()

    def associated_image(self, name: str):  # type: ignore[no-untyped-def]
        return self.inner.associated_image(name)

    def close(self) -> None:
        self.inner.close()


def test_pool_gives_each_thread_its_own_unsafe_reader(samples: dict[str, Path]) -> None:
    NotThreadSafe.opened = 0
    pool = ReaderPool(per_slide=3, opener=NotThreadSafe)

    def read(i: int) -> float:
        with pool.reader(samples["svs"]) as reader:
            return float(reader.read_region((i * 10, i * 10), 0, (128, 128)).mean())

    with ThreadPoolExecutor(8) as executor:
        results = list(executor.map(read, range(64)))
    assert len(results) == 64
    assert 1 <= NotThreadSafe.opened <= 3
    pool.close()


def test_pool_shares_thread_safe_readers(samples: dict[str, Path]) -> None:
    opened: list[SlideReader] = []

    def opener(path: Path) -> SlideReader:
        reader = open_slide(path)
        opened.append(reader)
        return reader

    pool = ReaderPool(per_slide=4, opener=opener)

    def use(_: int) -> int:
        with pool.reader(samples["pyramid"]) as reader:
            return id(reader)

    with ThreadPoolExecutor(8) as executor:
        assert len(set(executor.map(use, range(32)))) == 1
    assert len(opened) == 1
    pool.close()
