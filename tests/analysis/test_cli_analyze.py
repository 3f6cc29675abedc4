"""`pathodesk analyze` (issue 7, API.md): JSON summary and ASAP XML whose polygons match the truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from shapely.geometry import shape
from shapely.ops import unary_union

from pathodesk.analysis.mosaic import split_images, write_mosaic
from pathodesk.annotations.formats import read_annotation_file
from pathodesk.ml.registry import SHIPPED_DIR
from tests.support.slides import immunostained_copy


def analyze(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pathodesk.cli", "--data-dir", str(tmp_path / "data"), "analyze", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_analyze_a_real_slide_file(tmp_path: Path, samples: dict[str, Path]) -> None:
    out = tmp_path / "cmu.geojson"
    done = analyze(tmp_path, str(samples["svs"]), "--disease-type", "lung", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["tiles"] > 20 and summary["tile_px"] == 224 and summary["model"].startswith("lung v")
    assert summary["slide_label"] in ("lung_n", "lung_aca", "lung_scc")
    assert len(read_annotation_file(out.read_bytes()).regions) == len(summary["regions"])
    assert "warning" not in done.stderr  # H&E, as the lung models learned from
    half = analyze(tmp_path, str(samples["svs"]), "--disease-type", "lung", "--tile-px", "448", "--json")
    assert json.loads(half.stdout)["tile_px"] == 448
    restained = str(immunostained_copy(samples["svs"], tmp_path / "ihc.tiff"))
    ihc = analyze(tmp_path, restained, "--disease-type", "lung", "--tile-px", "448", "--json")
    assert ihc.returncode == 0 and json.loads(ihc.stdout)["tile_px"] == 448  # said, not refused
    expected = (
        "warning: this slide looks like immunohistochemistry (DAB), but the models learned from H&E slides"
    )
    assert expected in ihc.stderr


def test_bad_arguments_are_readable_errors(tmp_path: Path, samples: dict[str, Path]) -> None:
    unknown = analyze(tmp_path, str(samples["svs"]), "--disease-type", "kidney")
    assert unknown.returncode != 0 and "no active model for disease type 'kidney'" in unknown.stderr
    missing = analyze(tmp_path, str(tmp_path / "nope.svs"), "--disease-type", "lung")
    assert missing.returncode != 0 and "nope.svs" in missing.stderr and "Traceback" not in missing.stderr
    wrong = str(tmp_path / "x.txt")
    suffix = analyze(tmp_path, str(samples["svs"]), "--disease-type", "lung", "--out", wrong)
    assert suffix.returncode != 0 and ".xml" in suffix.stderr
    assert not (tmp_path / "x.txt").exists()


def test_asap_xml_polygons_match_the_mosaic_truth(tmp_path: Path, shared_data: Path) -> None:
    images = split_images(shared_data / "lc25000-lung-224", SHIPPED_DIR / "lung" / "splits.csv")
    # the worst-aligned mosaic: every analysis tile straddles four source tiles
    truth = write_mosaic(tmp_path / "mosaic.tiff", images, "lung_n", "lung_aca", seed=3, offset=112)
    out = tmp_path / "mosaic.xml"
    done = analyze(
        tmp_path,
        str(truth.path),
        *("--disease-type", "lung", "--outline", "tiles", "--overlap", "2", "--out", str(out), "--json"),
    )

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["overlap"], summary["tile_px"], summary["cell_px"]) == (2, 224, 112)
    regions = read_annotation_file(out.read_bytes()).regions
    assert {r.label for r in regions} == {"lung_aca"}  # the class is the polygon's group
    found = unary_union([shape(r.geometry) for r in regions])
    assert truth.tumour is not None
    assert 2 * found.intersection(truth.tumour).area / (found.area + truth.tumour.area) >= 0.9
