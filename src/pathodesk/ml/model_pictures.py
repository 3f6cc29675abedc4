"""A model's pictures drawn from its own folder (``log.csv``, ``card.json``), in the reader's
language and with classes by display name: the models page is read in Chinese too, and a
picture in English with class codes (``lung_aca``) said less than the table beside it.

Training writes them once in English (``write_pictures``), so that a model folder explains
itself wherever it is copied; the page has them drawn again in its language (``draw``). A
picture that cannot be drawn from the folder (the super-resolution examples, made from test
tiles; a folder from an older version) is served as stored.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

from pathodesk.ml.model_folder import CARD_FILE, LOG_FILE, PICTURES
from pathodesk.ml.plots import (
    Row,
    Words,
    confusion_picture,
    english,
    step_loss_curve,
    superres_curves,
    training_curves,
)

ClassName = Callable[[str], str]


def pictures(folder: Path) -> list[str]:
    """The names of the pictures a model's folder can show, drawn or stored. Asked for every
    model a page lists: the log's columns decide, so only its first row is read."""
    card, history = _read(folder, rows=1)
    return [
        name
        for name in PICTURES
        if (folder / name).is_file() or _drawing(card, history, name, english, str) is not None
    ]


def draw(folder: Path, name: str, _: Words = english, class_name: ClassName = str) -> bytes | None:
    """``name`` (one of ``PICTURES``) drawn from the folder; None when it holds no data for it."""
    drawing = _drawing(*_read(folder), name, _, class_name)
    return None if drawing is None else drawing()


def write_pictures(folder: Path) -> None:
    """Every picture the folder's log and card give, in English, beside the model."""
    for name in PICTURES:
        picture = draw(folder, name)
        if picture is not None:
            (folder / name).write_bytes(picture)


def _drawing(
    card: dict[str, Any], history: list[Row], name: str, _: Words, class_name: ClassName
) -> Callable[[], bytes] | None:
    """How to draw ``name`` from this card and log, or None: deciding costs no drawing."""
    if name == "curves.png":
        return _curves(card, history, _)
    if name == "confusion.png":
        return _confusion(card, _, class_name)
    return None


def _curves(card: dict[str, Any], history: list[Row], _: Words) -> Callable[[], bytes] | None:
    columns = set(history[0]) if history else set()
    best = int((card.get("training") or {}).get("best_epoch") or 0)
    if {"epoch", "train_l1", "val_psnr"} <= columns and best:
        return lambda: superres_curves(history, best, _)
    if {"epoch", "train_loss", "val_loss", "train_accuracy", "val_balanced_accuracy"} <= columns and best:
        return lambda: training_curves(history, best, _)
    if {"step", "loss"} <= columns:
        return lambda: step_loss_curve(history, _)
    return None


def _confusion(card: dict[str, Any], _: Words, class_name: ClassName) -> Callable[[], bytes] | None:
    test = card.get("test") or {}
    matrix, labels = test.get("confusion_matrix"), test.get("labels") or card.get("labels")
    if not matrix or not labels or len(labels) != len(matrix):
        return None
    held_out = card.get("leave_one_slide_out")
    if held_out:
        title = _("%(slides)s slides, each held out once") % {"slides": len(held_out)}
    else:
        title = _("test split (%(count)s images)") % {"count": test.get("count", sum(map(sum, matrix)))}
    names = [class_name(label) for label in labels]
    return lambda: confusion_picture(matrix, names, title, _)


def _read(folder: Path, rows: int | None = None) -> tuple[dict[str, Any], list[Row]]:
    """The card and the log (its first ``rows``, or all); each empty where its file is
    missing or unreadable."""
    try:
        card = json.loads((folder / CARD_FILE).read_text())
    except (OSError, ValueError):
        card = {}
    try:
        with (folder / LOG_FILE).open(newline="") as handle:
            read = islice(csv.DictReader(handle), rows)
            history = [{key: float(value) for key, value in row.items()} for row in read]
    except (OSError, ValueError, TypeError):
        history = []
    return (card if isinstance(card, dict) else {}), history
