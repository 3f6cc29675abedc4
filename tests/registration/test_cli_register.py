"""``pathodesk register`` (API.md; issue 15, item 7): points given on the moving image come
out in the fixed image's pixels, JSON says what was done, bad input is a readable error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathodesk.cli import main
from pathodesk.registration import read_points
from pathodesk.registration.landmarks import write_points
from tests.registration.test_register import he_image, known_warp, moving_image, restained

__all__ = ["he_image"]


def test_points_are_carried_into_the_fixed_image(
    he_image: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = known_warp(he_image.shape[:2])
    Image.fromarray(he_image).save(tmp_path / "he.png")
    Image.fromarray(restained(moving_image(he_image, truth))).save(tmp_path / "ihc.png")
    fixed_points = np.array([[150.0, 200.0], [300.0, 420.0], [400.0, 600.0]])
    write_points(tmp_path / "ihc.csv", truth.fixed_to_moving(fixed_points))
    code = main(
        [
            "register",
            str(tmp_path / "he.png"),
            str(tmp_path / "ihc.png"),
            "--points",
            str(tmp_path / "ihc.csv"),
            "--out-points",
            str(tmp_path / "he.csv"),
            "--overlay",
            str(tmp_path / "overlay.png"),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["points"] == 3 and report["seconds"] > 0 and report["error_px"] < 3
    assert abs(report["transform"]["rotation_degrees"] + 7.0) < 1.5  # the known turn, in image axes (y down)
    carried = read_points(tmp_path / "he.csv")
    assert np.linalg.norm(carried - fixed_points, axis=1).max() < 2.0
    assert Image.open(tmp_path / "overlay.png").size == Image.open(tmp_path / "he.png").size


def test_a_bad_points_file_is_a_readable_error(
    he_image: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Image.fromarray(he_image).save(tmp_path / "he.png")
    (tmp_path / "points.csv").write_text("x;y\n1;2\n")
    assert (
        main(
            [
                "register",
                str(tmp_path / "he.png"),
                str(tmp_path / "he.png"),
                "--points",
                str(tmp_path / "points.csv"),
            ]
        )
        == 2
    )
    assert "header" in capsys.readouterr().err
    assert main(["register", str(tmp_path / "he.png"), str(tmp_path / "missing.png")]) == 2
    assert "No such file" in capsys.readouterr().err
