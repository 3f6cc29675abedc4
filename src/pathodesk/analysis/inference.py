"""Whole-slide tile classification (issue 7, item 1; SPEC A4, B7).

Tiles of the tissue grid are read by a small pool of threads (OpenSlide and our other
readers release the GIL while decoding) a few batches ahead of the model, so the CPU spends
its time in the network, not waiting on the slide. The model runs under
``torch.inference_mode`` with channels-last tensors, one batch per core at a time.
"""

from __future__ import annotations

import math
import threading
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from pathodesk.analysis.int8 import Int8Model, int8_enabled, load_int8
from pathodesk.errors import Cancelled
from pathodesk.ml.model_file import LoadedModel
from pathodesk.ml.pipeline import Normalization
from pathodesk.progress import Progress
from pathodesk.slides.base import SlideReader
from pathodesk.tissue import detect_tissue
from pathodesk.tissue.grid import Tile, tile_grid

# images per batch: one batch per core, and small enough that its activations stay under
# glibc's mmap threshold (32 images: page faults took a tenth of the CPU)
BATCH_SIZE = 16


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


def tissue_tiles(
    reader: SlideReader, tile_px: int, min_fraction: float = 0.5, stride: int | None = None
) -> list[Tile]:
    tissue = detect_tissue(reader)
    return tile_grid(
        tissue.mask, tissue.downsample, reader.info.dimensions, tile_px, min_fraction, stride=stride
    )


def _runs(tiles: Sequence[Tile], stride: int) -> list[list[int]]:
    """Indices of tiles that follow each other in one row, so one read covers them all."""
    runs: list[list[int]] = []
    for index, tile in enumerate(tiles):
        last = tiles[runs[-1][-1]] if runs else None
        if last is not None and last.y == tile.y and last.x + stride == tile.x:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def read_tiles(
    reader: SlideReader, tiles: Sequence[Tile], tile_px: int, image_px: int, stride: int | None = None
) -> np.ndarray:
    """RGB uint8 (n, image_px, image_px, 3), from the coarsest level that keeps the detail.

    Neighbours in a row (``stride`` apart, overlapping when less than ``tile_px``) are read
    as one strip: the slide's JPEG tiles they share are then decoded once, not per tile."""
    info = reader.info
    level = info.best_level_for_downsample(tile_px / image_px)
    scale = info.level_downsamples[level]
    size = max(1, math.ceil(tile_px / scale))
    out = np.empty((len(tiles), image_px, image_px, 3), np.uint8)
    for run in _runs(tiles, stride or tile_px):
        first = tiles[run[0]]
        step = (stride or tile_px) / scale
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


def input_buffer(images: int, side: int) -> torch.Tensor:
    """An empty float batch in the channels-last layout the model runs in."""
    return torch.empty(images, 3, side, side, memory_format=torch.channels_last)


def to_batch(
    pixels: np.ndarray, normalization: Normalization, out: torch.Tensor | None = None
) -> torch.Tensor:
    """uint8 NHWC -> normalised float NCHW, channels-last.

    Channels-last memory *is* NHWC, so the batch is filled as rows of ``width * 3`` values
    and normalised with one row-long scale and shift: the same multiply-add per channel,
    but vectorised along 672 values instead of broadcast over an innermost 3 (0.21 ->
    0.07 ms per 224 px tile). ``out`` (channels-last, at least as many images of the same
    size) is reused instead of allocating: a fresh 19 MB batch costs page faults each time."""
    count, height, width, channels = pixels.shape
    batch = (input_buffer(count, height) if out is None else out)[:count]
    rows = batch.permute(0, 2, 3, 1).view(count * height, width * channels)
    rows.copy_(torch.from_numpy(np.ascontiguousarray(pixels)).view(count * height, width * channels))
    std = torch.tensor(normalization.std)
    scale = (1.0 / (255.0 * std)).repeat(width)
    shift = (-torch.tensor(normalization.mean) / std).repeat(width)
    rows.mul_(scale).add_(shift)
    return batch


_FROZEN: weakref.WeakKeyDictionary[torch.nn.Module, dict[int, torch.nn.Module]] = weakref.WeakKeyDictionary()
_FREEZE_LOCK = threading.Lock()


def inference_model(
    loaded: LoadedModel, side: int | None = None, channels_last: bool = True
) -> torch.nn.Module:
    """The model frozen for inference, once per model and input size: traced with
    TorchScript and frozen, so batch norms fold into the convolutions and timm's
    Python-level blocks become one graph. 1.5x the eager mobilenet (884 vs 578 images/s, one
    batch per core), as fast as eager for the seed network; the cascade's coarse model,
    traced on its window size in the plain layout, 7x its eager speed. Eager when tracing
    fails or the frozen graph disagrees."""
    with _FREEZE_LOCK:
        by_side = _FROZEN.setdefault(loaded.model, {})
        side = side or loaded.image_px
        if side not in by_side:
            by_side[side] = _freeze(loaded.model.eval(), side, channels_last)
        return by_side[side]


_INT8: dict[Path, Int8Model | None] = {}


def serving_model(loaded: LoadedModel) -> Callable[[torch.Tensor], torch.Tensor]:
    """What classifies tiles: the folder's int8 variant where it has one and OpenVINO runs
    it here (``analysis.int8``), else the frozen fp32 graph. Compiled once per variant."""
    if loaded.int8 is None or not int8_enabled():
        return inference_model(loaded)
    with _FREEZE_LOCK:
        if loaded.int8 not in _INT8:
            _INT8[loaded.int8] = load_int8(loaded.int8, _CORES)
        variant = _INT8[loaded.int8]
    return inference_model(loaded) if variant is None else variant


def _freeze(model: torch.nn.Module, image_px: int, channels_last: bool) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(0)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    traced_on, checked_on = (
        torch.rand(n, 3, image_px, image_px, generator=generator).contiguous(memory_format=layout)
        for n in (2, 3)  # checked on another batch size: the graph must not have fixed it
    )
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # trace and freeze are deprecated, still the fastest on CPU
            frozen = torch.jit.freeze(torch.jit.trace(model, traced_on))
            agrees = _agree(frozen(checked_on), model(checked_on))
    except Exception:  # a model TorchScript cannot trace
        return model
    return frozen if agrees else model


def _agree(a: torch.Tensor | tuple[torch.Tensor, ...], b: torch.Tensor | tuple[torch.Tensor, ...]) -> bool:
    """Same outputs, one tensor or several (the cascade's coarse model gives two maps)."""
    pairs = zip(a, b, strict=True) if isinstance(a, tuple) and isinstance(b, tuple) else [(a, b)]
    return all(torch.allclose(x, y, rtol=1e-3, atol=1e-4) for x, y in pairs)  # type: ignore[arg-type]


def predict(model: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return torch.softmax(model(batch), dim=1).numpy()


# torch's intra-op thread count at import (the process's setting), restored after each run
_PROCESS_THREADS = _CORES = torch.get_num_threads()


def share_cores(jobs_at_once: int) -> int:
    """Model threads per job when a worker process runs several jobs at once (``pathodesk
    worker --concurrency``), so that together they use each core once, not ``jobs_at_once``
    times."""
    global _PROCESS_THREADS
    _PROCESS_THREADS = max(1, _CORES // max(1, jobs_at_once))
    torch.set_num_threads(_PROCESS_THREADS)
    return _PROCESS_THREADS


@contextmanager
def model_threads(count: int) -> Iterator[ThreadPoolExecutor]:
    """Threads that each push whole batches through the model on one core.

    Why not one batch on all cores (torch's default): a small network's many short layers
    leave OpenMP workers waiting on each other, and once a second thread has used OpenMP
    (a job worker, say) libgomp stops spinning and every layer pays a wake-up. One batch
    per core avoids both: measured 633 vs 504 images/s (mobilenet, 2 cores), and the same
    from any thread. ``torch.set_num_threads`` also sets the default that threads started
    later inherit, so it is put back afterwards."""
    pool = ThreadPoolExecutor(
        max_workers=count,
        thread_name_prefix="model",
        initializer=torch.set_num_threads,
        initargs=(1,),
    )
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(_PROCESS_THREADS)


def classify_tiles(
    reader: SlideReader,
    tiles: Sequence[Tile],
    loaded: LoadedModel,
    tile_px: int,
    *,
    batch_size: int = BATCH_SIZE,
    readers: int = 2,
    stride: int | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    out: np.ndarray | None = None,
    give_way: Callable[[], object] | None = None,
) -> np.ndarray:
    """Class probabilities per tile (written into ``out`` when given). Reader threads fill
    batches ahead of the model threads (one batch per core), so that decoding the slide
    hides behind the network. Batches are always ``batch_size`` tiles from the first, so a
    run resumed or split at a multiple of it classifies exactly the same batches.

    ``give_way`` is called by each model thread before each batch: it returns once no viewer
    waits (E7), so a core goes to a viewer's tile after one batch, not after the batches
    already queued for it."""
    probabilities = np.zeros((len(tiles), len(loaded.labels)), np.float32) if out is None else out
    model = serving_model(loaded)

    buffers = threading.local()  # one input batch per model thread, reused

    def classify(pixels: Future[np.ndarray]) -> np.ndarray:
        # the conversion runs here, in a one-core model thread: torch ops in a reader
        # thread would start their own OpenMP workers and oversubscribe the cores
        if not hasattr(buffers, "batch"):
            buffers.batch = input_buffer(batch_size, loaded.image_px)
        if give_way is not None:
            give_way()
        return predict(model, to_batch(pixels.result(), loaded.normalization, buffers.batch))

    done, cores = 0, _PROCESS_THREADS
    with (
        ThreadPoolExecutor(max_workers=readers, thread_name_prefix="tile-reader") as reading,
        model_threads(cores) as computing,
    ):
        ahead = readers + cores + 1
        pending: deque[tuple[int, Future[np.ndarray]]] = deque()
        upcoming = iter(range(0, len(tiles), batch_size))

        def refill() -> None:
            while len(pending) < ahead and (start := next(upcoming, None)) is not None:
                chunk = tiles[start : start + batch_size]
                pixels = reading.submit(read_tiles, reader, chunk, tile_px, loaded.image_px, stride)
                pending.append((start, computing.submit(classify, pixels)))

        refill()
        while pending:
            if should_stop is not None and should_stop():
                for _, future in pending:
                    future.cancel()
                raise Cancelled("analysis cancelled")
            start, future = pending.popleft()
            batch_probabilities = future.result()
            probabilities[start : start + len(batch_probabilities)] = batch_probabilities
            refill()
            done += len(batch_probabilities)
            if progress is not None:
                progress(done, len(tiles))
    return probabilities
