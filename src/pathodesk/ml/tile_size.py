"""The edge of the tiles cut from annotated slides for training, in level-0 pixels (SPEC B2),
in a module of its own: the command line offers it as a default without loading the
training code behind it."""

from __future__ import annotations

DEFAULT_TILE_PX = 1024
