"""Overlapping tiles -> cells (issue 7): each cell's probabilities are the mean of the tiles
over it, and clustering keeps its physical meaning when counted in cells."""

from __future__ import annotations

import numpy as np

from pathodesk.analysis.inference import TileResults
from pathodesk.analysis.overlap import cell_params, cell_results
from pathodesk.analysis.params import AnalysisParams
from pathodesk.tissue.grid import Tile


def test_cells_average_the_tiles_over_them() -> None:
    # three 100-px tiles, 50 px apart in a row, then one below the first
    tiles = [Tile(0, 0, 100, 1.0), Tile(50, 0, 100, 1.0), Tile(100, 0, 100, 0.6), Tile(0, 50, 100, 1.0)]
    probabilities = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.8]], np.float32)
    cells = cell_results(TileResults(tiles, probabilities, ["a", "b"], 100), 2)
    assert cells.tile_px == 50 and all(c.size == 50 for c in cells.tiles)
    by_cell = {(c.x, c.y): p.tolist() for c, p in zip(cells.tiles, cells.probabilities, strict=True)}
    assert by_cell[(0, 0)] == [1.0, 0.0]  # under the first tile only
    assert by_cell[(50, 0)] == [0.5, 0.5]  # first and second
    assert np.allclose(by_cell[(100, 0)], [0.25, 0.75])  # second and third
    assert np.allclose(by_cell[(0, 50)], [0.6, 0.4])  # first and the one below
    assert np.allclose(by_cell[(50, 50)], [0.4, 0.6])  # first, second, the one below
    assert np.allclose(by_cell[(0, 100)], [0.2, 0.8])
    assert len(by_cell) == 10  # 8 under the top row of tiles, 2 more under the one below
    assert {(c.x, c.y): c.tissue_fraction for c in cells.tiles}[(150, 0)] == 0.6  # its one tile's
    assert np.allclose(cells.probabilities.sum(axis=1), 1)
    assert [(c.y, c.x) for c in cells.tiles] == sorted((c.y, c.x) for c in cells.tiles)  # row order


def test_side_by_side_tiles_are_their_own_cells() -> None:
    results = TileResults([Tile(0, 0, 100, 1.0)], np.array([[0.3, 0.7]], np.float32), ["a", "b"], 100)
    assert cell_results(results, 1) is results


def test_cluster_distances_are_counted_in_cells() -> None:
    lung = AnalysisParams(("lung_n",))
    halves = cell_params(lung, 2)
    assert halves.clusters.eps_tiles == 2 * lung.clusters.eps_tiles
    assert halves.clusters.min_samples == 4 * lung.clusters.min_samples
    assert halves.clusters.min_tiles == 4 * lung.clusters.min_tiles
    assert halves.clusters.min_mean_probability == lung.clusters.min_mean_probability
    assert halves.background_labels == lung.background_labels
