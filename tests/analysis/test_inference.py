"""The tile engine (issue 7, item 1) on the real CMU slide: strips read exactly what single
tiles would, batches are channels-last, probabilities match a plain per-tile loop, and a
stop request ends the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pathodesk.analysis.inference import (
    Cancelled,
    analysis_tile_px,
    classify_tiles,
    read_tiles,
    tissue_tiles,
    to_batch,
)
from pathodesk.ml.pipeline import to_model_input
from pathodesk.ml.registry import SHIPPED_DIR
from pathodesk.ml.train import load_model
from pathodesk.slides import open_slide


def test_strips_read_the_same_pixels_as_single_tiles(samples: dict[str, Path]) -> None:
    reader = open_slide(samples["svs"])
    for tile_px, image_px in ((224, 224), (448, 224), (100, 224)):
        tiles = tissue_tiles(reader, tile_px)[:40]
        together = read_tiles(reader, tiles, tile_px, image_px)
        alone = np.stack([read_tiles(reader, [t], tile_px, image_px)[0] for t in tiles])
        assert together.shape == (len(tiles), image_px, image_px, 3)
        assert np.abs(together.astype(int) - alone.astype(int)).max() <= 1, tile_px


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
    batch = to_batch(read_tiles(reader, tiles[:2], 224, 224), loaded.normalization)
    assert batch.is_contiguous(memory_format=torch.channels_last)


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


def test_tile_size_follows_resolution_or_the_override() -> None:
    assert analysis_tile_px(224, 0.5, 0.25, None) == 448  # a 40x scan for a 20x model
    assert analysis_tile_px(224, 0.5, 0.5, None) == 224
    assert analysis_tile_px(224, None, 0.25, None) == 224  # the model's card states no mpp
    assert analysis_tile_px(224, 0.5, None, 300) == 300
