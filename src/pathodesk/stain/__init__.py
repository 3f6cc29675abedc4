"""Colour normalization by stain separation (SPEC D3): fit a method once on a reference and
once per slide, then apply it to every tile of that slide."""

from pathodesk.stain.normalizer import METHODS, StainNormalizer, normalizer

__all__ = ["METHODS", "StainNormalizer", "normalizer"]
