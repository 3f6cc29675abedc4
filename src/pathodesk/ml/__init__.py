"""Training, evaluation and the per-disease-type model registry (SPEC A3, B3-B6; issue 6)."""
