"""The tile engine (issue 7, item 1) on the real CMU slide: strips read exactly what single
tiles would, batches are channels-last, probabilities match a plain per-tile loop, and a
stop request ends the run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pathodesk.analysis.inference import (
    analysis_tile_px,
    classify_tiles,
    inference_model,
    read_tiles,
    tissue_tiles,
    to_batch,
)
from pathodesk.errors import Cancelled
from pathodesk.ml.model_file import LoadedModel, load_model
from pathodesk.ml.pipeline import to_model_input
from pathodesk.ml.registry import SHIPPED_DIR
from pathodesk.slides import open_slide


def test_strips_read_the_same_pixels_as_single_tiles(samples: dict[str, Path]) -> None:
    reader = open_slide(samples["svs"])
    for tile_px, image_px in ((224, 224), (448, 224), (100, 224)):
        tiles = tissue_tiles(reader, tile_px)[:40]
        together = read_tiles(reader, tiles, tile_px, image_px)
        alone = np.stack([read_tiles(reader, [t], tile_px, image_px)[0] for t in tiles])
        assert together.shape == (len(tiles), image_px, image_px, 3)
        assert np.abs(together.astype(int) - alone.astype(int)).max() <= 1, tile_px
    overlapping = tissue_tiles(reader, 224, stride=112)[:40]  # rows of tiles sharing half their width
    together = read_tiles(reader, overlapping, 224, 224, stride=112)
    alone = np.stack([read_tiles(reader, [t], 224, 224)[0] for t in overlapping])
    assert np.array_equal(together, alone)


def test_probabilities_match_a_plain_per_tile_loop(samples: dict[str, Path]) -> None:
    reader = open_slide(samples["svs"])
    loaded = load_model(SHIPPED_DIR / "lung" / "model.pt")
    tiles = tissue_tiles(reader, 224)
    seen: list[int] = []
    ours = classify_tiles(reader, tiles, loaded, 224, batch_size=8, progress=lambda d, t: seen.append(d))
    assert seen[-1] == len(tiles) and seen == sorted(seen)
    with torch.no_grad():
        plain = np.concatenate(
            [
                torch.softmax(
                    loaded.model(
                        to_model_input(read_tiles(reader, [t], 224, 224)[0], loaded.normalization, 224)
                    ),
                    1,
                ).numpy()
                for t in tiles
            ]
        )
    assert np.abs(ours - plain).max() < 1e-4  # batch-norm folding changes nothing that matters
    assert np.allclose(ours.sum(axis=1), 1, atol=1e-5)
    pixels = read_tiles(reader, tiles[:2], 224, 224)
    batch = to_batch(pixels, loaded.normalization)
    assert batch.is_contiguous(memory_format=torch.channels_last)
    norm = loaded.normalization
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (norm.mean, norm.std))
    expected = (torch.from_numpy(pixels).permute(0, 3, 1, 2) / 255.0 - mean) / std
    assert torch.allclose(batch, expected, atol=1e-5)
    buffer = torch.full((8, 3, 224, 224), 9.0).contiguous(memory_format=torch.channels_last)
    reused = to_batch(pixels, loaded.normalization, buffer)
    assert reused.data_ptr() == buffer.data_ptr() and torch.equal(reused, batch)


def test_a_stop_request_ends_the_run(samples: dict[str, Path]) -> None:
    reader = open_slide(samples["svs"])
    loaded = load_model(SHIPPED_DIR / "lung" / "model.pt")
    tiles = tissue_tiles(reader, 112)
    calls: list[int] = []
    with pytest.raises(Cancelled):
        classify_tiles(
            reader,
            tiles,
            loaded,
            112,
            batch_size=8,
            progress=lambda d, t: calls.append(d),
            should_stop=lambda: len(calls) >= 2,
        )
    assert len(calls) == 2


def test_each_core_gives_way_to_a_viewer_before_each_batch(samples: dict[str, Path]) -> None:
    """E7: while a viewer waits, no model thread starts another batch, even one already queued
    for it; once the viewer is served, the run ends with every tile classified."""
    reader = open_slide(samples["svs"])
    loaded = load_model(SHIPPED_DIR / "lung" / "model.pt")
    tiles = tissue_tiles(reader, 112)[:96]
    viewer_served = threading.Event()
    asked: list[str] = []
    done: list[int] = []

    def give_way() -> None:
        asked.append(threading.current_thread().name)
        if len(asked) > 2:  # the viewer arrives after the first batch of each core
            assert viewer_served.wait(30)

    def serve_viewer() -> None:
        time.sleep(0.5)
        progress_while_waiting.append(len(done))
        viewer_served.set()

    progress_while_waiting: list[int] = []
    threading.Thread(target=serve_viewer).start()
    result = classify_tiles(
        reader, tiles, loaded, 112, batch_size=8, progress=lambda d, t: done.append(d), give_way=give_way
    )
    assert len(asked) == len(tiles) // 8 and all(name.startswith("model") for name in asked)
    assert progress_while_waiting[0] <= 16, "only the batches started before the viewer came"
    assert done[-1] == len(tiles) and np.allclose(result.sum(axis=1), 1, atol=1e-5)


def test_tile_size_follows_resolution_or_the_override() -> None:
    assert analysis_tile_px(224, 0.5, 0.25, None) == 448  # a 40x scan for a 20x model
    assert analysis_tile_px(224, 0.5, 0.5, None) == 224
    assert analysis_tile_px(224, None, 0.25, None) == 224  # the model's card states no mpp
    assert analysis_tile_px(224, 0.5, None, 300) == 300


@pytest.mark.parametrize("disease", ["lung", "thyroid"])
def test_the_frozen_model_computes_what_the_eager_one_does(disease: str) -> None:
    loaded = load_model(SHIPPED_DIR / disease / "model.pt")
    frozen = inference_model(loaded)
    assert isinstance(frozen, torch.jit.ScriptModule)  # both shipped models trace
    assert inference_model(loaded) is frozen  # once per model
    generator = torch.Generator().manual_seed(3)
    for n in (1, 5, 32):  # traced on 2: no batch size is baked in
        batch = torch.randn(n, 3, loaded.image_px, loaded.image_px, generator=generator)
        with torch.no_grad():
            assert torch.allclose(frozen(batch), loaded.model(batch), rtol=1e-3, atol=1e-4)


class DataDependent(torch.nn.Module):
    """A trace would bake the first batch's mean into the graph as a constant."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x.mean((1, 2, 3)), x.std((1, 2, 3))], 1) * float(x.mean())


def test_a_model_the_trace_gets_wrong_stays_eager() -> None:
    model = DataDependent()
    normalization = load_model(SHIPPED_DIR / "lung" / "model.pt").normalization
    loaded = LoadedModel(model, "data-dependent", ["a", "b"], normalization, 8)
    assert inference_model(loaded) is model


def test_one_batch_per_core_leaves_the_thread_setting_as_it_was(samples: dict[str, Path]) -> None:
    import threading

    before = torch.get_num_threads()
    reader = open_slide(samples["svs"])
    classify_tiles(reader, tissue_tiles(reader, 224)[:20], load_model(SHIPPED_DIR / "lung" / "model.pt"), 224)
    seen: list[int] = []
    later = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    later.start()
    later.join()
    assert torch.get_num_threads() == before and seen == [before]  # threads started later too
