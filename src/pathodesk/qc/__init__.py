"""Slide quality control (SPEC E2; issue 5): one module per check, a report over them."""
