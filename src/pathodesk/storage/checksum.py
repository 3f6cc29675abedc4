"""SHA-256 of a file or a stream, read in chunks: the identity of slides and model weights, and
the proof that a copy on another medium is the same bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

CHUNK_BYTES = 1 << 20


def stream_sha256(stream: IO[bytes], progress: Callable[[int], None] | None = None) -> str:
    digest, done = hashlib.sha256(), 0
    for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
        digest.update(chunk)
        done += len(chunk)
        if progress is not None:
            progress(done)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return stream_sha256(handle)
