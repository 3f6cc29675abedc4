"""Whole-slide tile classification (issue 7, item 1; SPEC A4, B7).

Tiles of the tissue grid are read by a small pool of threads (OpenSlide and our other
readers release the GIL while decoding) a few batches ahead of the model, so the CPU spends
its time in the network, not waiting on the slide. The model runs under
``torch.inference_mode`` with channels-last tensors, one batch at a time.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.fx.experimental.optimization import fuse

from pathodesk.ml.pipeline import Normalization
from pathodesk.ml.train import LoadedModel
from pathodesk.slides.base import SlideReader
from pathodesk.tissue import detect_tissue
from pathodesk.tissue.grid import Tile, tile_grid

Progress = Callable[[int, int], None]  # tiles done, tiles in all


class Cancelled(Exception):
    """The caller asked to stop (a cancelled job)."""


@dataclass(frozen=True)
class TileResults:
    tiles: list[Tile]
    probabilities: np.ndarray  # (tiles, classes), float32
    labels: list[str]
    tile_px: int


def analysis_tile_px(
    image_px: int, model_mpp: float | None, slide_mpp: float | None, override: int | None
) -> int:
    """Level-0 edge of an analysis tile: ``override`` (--tile-px), else the model's field of
    view at the slide's resolution, else the model's own input size read at level 0."""
    if override:
        return override
    if model_mpp and slide_mpp:
        return max(16, round(image_px * model_mpp / slide_mpp))
    return image_px


def tissue_tiles(reader: SlideReader, tile_px: int, min_fraction: float = 0.5) -> list[Tile]:
    tissue = detect_tissue(reader)
    return tile_grid(tissue.mask, tissue.downsample, reader.info.dimensions, tile_px, min_fraction)


def _runs(tiles: Sequence[Tile], tile_px: int) -> list[list[int]]:
    """Indices of tiles that sit side by side in one row, so one read covers them all."""
    runs: list[list[int]] = []
    for index, tile in enumerate(tiles):
        last = tiles[runs[-1][-1]] if runs else None
        if last is not None and last.y == tile.y and last.x + tile_px == tile.x:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def read_tiles(reader: SlideReader, tiles: Sequence[Tile], tile_px: int, image_px: int) -> np.ndarray:
    """RGB uint8 (n, image_px, image_px, 3), from the coarsest level that keeps the detail.

    Neighbours in a row are read as one strip: the slide's JPEG tiles they share are then
    decoded once instead of once per analysis tile."""
    info = reader.info
    level = info.best_level_for_downsample(tile_px / image_px)
    scale = info.level_downsamples[level]
    size = max(1, math.ceil(tile_px / scale))
    out = np.empty((len(tiles), image_px, image_px, 3), np.uint8)
    for run in _runs(tiles, tile_px):
        first = tiles[run[0]]
        step = tile_px / scale
        width = math.ceil(step * (len(run) - 1)) + size
        strip = reader.read_region((first.x, first.y), level, (width, size))[..., :3]
        for offset, index in enumerate(run):
            left = round(offset * step)
            region = strip[:, left : left + size]
            resized = size == image_px
            out[index] = (
                region if resized else cv2.resize(region, (image_px, image_px), interpolation=cv2.INTER_AREA)
            )
    return out


def to_batch(pixels: np.ndarray, normalization: Normalization) -> torch.Tensor:
    """uint8 NHWC -> normalised float NCHW, channels-last: the NHWC buffer permuted *is*
    channels-last, so one conversion and one in-place multiply-add, no layout copy."""
    std = torch.tensor(normalization.std).view(1, 3, 1, 1)
    scale = 1.0 / (255.0 * std)
    shift = -torch.tensor(normalization.mean).view(1, 3, 1, 1) / std
    batch = torch.from_numpy(pixels).permute(0, 3, 1, 2).to(torch.float32)
    return batch.mul_(scale).add_(shift).contiguous(memory_format=torch.channels_last)


_FUSED: dict[int, torch.nn.Module] = {}
_FUSE_LOCK = threading.Lock()


def inference_model(model: torch.nn.Module) -> torch.nn.Module:
    """The model with each batch norm folded into its convolution (torch.fx): the same
    function, about a fifth faster on CPU. Done once per model; eager as a fallback for
    architectures fx cannot trace."""
    with _FUSE_LOCK:
        if id(model) not in _FUSED:
            try:
                fused = fuse(model.eval())
            except Exception:  # tracing limits of some timm blocks: keep it eager
                fused = model
            _FUSED[id(model)] = fused
        return _FUSED[id(model)]


def predict(model: torch.nn.Module, batch: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return torch.softmax(model(batch), dim=1).numpy()


def classify_tiles(
    reader: SlideReader,
    tiles: Sequence[Tile],
    loaded: LoadedModel,
    tile_px: int,
    *,
    batch_size: int = 32,
    readers: int = 2,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Class probabilities per tile; reading runs ``readers + 1`` batches ahead of the model."""
    probabilities = np.zeros((len(tiles), len(loaded.labels)), np.float32)
    model = inference_model(loaded.model)
    starts = list(range(0, len(tiles), batch_size))
    done = 0
    with ThreadPoolExecutor(max_workers=readers, thread_name_prefix="tile-reader") as pool:
        pending: deque[tuple[int, Future[np.ndarray]]] = deque()
        upcoming = iter(starts)

        def refill() -> None:
            while len(pending) < readers + 1:
                start = next(upcoming, None)
                if start is None:
                    return
                chunk = tiles[start : start + batch_size]
                pending.append((start, pool.submit(read_tiles, reader, chunk, tile_px, loaded.image_px)))

        refill()
        while pending:
            if should_stop is not None and should_stop():
                for _, future in pending:
                    future.cancel()
                raise Cancelled("analysis cancelled")
            start, future = pending.popleft()
            pixels = future.result()
            refill()  # the readers work on the next batches while the model runs
            # the conversion stays here: torch ops in a reader thread would start their own
            # worker threads and oversubscribe the two cores the model is using
            probabilities[start : start + len(pixels)] = predict(
                model, to_batch(pixels, loaded.normalization)
            )
            done += len(pixels)
            if progress is not None:
                progress(done, len(tiles))
    return probabilities
