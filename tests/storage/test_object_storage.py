"""A tier in S3-compatible object storage (issue 18, items 1, 4, 6), against a real S3 protocol
server: moto's server mode, started here on a free port. moto is on PyPI (no binary to
download), speaks the S3 REST API over HTTP as MinIO or Ceph do, supports multipart uploads
and can be stopped in the middle of one; boto3 talks to it exactly as to a hospital's store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest
from moto.server import ThreadedMotoServer

from pathodesk.config import MediumSettings, Settings
from pathodesk.db.models import Exam, MoveState, StorageMove, StorageTier
from pathodesk.lifecycle.restore import restore_database
from pathodesk.lifecycle.schedule import apply_policy, run_moves
from pathodesk.slides import open_slide
from pathodesk.storage import slide_file
from pathodesk.storage.backups import take_backup
from pathodesk.storage.checksum import stream_sha256
from pathodesk.storage.moves import claim, recover, run_move
from pathodesk.storage.report import storage_report
from pathodesk.storage.tiers import tier_backend
from tests.storage.library import Library, days_ago
from tests.support.server import free_port

BUCKET = "pathodesk-middle"


class S3Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "pathodesk-test",
        "AWS_SECRET_ACCESS_KEY": "pathodesk-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    server = S3Server()
    server.start()
    boto3.client("s3", endpoint_url=server.url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture
def library(settings: Settings, s3: S3Server) -> Library:
    settings.move_grace_seconds = 0.0
    settings.s3_endpoint_url = s3.url
    settings.tiers = {"middle": MediumSettings(url=f"s3://{BUCKET}/slides")}
    return Library.open(settings)


def object_sha256(library: Library, slide_id: int) -> str:
    with tier_backend(library.settings, StorageTier.middle).open_read(library.row(slide_id).path) as body:
        return stream_sha256(body)


def test_slides_are_saved_moved_and_read_through_object_storage(library: Library) -> None:
    exam = library.exam(admitted=days_ago(40), discharged=days_ago(30))
    saved = library.slide(exam)  # E5 save: straight into the bucket
    assert library.holders(saved) == [StorageTier.middle]
    assert object_sha256(library, saved) == library.row(saved).stored_sha256
    local = slide_file(library.settings, library.row(saved))  # E5 retrieve: a local copy for readers
    assert local.is_relative_to(library.settings.cache_dir)
    reader = open_slide(local)
    assert reader.read_region((10, 10), 0, (8, 8)).shape == (8, 8, 3)
    reader.close()

    inpatient = library.exam(admitted=days_ago(2))
    moving = library.slide(inpatient)
    library.discharge(inpatient, days_ago(1))
    apply_policy(library.db, library.settings)
    assert run_moves(library.db, library.settings)["done"] == 1  # recent -> bucket
    assert library.holders(moving) == [StorageTier.middle]
    assert object_sha256(library, moving) == library.row(moving).stored_sha256

    library.discharge(exam, days_ago(400), admitted=days_ago(410))
    apply_policy(library.db, library.settings)
    assert run_moves(library.db, library.settings)["done"] == 1  # bucket -> long-term folder
    assert library.assert_one_good_copy(saved) == StorageTier.long_term


def test_an_s3_server_that_disappears_mid_upload_fails_the_move_cleanly(
    library: Library, s3: S3Server
) -> None:
    """A ~10 MB slide goes up in parts; the server stops after the first. The move fails with a
    readable reason, the source stays the one copy, and a later run (server back) finishes."""
    exam = library.exam(admitted=days_ago(3))
    slide_id = library.slide(exam, side=1900)
    assert library.row(slide_id).byte_size > 9 * 1024**2
    library.discharge(exam, days_ago(1))
    apply_policy(library.db, library.settings)
    with library.db.session() as session:
        move_id = int(session.query(StorageMove.id).scalar())

    def stop_server(step: str) -> None:
        if step == "copying":
            s3.stop()

    assert claim(library.db, move_id)
    assert run_move(library.db, library.settings, move_id, stop_server) == MoveState.failed
    with library.db.session() as session:
        move = session.get(StorageMove, move_id)
        assert move is not None and "cannot be reached" in (move.error or ""), move.error
    assert library.row(slide_id).storage_tier == StorageTier.recent

    s3.start()  # the store is back (moto keeps its buckets in the process)
    assert library.assert_one_good_copy(slide_id) == StorageTier.recent, "no object was left"
    assert recover(library.db, library.settings, stale_after=timedelta(0)) == 0
    assert run_moves(library.db, library.settings)["done"] == 1
    assert library.holders(slide_id) == [StorageTier.middle]
    assert object_sha256(library, slide_id) == library.row(slide_id).stored_sha256
    uploads = boto3.client("s3", endpoint_url=s3.url).list_multipart_uploads(Bucket=BUCKET)
    assert not uploads.get("Uploads"), "the interrupted upload was aborted"


def test_database_backups_go_beside_a_mirror_in_a_bucket_and_restore_from_it(
    library: Library, s3: S3Server
) -> None:
    """With the mirror in object storage, backups are objects under its prefix; a restore
    reads one back from the bucket."""
    library.settings.mirror = MediumSettings(url=f"s3://{BUCKET}/mirror")
    exam = library.exam()
    backup = take_backup(library.settings)
    keys = [
        item["Key"]
        for item in boto3.client("s3", endpoint_url=s3.url).list_objects_v2(Bucket=BUCKET)["Contents"]
    ]
    assert f"mirror/database-backups/{backup.name}" in keys
    with library.db.session() as session:
        report = storage_report(session, library.settings)["database_backups"]
    assert report["count"] == 1 and report["beside_database"] is False  # type: ignore[index]

    library.exam()  # a case registered after the backup
    restore_database(library.settings, backup.name)
    with library.db.session() as session:
        assert [row.id for row in session.query(Exam)] == [exam]
