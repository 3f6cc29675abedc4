"""A model's pictures are drawn from its folder in the reader's language, classes by display
name (issue 21: the models page is read in Chinese; its pictures said "loss", "predicted"
and ``lung_aca``). Drawn from the shipped models' own logs and cards."""

from __future__ import annotations

import io
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathodesk.i18n import translations
from pathodesk.ml import model_pictures
from pathodesk.ml.model_folder import PICTURES

SHIPPED = Path(model_pictures.__file__).parent.parent / "shipped_models"
CHINESE = translations("zh_CN").gettext


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.int16)


DRAWN = [
    ("lung", "curves.png"),
    ("lung", "confusion.png"),
    ("thyroid-fine", "confusion.png"),  # the slides held out, one by one
    ("superres-x8", "curves.png"),
    ("lung-coarse", "curves.png"),  # a step log, no stored picture
]


@pytest.mark.parametrize(("folder", "name"), DRAWN)
def test_each_picture_is_drawn_in_chinese_without_missing_glyphs(folder: str, name: str) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font")  # tofu boxes otherwise
        chinese = model_pictures.draw(SHIPPED / folder, name, CHINESE, lambda code: f"类别{code}")
    english = model_pictures.draw(SHIPPED / folder, name)
    assert chinese is not None and english is not None
    assert chinese.startswith(b"\x89PNG") and Image.open(io.BytesIO(chinese)).size[0] > 300
    ours, theirs = pixels(chinese), pixels(english)
    same_size = ours.shape == theirs.shape
    assert not same_size or np.abs(ours - theirs).max() > 100  # the words differ, not only noise


def test_the_confusion_matrix_names_classes_by_display_name() -> None:
    asked: list[str] = []

    def display(code: str) -> str:
        asked.append(code)
        return {"lung_aca": "lung adenocarcinoma"}.get(code, code)

    assert model_pictures.draw(SHIPPED / "lung", "confusion.png", class_name=display) is not None
    assert asked == ["lung_aca", "lung_n", "lung_scc"]  # the card's order: rows and columns


def test_a_folder_lists_what_it_can_show_drawn_or_stored(tmp_path: Path) -> None:
    assert model_pictures.pictures(SHIPPED / "lung") == ["curves.png", "confusion.png"]
    assert model_pictures.pictures(SHIPPED / "superres-x4") == [
        "curves.png",
        "examples.png",
    ]  # examples: stored
    # the low-power model has a step log and no stored picture: its loss curve is drawn
    assert model_pictures.pictures(SHIPPED / "lung-coarse") == ["curves.png"]
    assert model_pictures.draw(SHIPPED / "superres-x4", "examples.png") is None

    damaged = tmp_path / "damaged"
    shutil.copytree(SHIPPED / "lung", damaged, ignore=shutil.ignore_patterns("*.pt", "*.bin", "*.png"))
    (damaged / "log.csv").write_text("epoch,train_loss\n1,not a number\n")
    assert model_pictures.pictures(damaged) == ["confusion.png"]  # the card still gives it
    (damaged / "card.json").write_text("{")
    assert model_pictures.pictures(damaged) == []


def test_training_writes_every_picture_in_english_beside_the_model(tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(SHIPPED / "thyroid-fine", folder, ignore=shutil.ignore_patterns("*.pt", "*.png"))
    model_pictures.write_pictures(folder)
    assert sorted(p.name for p in folder.glob("*.png")) == sorted(
        {"curves.png", "confusion.png"} & set(PICTURES)
    )
    assert (folder / "confusion.png").read_bytes() == model_pictures.draw(folder, "confusion.png")
