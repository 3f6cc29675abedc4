"""The ``pathodesk`` command line: create-admin and ingest (API.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from pathodesk.config import Settings
from pathodesk.db.models import Slide, TrainedModel, User
from pathodesk.db.session import Database


def run(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pathodesk.cli", "--data-dir", str(settings.data_dir), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_create_admin_hashes_the_password(settings: Settings) -> None:
    result = run(
        settings,
        "create-admin",
        "--account",
        "Chief",
        "--name",
        "Dr Chief",
        "--password-stdin",
        stdin="long-enough-pw-1\n",
    )
    assert result.returncode == 0, result.stderr
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        user = session.query(User).one()
        assert user.account == "chief" and user.role.value == "admin"
        assert user.password_hash.startswith("$argon2id$")
        assert "long-enough-pw-1" not in user.password_hash
    again = run(
        settings,
        "create-admin",
        "--account",
        "chief",
        "--password-stdin",
        stdin="long-enough-pw-1\n",
    )
    assert again.returncode == 2 and "already exists" in again.stderr
    weak = run(settings, "create-admin", "--account", "weak", "--password-stdin", stdin="short\n")
    assert weak.returncode == 2 and "password needs" in weak.stderr


def test_ingest_keeps_good_files_and_reports_bad_ones(
    settings: Settings, samples: dict[str, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "broken.svs"
    bad.write_bytes(samples["svs"].read_bytes()[:5000])
    result = run(
        settings,
        "ingest",
        str(samples["svs"]),
        str(bad),
        str(samples["pyramid"]),
        "--patient",
        "P9",
        "--exam",
        "E9",
        "--disease-type",
        "thyroid",
        "--json",
    )
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [Path(i["path"]).name for i in report["ingested"]] == [
        samples["svs"].name,
        samples["pyramid"].name,
    ]
    assert [Path(f["path"]).name for f in report["failed"]] == ["broken.svs"]
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        slides = session.query(Slide).all()
        assert {s.format for s in slides} == {"aperio", "pathodesk-pyramid"}
        assert {s.exam.disease_type for s in slides} == {"thyroid"}
    assert list(settings.incoming_dir.iterdir()) == []


def test_ingest_shows_a_progress_bar(settings: Settings, samples: dict[str, Path]) -> None:
    result = run(settings, "ingest", str(samples["svs"]))
    assert result.returncode == 0, result.stderr
    assert "100%" in result.stderr and "ingest" in result.stderr
    assert "-> slide 1" in result.stdout


def test_low_resolution_ingest_super_resolution_and_the_storage_report(
    settings: Settings, samples: dict[str, Path], tmp_path: Path
) -> None:
    """E1: ``ingest --store-downsample 8`` keeps 1/64 of the pixels; ``storage report`` says
    how much that saves; ``superres`` enlarges any image with the active model (E6)."""
    from PIL import Image

    from tests.support.accounts import make_accounts
    from tests.support.superres import random_generator, register_generator

    make_accounts(settings)
    register_generator(settings, random_generator(), tmp_path / "run")
    result = run(
        settings, "ingest", str(samples["svs"]), "--disease-type", "lung", "--store-downsample", "8", "--json"
    )
    assert result.returncode == 0, result.stderr
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        slide = session.query(Slide).one()
        assert (slide.store_downsample, slide.resolution_state.value, slide.width) == (8, "low", 2220)
        assert (
            slide.stored_bytes is not None and slide.stored_bytes < slide.byte_size / 5
        )  # the label and macro images weigh most here
    report = run(settings, "storage", "report", "--json")
    assert report.returncode == 0, report.stderr
    numbers = json.loads(report.stdout)
    assert numbers["tiers"]["recent"]["low_resolution_files"] == 1 and numbers["saved_fraction"] > 0.8
    assert "saved" in run(settings, "storage", "report").stdout

    image = tmp_path / "small.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (21, 30, 3), dtype=np.uint8)).save(image)
    out = tmp_path / "out" / "big.png"
    enlarged = run(settings, "superres", str(image), "--scale", "8", "--out", str(out), "--json")
    assert enlarged.returncode == 0, enlarged.stderr
    assert json.loads(enlarged.stdout)["size"] == [240, 168] and Image.open(out).size == (240, 168)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    refused = run(settings, "superres", str(broken), "--scale", "8", "--out", str(out))
    assert refused.returncode == 2 and "not a readable image" in refused.stderr
    too_deep = run(
        settings,
        "train",
        "--disease-type",
        "lung",
        "--role",
        "superres",
        "--data",
        str(tmp_path / "out"),
        "--scale",
        "8",
        "--blocks",
        "9",
    )  # E8: a generator that sees past the tiles' context margin would show seams
    assert too_deep.returncode == 2 and "fewer blocks" in too_deep.stderr, too_deep.stderr


def test_commands_without_a_model_start_without_the_model_stack(settings: Settings) -> None:
    """Help, accounts, storage and backups never wait for torch, scikit-learn or
    scikit-image to load (eight seconds on a slow CPU, on every call): opening the database
    registers the shipped models from their cards alone; only loading weights imports torch."""
    probe = (
        "import sys\n"
        "from pathodesk.cli import build_parser\n"
        "from pathodesk.cli.common import open_database\n"
        "from pathodesk.config import Settings\n"
        "build_parser()\n"
        f"open_database(Settings(data_dir={str(settings.data_dir)!r})).dispose()\n"
        "print(sorted({'torch', 'torchvision', 'sklearn', 'skimage', 'scipy'} & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        assert session.query(TrainedModel).count() > 0, "the shipped models were registered"
    db.dispose()


def test_wrong_arguments_are_said_before_the_model_stack_loads(
    settings: Settings, samples: dict[str, Path], tmp_path: Path
) -> None:
    """A wrong folder, slide, disease type, model or class set is a readable error without
    first importing torch and torchvision (ten seconds and more on a slow CPU)."""
    from PIL import Image

    for name in ("mucosa", "stroma"):  # classes the shipped lung model does not know
        (tmp_path / "classes" / name).mkdir(parents=True)
        Image.new("RGB", (32, 32), (200, 120, 160)).save(tmp_path / "classes" / name / "a.png")
    cases = [
        ["train", "--disease-type", "lung", "--data", str(tmp_path / "absent")],
        ["train", "--disease-type", "nope", "--data", str(tmp_path / "classes")],
        ["analyze", str(tmp_path / "absent.svs"), "--disease-type", "lung"],
        ["analyze", str(samples["svs"]), "--disease-type", "kidney"],
        ["analyze", str(samples["svs"]), "--disease-type", "kidney", "--mode", "cascade"],
        ["models", "evaluate", "--disease-type", "lung", "--data", str(tmp_path / "classes")],
    ]
    probe = (
        "import json, sys\n"
        "from pathodesk.cli import main\n"
        f"for case in {cases!r}:\n"
        f"    code = main(['--data-dir', {str(settings.data_dir)!r}, *case])\n"
        "    print(json.dumps([code, 'torch' in sys.modules or 'torchvision' in sys.modules]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [[2, False]] * len(cases)
    said = result.stderr
    for expected in (
        "absent is not a folder",
        "disease type 'nope' does not exist",
        "absent.svs",
        "no active model for disease type 'kidney'",
        "classes the model does not know: mucosa, stroma",
    ):
        assert expected in said, said
