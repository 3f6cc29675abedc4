"""A bounded, thread-safe pool of open slide readers.

Opening a slide costs milliseconds to seconds (index parsing, DICOM frame tables); tile
requests arrive by the hundred per second. Readers that are thread-safe are shared; the
others are checked out one per thread, up to ``per_slide`` copies.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pathodesk.slides.base import SlideReader
from pathodesk.slides.open import open_slide
from pathodesk.slides.overview import with_overview_levels

Opener = Callable[[Path], SlideReader]


def open_for_viewing(path: Path) -> SlideReader:
    """What the server reads tiles from: the slide plus computed overview levels."""
    return with_overview_levels(open_slide(path))


@dataclass
class _Entry:
    shared: SlideReader | None = None
    idle: queue.LifoQueue[SlideReader] = field(default_factory=queue.LifoQueue)
    opened: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class ReaderPool:
    """Keeps at most ``max_slides`` slides open, least recently used closed first."""

    def __init__(self, per_slide: int = 4, max_slides: int = 64, opener: Opener = open_for_viewing) -> None:
        self.per_slide = per_slide
        self.max_slides = max_slides
        self._opener = opener
        self._entries: OrderedDict[Path, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _entry(self, path: Path) -> _Entry:
        with self._lock:
            entry = self._entries.get(path)
            if entry is None:
                entry = _Entry()
                self._entries[path] = entry
                while len(self._entries) > self.max_slides:
                    # Dropped, not closed: a thread may still be reading; the reader
                    # releases its file when the last reference goes.
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(path)
            return entry

    @contextmanager
    def reader(self, path: Path) -> Iterator[SlideReader]:
        entry = self._entry(path)
        if entry.shared is not None:
            yield entry.shared
            return
        reader: SlideReader | None = None
        try:
            reader = entry.idle.get_nowait()
        except queue.Empty:
            with entry.lock:
                if entry.shared is not None:
                    reader = entry.shared
                elif entry.opened < self.per_slide:
                    reader = self._opener(path)
                    entry.opened += 1
                    if reader.thread_safe:
                        entry.shared = reader
            if reader is None:
                reader = entry.idle.get()  # wait for a copy another thread returns
        try:
            yield reader
        finally:
            if reader is not entry.shared:
                entry.idle.put(reader)

    def open_shared(self, path: Path) -> SlideReader | None:
        """The thread-safe reader of ``path`` if one is open already; never opens one, so the
        event loop may ask (opening a slide takes milliseconds to seconds)."""
        entry = self._entries.get(path)
        return None if entry is None else entry.shared

    def evict(self, path: Path) -> None:
        with self._lock:
            entry = self._entries.pop(path, None)
        if entry is not None:
            _close_entry(entry)

    def close(self) -> None:
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            _close_entry(entry)


def _close_entry(entry: _Entry) -> None:
    if entry.shared is not None:
        entry.shared.close()
    while True:
        try:
            entry.idle.get_nowait().close()
        except queue.Empty:
            return
