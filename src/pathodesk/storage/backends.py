"""The media a tier, the mirror or a reading station keeps files on (SPEC E4): a local directory
(fast disk, NAS or archive mount) or an S3-compatible bucket through boto3, the AWS SDK, which
speaks the protocol of every object store hospitals run (MinIO, Ceph, the clouds).

Both keep a file under the same relative location (``ab/<sha256>.svs``), write it whole or not
at all (a local file is written under a temporary name, flushed and renamed; an S3 object
appears only when its upload completes), and read it back as a stream, so a checksum taken
after writing is a checksum of what the medium holds.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from pathodesk.errors import StorageFullError, StorageUnavailableError

CHUNK_BYTES = 4 << 20
PARTIAL = ".partial"
Progress = Callable[[int], None]  # bytes written so far


class Backend(Protocol):
    """One medium. ``location`` is always relative, with forward slashes."""

    url: str

    def exists(self, location: str) -> bool: ...
    def size(self, location: str) -> int: ...
    def open_read(self, location: str) -> IO[bytes]: ...
    def write(
        self, source: IO[bytes], location: str, size: int, progress: Progress | None = None
    ) -> None: ...
    def delete(self, location: str) -> None: ...
    def discard_partials(self, location: str) -> None: ...
    def locations(self) -> Iterator[str]: ...
    def local_path(self, location: str) -> Path | None: ...


def copy_stream(source: IO[bytes], target: IO[bytes], progress: Progress | None) -> int:
    """Between two local files the kernel copies (``sendfile``: no trip through Python)."""
    try:
        source_fd, target_fd = source.fileno(), target.fileno()
        both_files = stat.S_ISREG(os.fstat(source_fd).st_mode) and stat.S_ISREG(os.fstat(target_fd).st_mode)
    except (AttributeError, OSError, ValueError):  # an object store's stream, an in-memory one
        both_files = False
    done = 0
    if both_files:
        target.flush()
        while sent := os.sendfile(target_fd, source_fd, None, CHUNK_BYTES):
            done += sent
            if progress is not None:
                progress(done)
        return done
    while chunk := source.read(CHUNK_BYTES):
        target.write(chunk)
        done += len(chunk)
        if progress is not None:
            progress(done)
    return done


class LocalBackend:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def path(self, location: str) -> Path:
        return self.root / location

    def local_path(self, location: str) -> Path | None:
        return self.path(location)

    def exists(self, location: str) -> bool:
        return self.path(location).is_file()

    def size(self, location: str) -> int:
        return self.path(location).stat().st_size

    def open_read(self, location: str) -> IO[bytes]:
        return self.path(location).open("rb")

    def write(self, source: IO[bytes], location: str, size: int, progress: Progress | None = None) -> None:
        """Refused before a byte is written when the disk cannot take ``size``; a disk that
        fills up anyway (another writer) leaves no partial file behind."""
        final = self.path(location)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(final.parent).free
        except OSError as exc:
            raise StorageUnavailableError(
                "%(url)s cannot be written: %(reason)s", url=self.url, reason=exc.strerror
            ) from exc
        if free < size:
            raise StorageFullError(
                "%(url)s has %(free)s bytes free, %(size)s are needed", url=self.url, free=free, size=size
            )
        partial = final.with_name(f"{final.name}.{uuid.uuid4().hex[:8]}{PARTIAL}")
        try:
            with partial.open("wb") as target:
                copy_stream(source, target, progress)
                target.flush()
                os.fsync(target.fileno())
            os.replace(partial, final)
            _fsync_directory(final.parent)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            if exc.errno == errno.ENOSPC:
                raise StorageFullError("%(url)s is full", url=self.url) from exc
            raise StorageUnavailableError(
                "%(url)s cannot be written: %(reason)s", url=self.url, reason=exc.strerror
            ) from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def delete(self, location: str) -> None:
        self.path(location).unlink(missing_ok=True)

    def discard_partials(self, location: str) -> None:
        final = self.path(location)
        for partial in final.parent.glob(f"{final.name}.*{PARTIAL}"):
            partial.unlink(missing_ok=True)

    def locations(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in self.root.rglob("*"):
            if path.is_file() and not path.name.endswith(PARTIAL):
                yield path.relative_to(self.root).as_posix()


def _fsync_directory(path: Path) -> None:
    """The rename itself survives a power cut only once its directory is flushed."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class S3Backend:
    """``s3://bucket/prefix``; the endpoint (for a non-AWS store) and region come from settings,
    the credentials from the standard AWS environment variables or files."""

    def __init__(self, url: str, endpoint_url: str | None, region: str) -> None:
        import boto3  # the optional `s3` extra: only a deployment that names a bucket needs it
        from botocore.config import Config

        self.url = url
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30
            ),
        )

    def key(self, location: str) -> str:
        return f"{self.prefix}/{location}" if self.prefix else location

    def _call(self, action: Callable[[], Any]) -> Any:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return action()
        except ClientError as exc:
            raise StorageUnavailableError(
                "%(url)s refused the request: %(reason)s",
                url=self.url,
                reason=exc.response["Error"].get("Code"),
            ) from exc
        except (BotoCoreError, Boto3Error) as exc:  # unreachable, or an upload that failed part-way
            raise StorageUnavailableError(
                "%(url)s cannot be reached: %(reason)s", url=self.url, reason=type(exc).__name__
            ) from exc

    def exists(self, location: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._call(lambda: self.client.head_object(Bucket=self.bucket, Key=self.key(location)))
        except StorageUnavailableError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and cause.response["Error"].get("Code") in ("404", "NoSuchKey"):
                return False
            raise
        return True

    def size(self, location: str) -> int:
        head = self._call(lambda: self.client.head_object(Bucket=self.bucket, Key=self.key(location)))
        return int(head["ContentLength"])

    def open_read(self, location: str) -> IO[bytes]:
        body = self._call(lambda: self.client.get_object(Bucket=self.bucket, Key=self.key(location)))["Body"]
        return body

    def write(self, source: IO[bytes], location: str, size: int, progress: Progress | None = None) -> None:
        """boto3 uploads large files in parts and aborts the upload when one fails, so the object
        exists whole or not at all."""
        written = [0]

        def counted(chunk: int) -> None:
            written[0] += chunk
            if progress is not None:
                progress(written[0])

        self._call(
            lambda: self.client.upload_fileobj(source, self.bucket, self.key(location), Callback=counted)
        )

    def delete(self, location: str) -> None:
        self._call(lambda: self.client.delete_object(Bucket=self.bucket, Key=self.key(location)))

    def discard_partials(self, location: str) -> None:
        """Uploads a crash left unfinished hold storage until aborted."""
        uploads = self._call(
            lambda: self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.key(location))
        )
        for upload in uploads.get("Uploads", []):
            abort = functools.partial(
                self.client.abort_multipart_upload,
                Bucket=self.bucket,
                Key=upload["Key"],
                UploadId=upload["UploadId"],
            )
            self._call(abort)

    def locations(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        start = f"{self.prefix}/" if self.prefix else ""
        pages = self._call(lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=start)))
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"][len(start) :]

    def local_path(self, location: str) -> Path | None:
        return None  # slide readers need a local file: ``retrieve`` makes one


def open_backend(url: str, endpoint_url: str | None, region: str) -> Backend:
    if url.startswith("s3://"):
        return S3Backend(url, endpoint_url, region)
    return LocalBackend(Path(url))
