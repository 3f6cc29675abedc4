"""What every command group shares: settings from the arguments, the migrated database, one
way to print results (JSON or lines) and one error style (``pathodesk: <why>``, exit 2)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from pathodesk.config import Settings

if TYPE_CHECKING:
    from pathodesk.db.session import Database
    from pathodesk.progress import Progress

# add(name, help) -> the sub-command's parser, with the shared --data-dir already on it
AddCommand = Callable[[str, str], argparse.ArgumentParser]


def settings_of(args: argparse.Namespace) -> Settings:
    overrides = {"data_dir": Path(args.data_dir)} if getattr(args, "data_dir", None) else {}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    settings.ensure_dirs()
    return settings


def open_database(settings: Settings) -> Database:
    """Migrated, with the shipped models registered: what every command expects to find."""
    from pathodesk.db.session import Database
    from pathodesk.lifecycle.backups import upgrade_schema
    from pathodesk.ml.shipped import install_shipped_models

    upgrade_schema(settings)
    db = Database(settings.resolved_database_url())
    install_shipped_models(db, settings)
    return db


def local_minute(moment: datetime) -> str:
    """A stored UTC time as the reader's clock shows it."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def emit(args: argparse.Namespace, data: object, text: str) -> None:
    """``--json`` prints ``data`` as one JSON document; otherwise the readable ``text``."""
    print(json.dumps(data) if getattr(args, "json", False) else text)


def progress_bar(args: argparse.Namespace, desc: str, unit: str = "it", total: int = 0) -> tqdm[Any]:
    """A bar on standard error, silent under ``--json`` (standard output stays one document)."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=getattr(args, "json", False))


def bar_progress(bar: tqdm[Any]) -> Progress:
    """A work loop's ``progress(done, total)`` moving ``bar`` (the total may be known late)."""

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return progress


def save_png(path: Path, pixels: Any) -> None:
    """An RGB array as a PNG at ``path``, whole or not at all: a crash never leaves half a
    picture under the asked name."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    Image.fromarray(pixels).save(partial, format="PNG")
    partial.replace(path)
