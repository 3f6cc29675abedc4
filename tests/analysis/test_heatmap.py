"""Readable heatmaps (issue 21, item 3): viridis by probability, transparent off the tissue
and below the threshold."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from pathodesk.analysis.heatmap import TileProbabilities, render_heatmap, viridis


def test_viridis_runs_dark_purple_to_yellow_and_brightens_steadily() -> None:
    colours = viridis(np.linspace(0, 1, 11)).reshape(-1, 3).astype(int)
    assert tuple(colours[0]) == (68, 1, 84) and tuple(colours[-1]) == (253, 231, 37)
    luminance = colours @ np.array([0.2126, 0.7152, 0.0722])
    assert np.all(np.diff(luminance) > 0)  # perceptually ordered: more likely is brighter


def test_tiles_painted_by_probability_and_hidden_below_the_threshold() -> None:
    tiles = TileProbabilities(
        x=np.array([0, 100, 200]),
        y=np.array([0, 0, 0]),
        tile_px=100,
        probabilities=np.array([[0.1, 0.9], [0.6, 0.4], [0.95, 0.05]], np.float32),
        labels=["normal", "tumour"],
    )
    rgba = np.asarray(Image.open(io.BytesIO(render_heatmap(tiles, "normal", (400, 200)))))
    assert rgba.shape == (200, 400, 4)
    assert (rgba[:100, :300, 3] == 255).all()  # the three tiles
    assert (rgba[100:, :, 3] == 0).all() and (rgba[:, 300:, 3] == 0).all()  # no tissue read there
    assert tuple(rgba[50, 250, :3]) == tuple(viridis(np.array([0.95]))[0])
    assert rgba[50, 250, :3].astype(int).sum() > rgba[50, 50, :3].astype(int).sum()  # likelier is brighter
    high = np.asarray(Image.open(io.BytesIO(render_heatmap(tiles, "normal", (400, 200), threshold=0.5))))
    assert (high[:100, :100, 3] == 0).all() and (high[:100, 100:300, 3] == 255).all()
