"""``pathodesk storage`` (API.md; issue 18, item 4): apply-policy with and without --dry-run,
scrub with a mirror, organize into a folder and a zip, and the report that shows it all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from sqlalchemy import text

from pathodesk.config import Settings
from pathodesk.db.models import Exam, Slide, StorageTier
from pathodesk.storage import file_sha256
from pathodesk.storage.backups import take_backup
from pathodesk.web.state import LOOKUP_TTL_SECONDS
from tests.storage.library import Library, days_ago
from tests.support.accounts import Accounts
from tests.support.http import login, upload_slide
from tests.support.server import LiveServer


def run(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pathodesk.cli", *args[:2], "--data-dir", str(settings.data_dir), *args[2:]],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=os.environ | {"PATHODESK_MOVE_GRACE_SECONDS": "0"} | env,
    )


def test_apply_policy_scrub_and_report(settings: Settings, tmp_path: Path) -> None:
    library = Library.open(settings)
    exam = library.exam(admitted=days_ago(5))
    slides = [library.slide(exam), library.slide(exam)]
    library.discharge(exam, days_ago(2))

    preview = run(settings, "storage", "apply-policy", "--dry-run", "--json")
    assert preview.returncode == 0, preview.stderr
    assert json.loads(preview.stdout)["routes"] == {"recent->middle": 2}
    assert library.tiers_of(slides) == [StorageTier.recent] * 2

    applied = run(settings, "storage", "apply-policy")
    assert applied.returncode == 0, applied.stderr
    assert "2 file(s) on the wrong tier" in applied.stdout and "moved 2, failed 0" in applied.stdout
    assert library.tiers_of(slides) == [StorageTier.middle] * 2

    mirror = json.dumps({"url": str(tmp_path / "mirror")})
    scrubbed = run(settings, "storage", "scrub", "--json", PATHODESK_MIRROR=mirror)
    assert scrubbed.returncode == 0, scrubbed.stderr
    result = json.loads(scrubbed.stdout)
    assert (result["copied_to_mirror"], result["files"], result["mismatches"]) == (2, 2, 0)

    report = json.loads(run(settings, "storage", "report", "--json", PATHODESK_MIRROR=mirror).stdout)
    assert report["tiers"]["middle"]["slides"] == 2 and report["tiers"]["recent"]["slides"] == 0
    assert report["tiers"]["middle"]["read_mb_per_s"] == 150.0
    assert report["moves"]["done"] == 2 and report["moves"]["failed"] == 0
    assert report["mirror"]["configured"] and report["mirror"]["last_scrub"]["files"] == 2
    text = run(settings, "storage", "report", PATHODESK_MIRROR=mirror).stdout
    assert "0 damaged cop(ies)" in text and "moves     0 planned, 0 failed" in text


def test_organize_gathers_one_patients_images_with_a_manifest(settings: Settings, tmp_path: Path) -> None:
    library = Library.open(settings)
    earlier = library.slide(library.exam(admitted=days_ago(400), discharged=days_ago(390), patient="ORG-1"))
    second = library.exam(admitted=days_ago(3), patient="ORG-1")  # readmitted
    kept = [earlier, library.slide(second), library.slide(second)]
    library.slide(library.exam(admitted=days_ago(3), patient="SOMEONE-ELSE"))
    assert library.tiers_of(kept) == [StorageTier.long_term, StorageTier.recent, StorageTier.recent]

    folder = tmp_path / "out" / "ORG-1"
    done = run(settings, "storage", "organize", "--patient", "ORG-1", "--out", str(folder))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    files = [slide for exam in manifest["exams"] for slide in exam["slides"]]
    assert len(files) == 3 and {slide["tier"] for slide in files} == {"long", "recent"}
    for slide in files:
        assert file_sha256(folder / slide["file"]) == slide["sha256"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["manifest.json", *{f["file"].split("/")[0] for f in files}]
    )

    archive = tmp_path / "ORG-1.zip"
    assert run(settings, "storage", "organize", "--patient", "ORG-1", "--out", str(archive)).returncode == 0
    with zipfile.ZipFile(archive) as opened:
        assert sorted(opened.namelist()) == sorted(["manifest.json", *(f["file"] for f in files)])
    assert not list(tmp_path.glob(".*partial")), "nothing half-written left behind"

    again = run(settings, "storage", "organize", "--patient", "ORG-1", "--out", str(folder))
    assert again.returncode != 0 and "exists already" in again.stderr
    unknown = run(settings, "storage", "organize", "--patient", "NOBODY", "--out", str(tmp_path / "x"))
    assert unknown.returncode != 0 and "patient NOBODY does not exist" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_database_backup_list_and_restore_from_the_command_line(settings: Settings) -> None:
    library = Library.open(settings)
    kept = library.slide(library.exam())
    taken = run(settings, "database", "backup", "--json")
    assert taken.returncode == 0, taken.stderr
    name = json.loads(taken.stdout)["name"]
    assert (settings.data_dir / "backups" / name).is_file()
    later = library.slide(library.exam())
    assert "on the database's own disk" in run(settings, "storage", "report").stdout

    unconfirmed = run(settings, "database", "restore", name)  # no terminal, no --yes
    assert unconfirmed.returncode == 2 and "confirm with --yes" in unconfirmed.stderr
    assert library.row(later).id == later, "nothing was restored"
    unknown = run(
        settings, "database", "restore", "pathodesk-19990101T000000.000000Z-manual.sqlite3.gz", "--yes"
    )
    assert unknown.returncode == 2 and "no backup called" in unknown.stderr

    restored = run(settings, "database", "restore", name, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert f"restored {name}" in restored.stdout
    assert "1 file(s) were stored after the backup and no slide points at them" in restored.stdout
    with library.db.session() as session:
        assert {slide.id for slide in session.query(Slide)} == {kept}

    listed = json.loads(run(settings, "database", "backups", "--json").stdout)
    assert [(b["name"] == name, b["reason"]) for b in listed["backups"]] == [
        (False, "before-restore"),
        (True, "manual"),
    ]
    chinese = run(settings, "database", "backups", PATHODESK_LOCALE="zh_CN")
    assert "份备份" in chinese.stdout and "恢复之前" in chinese.stdout


def test_a_running_server_serves_the_restored_database(live_server: LiveServer, accounts: Accounts) -> None:
    """SQLite's backup API writes into the file a running server has open (WAL, pooled
    connections): the server reads the restored rows, refuses the logins that ended, and goes
    on handing out new ids."""
    settings = live_server.settings
    with httpx.Client(base_url=live_server.url, timeout=120) as client:
        login(client, "expert-a")
        kept = upload_slide(client, _png_file(settings, 1), accounts.exam_a_id)["id"]
        name = json.loads(run(settings, "database", "backup", "--json").stdout)["name"]
        gone = upload_slide(client, _png_file(settings, 2), accounts.exam_a_id)["id"]

        restored = run(settings, "database", "restore", name, "--yes")
        assert restored.returncode == 0, restored.stderr
        time.sleep(LOOKUP_TTL_SECONDS + 0.5)  # the server's memory of the ended login expires
        assert client.get("/api/v1/me").status_code == 401

        login(client, "expert-a")
        assert [slide["id"] for slide in client.get("/api/v1/slides").json()] == [kept]
        assert client.get(f"/dzi/{kept}_files/8/0_0.jpeg").status_code == 200
        again = upload_slide(client, _png_file(settings, 3), accounts.exam_a_id)["id"]
        assert int(again) > int(gone)  # type: ignore[call-overload]


def _png_file(settings: Settings, seed: int) -> Path:
    pixels = np.random.default_rng(seed).integers(120, 250, size=(300, 300, 3), dtype=np.uint8)
    path = settings.data_dir.parent / f"upload-{seed}.png"
    Image.fromarray(pixels).save(path)
    return path


def _on_a_small_disk(
    tmp_path: Path, url: str, *args: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    """``pathodesk ARGS`` with its data directory on a real 1 MiB tmpfs, mounted in a user
    namespace of the command's own; what it left on that disk (the tmpfs goes with it)."""
    small, listing = tmp_path / "small-disk", tmp_path / "left-on-the-disk.txt"
    small.mkdir(exist_ok=True)
    script = (
        'mount -t tmpfs -o size=1m none "$0" && "$@"; status=$?; find "$0" -type f > "$LISTING"; exit $status'
    )
    namespace = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, str(small)]
    finished = subprocess.run(
        [*namespace, sys.executable, "-m", "pathodesk.cli", *args[:2], "--data-dir", str(small), *args[2:]],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=os.environ | {"PATHODESK_DATABASE_URL": url, "LISTING": str(listing)} | env,
    )
    return finished, listing.read_text()


def test_a_backup_or_restore_that_fills_the_disk_fails_readably_and_changes_nothing(tmp_path: Path) -> None:
    """The data directory, where a backup is copied and a restore unpacked, is full; the
    database (elsewhere) holds ~4 MB that compress badly."""
    database = tmp_path / "db" / "pathodesk.sqlite3"
    database.parent.mkdir()
    url = f"sqlite:///{database}"
    settings = Settings(data_dir=tmp_path / "roomy", database_url=url)
    library = Library.open(settings)
    with library.db.session() as session:
        session.execute(
            text("INSERT INTO named_locks (name, locked_at) VALUES (:name, :at)"),
            [{"name": os.urandom(32).hex(), "at": "2026-11-27 00:00:00"} for _ in range(40_000)],
        )

    backup, left = _on_a_small_disk(tmp_path, url, "database", "backup")
    assert backup.returncode == 2, backup.stderr
    assert "the database could not be copied for a backup" in backup.stderr
    assert "Traceback" not in backup.stderr
    assert left == "", "nothing half-written on the full disk"

    good = take_backup(settings)  # on a disk with room
    later = library.exam()
    backups = json.dumps({"url": str(settings.data_dir / "backups")})
    restore, left = _on_a_small_disk(
        tmp_path, url, "database", "restore", good.name, "--yes", PATHODESK_BACKUPS=backups
    )
    assert restore.returncode == 2, restore.stderr
    assert "the backup could not be copied into the data directory" in restore.stderr
    assert "Traceback" not in restore.stderr
    assert left == ""
    with library.db.session() as session:
        assert session.get(Exam, later) is not None, "the database is as it was"
    library.db.dispose()
