"""TIAToolbox as the baseline for whole-slide inference (issue 22, item 4).

TIAToolbox 2.1.3 needs torch < 2.13 while PathoDesk pins 2.14.1, so it gets a virtual
environment of its own under ``bench-results/`` — made once by the bench, never a project
dependency. PyPI's torch 2.12.1 brings its CUDA libraries along even on a machine without
a GPU; the bench says what that cost (seconds and disk) the time it makes the environment.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _common import result_line, side_venv
from pathodesk.analysis.inference import classify_tiles, tissue_tiles
from pathodesk.ml.model_file import LoadedModel
from pathodesk.slides import open_slide

PINS = ("tiatoolbox==2.1.3", "torch==2.12.1", "torchvision==0.27.1")
PREDICT = Path(__file__).resolve().parent / "_tiatoolbox_predict.py"
BATCH = 16


def versus_tiatoolbox(slide: Path, loaded: LoadedModel, repeats: int) -> str:
    python, cost = side_venv("tiatoolbox-venv", PINS)
    reader = open_slide(slide)
    tile = loaded.image_px
    tiles = tissue_tiles(reader, tile)
    width, height = reader.info.dimensions
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        mask = np.zeros((height // tile, width // tile), np.uint8)  # one pixel per tile cell
        for t in tiles:
            mask[t.y // tile, t.x // tile] = 1
        np.save(folder / "mask.npy", mask)
        torch.save(loaded.model.state_dict(), folder / "weights.pt")
        job = {
            "slide": str(slide),
            "mask": str(folder / "mask.npy"),
            "tile_px": tile,
            "weights": str(folder / "weights.pt"),
            "arch": loaded.arch,
            "classes": len(loaded.labels),
            "mean": list(loaded.normalization.mean),
            "std": list(loaded.normalization.std),
            "batch": BATCH,
            "threads": torch.get_num_threads(),
            "out": str(folder / "theirs.npz"),
            "scratch": scratch,
        }
        (folder / "job.json").write_text(json.dumps(job))
        ours_seconds, theirs_seconds = [], []
        for _ in range(repeats):  # interleaved
            started = time.perf_counter()
            ours = classify_tiles(reader, tiles, loaded, tile)
            ours_seconds.append(time.perf_counter() - started)
            command = [str(python), str(PREDICT), str(folder / "job.json")]
            ran = subprocess.run(command, capture_output=True, text=True, check=True)
            theirs_seconds.append(json.loads(ran.stdout.strip().splitlines()[-1])["seconds"])
        theirs = np.load(folder / "theirs.npz")
    where = {(int(x), int(y)): i for i, (x, y) in enumerate((t.x, t.y) for t in tiles)}
    order = [where[(int(c[0]), int(c[1]))] for c in theirs["coordinates"]]
    if len(order) != len(tiles):
        raise SystemExit(f"TIAToolbox classified {len(order)} tiles, PathoDesk {len(tiles)}")
    same = float((ours[order].argmax(1) == theirs["probabilities"].argmax(1)).mean())
    rate = len(tiles) / min(ours_seconds), len(tiles) / min(theirs_seconds)
    print(json.dumps({"ours_seconds": ours_seconds, "tiatoolbox_seconds": theirs_seconds}), file=sys.stderr)
    return result_line(
        "analyze_vs_tiatoolbox",
        rate[0],
        rate[1],
        "tiles/s",
        f"TIAToolbox 2.1.3 PatchPredictor, OpenSlideWSIReader, batch {BATCH}, torch 2.12.1",
        tiles=len(tiles),
        threads=torch.get_num_threads(),
        argmax_agreement=round(same, 4),
        max_probability_difference=round(float(np.abs(ours[order] - theirs["probabilities"]).max()), 6),
        median_ratio=round(statistics.median(theirs_seconds) / statistics.median(ours_seconds), 2),
        model=loaded.arch,
        **cost,
    )
