"""``pathodesk train`` and ``pathodesk models list|activate|evaluate`` (API.md; issue 6)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from pathodesk.config import Settings
from pathodesk.db.models import DiseaseType
from pathodesk.db.session import Database, migrate


def pathodesk(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pathodesk.cli", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def qa_data_dir(tmp_path: Path, grading: dict[str, object] | None = None) -> Path:
    """A migrated data directory with a two-class disease type "qa" (glass, tissue)."""
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    settings.ensure_dirs()
    migrate(settings.resolved_database_url())
    with Database(settings.resolved_database_url()).session() as session:
        labels = [{"name": "glass", "color": "#cccccc"}, {"name": "tissue", "color": "#aa3377"}]
        session.add(DiseaseType(name="qa", display_name="QA", labels=labels, grading=grading))
    return data_dir


def test_train_list_activate_evaluate(cmu_tiles: Path, tmp_path: Path) -> None:
    data_dir = qa_data_dir(tmp_path)
    train = [
        "train", "--disease-type", "qa", "--data", str(cmu_tiles), "--groups", str(cmu_tiles / "groups.csv"),
        "--epochs", "1", "--max-steps", "2", "--lr", "0.01", "--json",
    ]  # fmt: skip
    for version in (1, 2):
        result = pathodesk(data_dir, *train)
        assert result.returncode == 0, result.stderr
        trained = json.loads(result.stdout)
        assert trained["version"] == version and trained["active"] is (version == 1)
        assert trained["card"]["splits"]["test"]["images"] > 0
        assert trained["card"]["stain"] == "he"  # what the viewer compares a slide's stain with

    listed = json.loads(pathodesk(data_dir, "models", "list", "--disease-type", "qa", "--json").stdout)
    assert [(m["version"], m["active"]) for m in listed] == [(1, True), (2, False)]
    activated = pathodesk(data_dir, "models", "activate", "--disease-type", "qa", "--version", "2", "--json")
    assert activated.returncode == 0 and json.loads(activated.stdout)["active"] is True
    listed = json.loads(pathodesk(data_dir, "models", "list", "--disease-type", "qa", "--json").stdout)
    assert [(m["version"], m["active"]) for m in listed] == [(1, False), (2, True)]

    evaluated = pathodesk(
        data_dir, "models", "evaluate", "--disease-type", "qa", "--data", str(cmu_tiles), "--json"
    )
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads(evaluated.stdout)
    assert set(metrics) >= {"accuracy", "balanced_accuracy", "labels", "per_class_f1", "confusion_matrix"}
    assert metrics["labels"] == ["glass", "tissue"] and sum(map(sum, metrics["confusion_matrix"])) > 100


def test_readable_errors(cmu_tiles: Path, tmp_path: Path) -> None:
    missing = pathodesk(tmp_path, "train", "--disease-type", "qa", "--data", str(tmp_path / "nothing"))
    assert (
        missing.returncode == 2 and "is not a folder" in missing.stderr and "Traceback" not in missing.stderr
    )
    unknown = pathodesk(tmp_path, "train", "--disease-type", "nope", "--data", str(cmu_tiles))
    assert unknown.returncode == 2 and "disease type 'nope' does not exist" in unknown.stderr
    bad_split = pathodesk(
        tmp_path, "train", "--disease-type", "lung", "--data", str(cmu_tiles), "--split", "7"
    )
    assert bad_split.returncode == 2 and "split" in bad_split.stderr
    no_model = pathodesk(tmp_path, "models", "activate", "--disease-type", "unclassified")
    assert no_model.returncode == 2 and "no active model" in no_model.stderr
    wrong_classes = pathodesk(
        tmp_path, "models", "evaluate", "--disease-type", "lung", "--data", str(cmu_tiles)
    )
    assert wrong_classes.returncode == 2 and "classes the model does not know" in wrong_classes.stderr


def test_dataset_build_writes_class_folders_of_tissue_tiles(tmp_path: Path, samples: dict[str, Path]) -> None:
    """Spec fidelity B2: `pathodesk dataset build SLIDE=GEOJSON --out DIR` tiles the tissue
    inside each outline and writes the folders `pathodesk train --data` reads."""
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[768, 1024], [1024, 1024], [1024, 2048], [768, 2048]]],
            },
            "properties": {"classification": {"name": "tumour"}},
        },
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[0, 0], [512, 0], [512, 512], [0, 512]]],
            },  # glass
            "properties": {"classification": {"name": "normal"}},
        },
    ]
    geojson = tmp_path / "slide.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    out = tmp_path / "dataset"
    done = pathodesk(
        tmp_path / "data",
        "dataset",
        "build",
        f"{samples['svs']}={geojson}",
        "--out",
        str(out),
        "--tile-px",
        "256",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["per_class"] == {"normal": 0, "tumour": 4}
    tiles = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert tiles == [f"tumour/CMU-1-Small-Region_x768_y{y}.png" for y in (1024, 1280, 1536, 1792)]
    assert all(Image.open(out / t).size == (256, 256) for t in tiles)
    groups = (out / "groups.csv").read_text().splitlines()
    assert groups[0] == "path,group" and all(line.endswith(",CMU-1-Small-Region.svs") for line in groups[1:])
    again = pathodesk(tmp_path / "data", "dataset", "build", f"{samples['svs']}={geojson}", "--out", str(out))
    assert again.returncode == 2 and "not empty" in again.stderr  # never written over


def test_training_retries_until_validation_reaches_a_threshold(cmu_tiles: Path, tmp_path: Path) -> None:
    """Spec fidelity B6: new seeds until the validation split reaches the threshold, or a
    clear refusal that registers nothing."""
    data_dir = qa_data_dir(tmp_path)
    train = [
        "train",
        "--disease-type",
        "qa",
        "--data",
        str(cmu_tiles),
        "--groups",
        str(cmu_tiles / "groups.csv"),
    ]
    train += ["--epochs", "1", "--max-steps", "1", "--lr", "0.01", "--json"]
    unreachable = pathodesk(data_dir, *train, "--min-val-balanced-accuracy", "1.01", "--attempts", "2")
    assert unreachable.returncode == 2 and "stayed below 1.01 in 2 attempt(s)" in unreachable.stderr
    assert json.loads(pathodesk(data_dir, "models", "list", "--disease-type", "qa", "--json").stdout) == []
    reached = pathodesk(data_dir, *train, "--min-val-balanced-accuracy", "0.0", "--attempts", "3")
    assert reached.returncode == 0, reached.stderr
    retraining = json.loads(reached.stdout)["card"]["retraining"]
    assert retraining["min_val_balanced_accuracy"] == 0.0 and [a["seed"] for a in retraining["attempts"]] == [
        0
    ]


def test_train_both_cascade_stages_and_run_the_cascade(
    cmu_tiles: Path, tmp_path: Path, samples: dict[str, Path]
) -> None:
    """``train --role coarse`` and ``--role fine`` (API.md) go through the same registry as
    any model; with both active, ``analyze --mode cascade`` runs them (issue 14, item 5)."""
    grading = {
        "coarse": [{"name": "benign"}, {"name": "malignant"}],
        "fine": {"glass": "benign", "tissue": "malignant"},
    }
    data_dir = qa_data_dir(tmp_path, grading)
    common = [
        "train",
        "--disease-type",
        "qa",
        "--data",
        str(cmu_tiles),
        "--groups",
        str(cmu_tiles / "groups.csv"),
    ]
    coarse = pathodesk(data_dir, *common, "--role", "coarse", "--steps", "30", "--json")
    assert coarse.returncode == 0, coarse.stderr
    card = json.loads(coarse.stdout)
    assert (card["role"], card["arch"], card["labels"]) == (
        "coarse",
        "coarse-attention",
        ["benign", "malignant"],
    )
    assert 0 < card["card"]["objectness_threshold"] < 1 and card["card"]["test"]["tissue_cells"] > 0
    assert card["card"]["stain"] == "he"
    fine = pathodesk(
        data_dir, *common, "--role", "fine", "--arch", "fpn-mobilenetv3_small_100",
        "--epochs", "1", "--max-steps", "2", "--lr", "0.01", "--json",
    )  # fmt: skip
    assert fine.returncode == 0, fine.stderr
    assert json.loads(fine.stdout)["role"] == "fine"
    listed = json.loads(pathodesk(data_dir, "models", "list", "--disease-type", "qa", "--json").stdout)
    assert sorted((m["role"], m["active"]) for m in listed) == [("coarse", True), ("fine", True)]
    done = pathodesk(
        data_dir, "analyze", str(samples["svs"]), "--disease-type", "qa", "--mode", "cascade", "--json"
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["mode"] == "cascade" and summary["tiles_exhaustive"] > 0
    assert summary["slide_grade"] in ("benign", "malignant")


def test_a_coarse_model_needs_a_benign_grade(cmu_tiles: Path, tmp_path: Path) -> None:
    """Without any tile of the first grade there is no lesion to tell apart: a clear error."""
    data_dir = qa_data_dir(tmp_path)  # no grading: glass and tissue both count as lesion
    result = pathodesk(
        data_dir, "train", "--disease-type", "qa", "--data", str(cmu_tiles), "--role", "coarse"
    )
    assert result.returncode != 0 and "first grade (benign)" in result.stderr
    assert "Traceback" not in result.stderr
