"""Whole-slide analysis: tiles → model → clusters → polygons (SPEC A3-A6, B7; issue 7)."""
