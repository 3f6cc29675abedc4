"""Helpers shared by tests and benchmarks (``bench/`` puts the project root on its path):
servers, HTTP clients, browser pages. Fixtures stay in the ``conftest.py`` files."""
