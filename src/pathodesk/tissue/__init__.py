"""Tissue detection on slide thumbnails and the tile grid built on it (SPEC B1, B2, A4, B7)."""

from pathodesk.tissue.grid import Tile, tile_grid
from pathodesk.tissue.mask import TissueParams, pen_ink, tissue_mask
from pathodesk.tissue.polygons import mask_to_polygons
from pathodesk.tissue.slide import SlideTissue, detect_tissue

__all__ = [
    "SlideTissue",
    "Tile",
    "TissueParams",
    "detect_tissue",
    "mask_to_polygons",
    "pen_ink",
    "tile_grid",
    "tissue_mask",
]
