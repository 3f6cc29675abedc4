"""Vector annotations (SPEC A7–A11, A13): geometry, storage with revisions, review, formats."""
