"""Whole-slide analysis throughput (issue 7, item 5): our engine against a naive loop.

Same slide (a mosaic of real LC25000 test tiles, pyramidal JPEG TIFF), same tissue tiles,
same shipped lung model. Three ways through it:

- ours: `classify_tiles` (reader threads a few batches ahead of one model thread per core,
  channels-last, inference_mode);
- naive (baseline): per tile OpenSlide `read_region` -> PIL -> torchvision transform, then
  the model, one batch at a time, nothing overlapped;
- model only: the same batches already in memory as tensors, the ceiling for any reader;
- reading only: the engine's reading and conversion without the model, for its CPU cost:
  on cores the model already fills, reading cannot hide for free, so the CPU seconds of
  both bound what share of model-only speed any pipeline can keep.

Prints tiles/s of each; the result line's ratio is ours / naive, `of_model_only` how much of
the model-only speed we keep (reading hidden behind compute when close to 1).

    .venv/bin/python bench/analyze.py [--grid 48] [--repeats 3] [--model lung|thyroid]
    .venv/bin/python bench/analyze.py --baseline tiatoolbox   # against TIAToolbox's PatchPredictor

With ``--baseline tiatoolbox`` (issue 22), the same tissue tiles of the slide at the model's
resolution go through TIAToolbox 2.1.3's ``PatchPredictor`` with its OpenSlide reader, batch
16, the same weights and threads. TIAToolbox needs torch < 2.13, so it runs in a virtual
environment of its own that the bench makes once under ``bench-results/`` (never a project
dependency); the bench prints what making it cost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import openslide
import torch
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import result_line
from pathodesk.analysis.inference import (
    BATCH_SIZE,
    classify_tiles,
    inference_model,
    input_buffer,
    model_threads,
    predict,
    read_tiles,
    tissue_tiles,
    to_batch,
)
from pathodesk.analysis.mosaic import split_images, write_mosaic
from pathodesk.ml.model_file import LoadedModel, load_model
from pathodesk.ml.registry import SHIPPED_DIR
from pathodesk.slides import open_slide
from pathodesk.slides.base import SlideReader
from pathodesk.tissue.grid import Tile

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench-results" / "analyze"
BATCH = 32  # the naive loop's batch; ours and model-only use the engine's BATCH_SIZE


def naive(path: Path, tiles: list[Tile], loaded: LoadedModel, tile_px: int) -> np.ndarray:
    slide = openslide.OpenSlide(str(path))
    transform = transforms.Compose(
        [
            transforms.Resize((loaded.image_px, loaded.image_px)),
            transforms.ToTensor(),
            transforms.Normalize(loaded.normalization.mean, loaded.normalization.std),
        ]
    )
    out = []
    with torch.no_grad():
        for start in range(0, len(tiles), BATCH):
            images = [
                transform(slide.read_region((t.x, t.y), 0, (tile_px, tile_px)).convert("RGB"))
                for t in tiles[start : start + BATCH]
            ]
            out.append(torch.softmax(loaded.model(torch.stack(images)), dim=1).numpy())
    slide.close()
    return np.concatenate(out)


def model_only(batches: list[torch.Tensor], loaded: LoadedModel) -> np.ndarray:
    """Our engine's model, run as the engine runs it (one batch per core), on batches
    already in memory: the ceiling for any reader."""
    model = inference_model(loaded)
    with model_threads(torch.get_num_threads()) as pool:
        return np.concatenate(list(pool.map(lambda batch: predict(model, batch), batches)))


def reading_only(reader: SlideReader, tiles: list[Tile], loaded: LoadedModel, tile_px: int) -> int:
    """What the engine does besides the model: read and convert every batch into one reused
    input buffer per thread, as the engine does, on the same threads."""
    buffers = threading.local()

    def read(start: int) -> int:
        pixels = read_tiles(reader, tiles[start : start + BATCH_SIZE], tile_px, loaded.image_px)
        if not hasattr(buffers, "batch"):
            buffers.batch = input_buffer(BATCH_SIZE, loaded.image_px)
        return len(to_batch(pixels, loaded.normalization, buffers.batch))

    with model_threads(torch.get_num_threads()) as pool:
        return sum(pool.map(read, range(0, len(tiles), BATCH_SIZE)))


def timed(run):  # type: ignore[no-untyped-def]
    """Wall seconds, CPU seconds (all threads, user + system) and the value."""
    started, cpu = time.perf_counter(), os.times()
    value = run()
    ended = os.times()
    used = ended.user - cpu.user + ended.system - cpu.system
    return time.perf_counter() - started, used, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=48, help="mosaic of grid x grid tiles")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--model",
        choices=["lung", "thyroid"],
        default="lung",
        help="shipped model to run: lung (MobileNetV3) or thyroid (the seed network, B5), "
        "on the same lung mosaic: speed does not depend on what the tiles show",
    )
    parser.add_argument("--baseline", choices=["naive", "tiatoolbox"], default="naive")
    args = parser.parse_args()
    shared = Path(os.environ.get("PATHODESK_SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not (shared / "lc25000-lung-224").is_dir():
        raise SystemExit(f"needs {shared / 'lc25000-lung-224'} (../shared/data)")
    loaded = load_model(SHIPPED_DIR / args.model / "model.pt")
    if args.baseline == "tiatoolbox":
        from _tiatoolbox import versus_tiatoolbox

        print(versus_tiatoolbox(mosaic(shared, loaded, args.grid, 1), loaded, args.repeats))
        return
    lines = [run_scenario(shared, loaded, args.grid, args.repeats, scale) for scale in (1, 2)]
    print(lines[0])
    print(lines[1])  # last: the result line (a 40x scan: the commoner case)


def mosaic(shared: Path, loaded: LoadedModel, grid: int, scale: int) -> Path:
    """Held-out LC25000 test tiles as one pyramidal slide, made once."""
    cell = loaded.image_px * scale
    path = WORK / f"lung-mosaic-{grid}-{cell}.tiff"
    if not path.exists():
        images = split_images(shared / "lc25000-lung-224", SHIPPED_DIR / "lung" / "splits.csv")
        write_mosaic(path, images, "lung_n", "lung_aca", grid=grid, cell_px=cell, seed=7, mpp=0.5 / scale)
    return path


def run_scenario(shared: Path, loaded: LoadedModel, grid: int, repeats: int, scale: int) -> str:
    """scale 1: the slide at the model's resolution; 2: scanned at twice it (40x for a 20x
    model), so each tile is read from the pyramid's next level, or by the naive loop at
    level 0 and resized."""
    path = mosaic(shared, loaded, grid, scale)
    reader = open_slide(path)
    tile_px = loaded.image_px * scale
    tiles = tissue_tiles(reader, tile_px)
    threads = torch.get_num_threads()
    print(
        f"{len(tiles)} tissue tiles of {tile_px} px (model input {loaded.image_px}), {threads} torch threads"
    )
    batches = [
        to_batch(
            read_tiles(reader, tiles[s : s + BATCH_SIZE], tile_px, loaded.image_px), loaded.normalization
        )
        for s in range(0, len(tiles), BATCH_SIZE)
    ]
    model_only(batches[:1], loaded)  # warm-up: first-call allocations
    runs = {
        "ours": lambda: classify_tiles(reader, tiles, loaded, tile_px),
        "naive": lambda: naive(path, tiles, loaded, tile_px),
        "model_only": lambda: model_only(batches, loaded),
        "reading_only": lambda: reading_only(reader, tiles, loaded, tile_px),
    }
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    results = {}
    for _ in range(repeats):  # interleaved, so that neither profits from a quieter moment
        for name, run in runs.items():
            elapsed, used, results[name] = timed(run)
            seconds[name].append(elapsed)
            cpu[name].append(used)
    rate = {name: len(tiles) / min(values) for name, values in seconds.items()}
    cpu_ms = {name: 1000 * min(values) / len(tiles) for name, values in cpu.items()}
    agreement = float(np.abs(results["ours"] - results["naive"]).max())
    # with every core busy, no pipeline can beat model + reading work spread over the cores
    bound = cpu_ms["model_only"] / (cpu_ms["model_only"] + cpu_ms["reading_only"])
    print(
        json.dumps(
            {
                "tiles": len(tiles),
                "tiles_per_s": {k: round(v, 1) for k, v in rate.items()},
                "cpu_ms_per_tile": {k: round(v, 3) for k, v in cpu_ms.items()},
                "of_model_only_bound_on_these_cores": round(bound, 3),
                "max_probability_difference_ours_vs_naive": round(agreement, 5),
            }
        )
    )
    return result_line(
        "analyze",
        rate["ours"],
        rate["naive"],
        "tiles/s",
        "per-tile OpenSlide read_region -> PIL -> torchvision transform -> model, one batch at a time",
        model_only_tiles_per_s=round(rate["model_only"], 1),
        of_model_only=round(rate["ours"] / rate["model_only"], 3),
        tiles=len(tiles),
        tile_px=tile_px,
        model=loaded.arch,
        slide=f"{grid}x{grid} mosaic of LC25000 test tiles, {0.5 / scale} µm/px",
    )


if __name__ == "__main__":
    main()
