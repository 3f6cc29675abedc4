"""Overlapping analysis tiles -> a finer grid of cells (issue 7: sharper outlines).

With tiles ``k`` grid steps wide placed one step apart, every step-sized cell lies under up
to k x k tiles; its probabilities are their mean. The cells then go through clustering and
outlining exactly as tiles would, so outlines follow the tumour at the step's resolution
instead of the tile's, for k x k times the model work.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pathodesk.analysis.inference import TileResults
from pathodesk.analysis.params import AnalysisParams
from pathodesk.tissue.grid import Tile


def cell_results(results: TileResults, overlap: int) -> TileResults:
    """Mean probabilities of the tiles over each cell; ``overlap`` = k, tiles of k cells."""
    if overlap == 1 or not results.tiles:
        return results
    step = results.tile_px // overlap
    sums: dict[tuple[int, int], np.ndarray] = {}
    counts: dict[tuple[int, int], int] = {}
    fractions: dict[tuple[int, int], float] = {}
    for tile, probabilities in zip(results.tiles, results.probabilities, strict=True):
        for i in range(overlap):
            for j in range(overlap):
                key = (tile.x + i * step, tile.y + j * step)
                sums[key] = sums.get(key, 0) + probabilities
                counts[key] = counts.get(key, 0) + 1
                fractions[key] = max(fractions.get(key, 0.0), tile.tissue_fraction)
    keys = sorted(sums, key=lambda key: (key[1], key[0]))
    cells = [Tile(x, y, step, fractions[(x, y)]) for x, y in keys]
    means = np.stack([sums[key] / counts[key] for key in keys]).astype(np.float32)
    return TileResults(cells, means, results.labels, step)


def cell_params(params: AnalysisParams, overlap: int) -> AnalysisParams:
    """Clustering distances and sizes counted in cells, so that they keep their meaning."""
    clusters = params.clusters
    return replace(
        params,
        clusters=replace(
            clusters,
            eps_tiles=clusters.eps_tiles * overlap,
            min_samples=clusters.min_samples * overlap**2,
            min_tiles=clusters.min_tiles * overlap**2,
        ),
    )
