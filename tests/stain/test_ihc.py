"""Nuclear IHC scores (Ki-67 index, H-score): nuclei painted with known stain amounts are
found once each and graded by their DAB; the command line prints the index and draws what
it counted; on real Ki-67 images the index is near the pathologists' labels and the same
region scanned by two scanners gets the same index."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathodesk.cli import main
from pathodesk.sampledata import fetch_he_reference
from pathodesk.stain.ihc import BLOCK_PX, DAB_ANGLE_LIMIT, dab_angle, hot_spot, score_nuclei
from tests.support.ihc import MPP, grid, hot_spot_field, painted_nuclei
from tests.support.paths import SAMPLE_DIR


def test_each_nucleus_is_found_once_and_graded_by_its_brown() -> None:
    amounts = [0.0] * 20 + [0.3] * 4 + [0.5] * 3 + [0.9] * 3  # 20 negative, 1+ ×4, 2+ ×3, 3+ ×3
    score = score_nuclei(painted_nuclei((200, 340), grid(amounts)), MPP)
    assert score.total == 30
    assert int(score.positive.sum()) == 10
    assert score.index == pytest.approx(100 * 10 / 30)
    assert score.intensity_counts() == (20, 4, 3, 3)
    assert score.h_score == pytest.approx(100 * (4 + 2 * 3 + 3 * 3) / 30)
    found = {(round(x), round(y)) for x, y in score.centres}
    assert all(any(abs(x - fx) <= 2 and abs(y - fy) <= 2 for fx, fy in found) for x, y, _ in grid(amounts))


def test_a_stricter_threshold_counts_fewer_positive_and_glass_counts_nothing() -> None:
    image = painted_nuclei((200, 340), grid([0.0] * 10 + [0.3] * 5 + [0.9] * 5))
    assert int(score_nuclei(image, MPP, positive_threshold=0.5).positive.sum()) == 5
    glass = score_nuclei(np.full((300, 300, 3), 245, np.uint8), MPP)
    assert glass.total == 0 and glass.index is None and glass.h_score is None
    with pytest.raises(ValueError, match="pixel size"):
        score_nuclei(image, 0.0)


def test_nuclei_on_the_seams_of_large_images_count_once() -> None:
    """Blocks of ``BLOCK_PX`` with margins: nuclei straddling a seam are neither lost nor
    counted by both blocks."""
    seam = BLOCK_PX
    nuclei = [(seam + dx, 100 + 40 * i, 0.9 if i % 2 else 0.0) for i in range(6) for dx in (-3, 25)]
    nuclei += [(60 + 40 * i, seam, 0.0) for i in range(5)]
    image = painted_nuclei((seam + 60, seam + 80), nuclei)
    score = score_nuclei(image, MPP)
    assert score.total == len(nuclei)
    right = score.subset(score.centres[:, 0] > seam + 10)  # right of the seam: six, three positive
    assert (right.total, int(right.positive.sum())) == (6, 3)


def test_the_command_prints_the_index_and_rings_what_it_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "hotspot.png"
    nuclei = grid([0.0] * 12 + [0.9] * 4)
    Image.fromarray(painted_nuclei((200, 340), nuclei)).save(image)
    overlay = tmp_path / "counted.png"
    assert main(["ihc", str(image), "--mpp", str(MPP), "--overlay", str(overlay), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["nuclei"], report["positive"], report["index_percent"]) == (16, 4, 25.0)
    assert report["intensity"] == {"negative": 12, "1+": 0, "2+": 0, "3+": 4}
    ringed = np.asarray(Image.open(overlay).convert("RGB")).astype(int)
    x, y, _ = nuclei[-1]  # a positive nucleus: its ring (2.5 µm, 5 px out) is red
    ring = ringed[y, x + 5]
    assert ring[0] > 150 and ring[2] < 100
    x, y, _ = nuclei[0]  # a negative one: blue
    ring = ringed[y, x + 5]
    assert ring[2] > 150 and ring[0] < 100

    assert main(["ihc", str(image)]) == 2  # a PNG does not say its pixel size
    assert "--mpp" in capsys.readouterr().err
    assert main(["ihc", str(image), "--mpp", "0"]) == 2
    assert "--mpp must lie between" in capsys.readouterr().err


@pytest.mark.shared
def test_real_ki67_images_agree_with_their_labels_and_across_scanners(shared_data: Path) -> None:
    """DeepLIIF's labelled Ki-67 tiles (not the two the parameters were chosen by) and one region
    scanned by a Hamamatsu and an Olympus scanner (QuPath's index differs by 3 to 8 points
    between them)."""
    import tifffile

    folder = shared_data / "deepliif-ki67-ihc-mpif"
    with (folder / "ki67_counts.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["file"].startswith("ihc_tiles/")]
    errors = []
    for row in rows:
        rgb = np.asarray(Image.open(folder / row["file"]).convert("RGB"))
        errors.append(abs((score_nuclei(rgb, 0.25).index or 0.0) - float(row["percent_pos"])))
    assert np.mean(errors) < 12, errors
    scans = shared_data / "openslide-os-crops-ometiff"
    ndpi = score_nuclei(tifffile.imread(scans / "OS-2-ndpi.ome.tif"), 0.2271)
    vsi = score_nuclei(tifffile.imread(scans / "OS-2-vsi.ome.tif"), 0.3461)
    assert abs((ndpi.index or 0) - (vsi.index or 0)) < 2.0
    assert abs(ndpi.total - vsi.total) < 0.1 * ndpi.total


def test_the_hot_spot_is_where_brown_nuclei_crowd_and_h_and_e_is_told_apart() -> None:
    field = hot_spot_field((360, 600), 6, (400, 180, 60), mpp=2.0)  # 720 × 1200 µm at low power
    centre = hot_spot(field, 2.0, diameter_um=200)
    assert centre is not None and np.hypot(centre[0] - 400, centre[1] - 180) < 30, centre
    assert hot_spot(np.full((200, 200, 3), 245, np.uint8), 2.0) is None  # glass: nowhere
    assert (dab_angle(field) or 90.0) < DAB_ANGLE_LIMIT
    he = np.asarray(Image.open(fetch_he_reference(SAMPLE_DIR)).convert("RGB"))  # TIAToolbox's H&E
    assert (dab_angle(he) or 0.0) > DAB_ANGLE_LIMIT
