"""The one shape of a progress callback: ``progress(done, total)`` in whatever units the
work counts (tiles, images, bytes); terminals draw a bar from it, jobs a percentage."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], object]
