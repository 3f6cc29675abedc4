"""Streaming multipart upload: bytes go to disk in chunks, hashed on the way.

Starlette's form parser would spool the whole file to a temporary file first; this parser
writes straight into the staging folder, enforces the size limit while receiving, and keeps
memory flat however large the slide (issue 2, item 6).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import anyio
from fastapi import Request
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from pathodesk.config import Settings
from pathodesk.errors import PayloadTooLargeError, ValidationFailedError
from pathodesk.ingest import StagedFile, staging_path

MAX_FIELD_BYTES = 64 * 1024


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)


class _UploadSink:
    """Receives parser callbacks; file bytes are buffered then written off the event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fields: dict[str, str] = {}
        self.staged: StagedFile | None = None
        self.path: Path | None = None
        self._file: BinaryIO | None = None
        self._digest = hashlib.sha256()
        self._size = 0
        self._buffer = bytearray()
        self._part = _Part()
        self._header_field = bytearray()
        self._header_value = bytearray()

    # parser callbacks (synchronous, called inside parser.write)
    def on_part_begin(self) -> None:
        self._part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._part.headers[self._header_field.decode("latin-1").lower()] = self._header_value.decode(
            "utf-8", "replace"
        )
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._part.headers.get("content-disposition", ""))
        self._part.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is not None:
            if self.path is not None:
                raise ValidationFailedError("send exactly one file per upload")
            self._part.filename = Path(filename.decode("utf-8", "replace")).name or "upload"
            self.path = staging_path(self.settings)
            self._file = self.path.open("wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part.filename is not None:
            self._buffer += data[start:end]
            self._size += end - start
            if self._size > self.settings.max_upload_bytes:
                raise PayloadTooLargeError(
                    "uploads are limited to %(max_upload_bytes)s bytes",
                    max_upload_bytes=self.settings.max_upload_bytes,
                )
        else:
            self._part.value += data[start:end]
            if len(self._part.value) > MAX_FIELD_BYTES:
                raise ValidationFailedError("form field %(name)r is too long", name=self._part.name)

    def on_part_end(self) -> None:
        if self._part.filename is None:
            self.fields[self._part.name] = self._part.value.decode("utf-8", "replace")
        else:
            self.fields.setdefault("__filename__", self._part.filename)

    # I/O
    def take_buffer(self) -> bytes:
        chunk = bytes(self._buffer)
        self._buffer.clear()
        return chunk

    def write_chunk(self, chunk: bytes) -> None:
        assert self._file is not None
        self._digest.update(chunk)
        self._file.write(chunk)

    def finish(self) -> StagedFile:
        if self._file is None or self.path is None:
            raise ValidationFailedError("the form has no 'file' part")
        self._file.close()
        self._file = None
        return StagedFile(self.path, self._digest.hexdigest(), self._size, self.fields["__filename__"])

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive_upload(request: Request, settings: Settings) -> tuple[StagedFile, dict[str, str]]:
    """Parse ``multipart/form-data`` with one file; returns the staged file and the fields."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ValidationFailedError("send the slide as multipart/form-data with a 'file' part")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes + MAX_FIELD_BYTES:
        raise PayloadTooLargeError(
            "uploads are limited to %(max_upload_bytes)s bytes", max_upload_bytes=settings.max_upload_bytes
        )
    sink = _UploadSink(settings)
    callbacks = {
        name: getattr(sink, name)
        for name in (
            "on_part_begin",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_part_data",
            "on_part_end",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if len(sink._buffer) >= settings.upload_chunk_bytes:
                await anyio.to_thread.run_sync(sink.write_chunk, sink.take_buffer())
        parser.finalize()
        if parser.state not in (MultipartState.END, MultipartState.END_BOUNDARY):
            raise ValidationFailedError("the upload was cut off before its end")
        if sink._buffer:
            await anyio.to_thread.run_sync(sink.write_chunk, sink.take_buffer())
        staged = sink.finish()
    except BaseException:
        sink.abort()
        raise
    fields = {k: v for k, v in sink.fields.items() if k != "__filename__"}
    return staged, fields
