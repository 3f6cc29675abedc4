"""Names of the analysis jobs (``Job.kind``) that other modules look for or submit, kept
apart from their handlers so that routes and commands can name a job without importing the
model stack that runs it."""

from __future__ import annotations

IHC_KIND = "ihc-score"
CLASSIFY_KIND = "classify-sections"
PART_KIND = "analyze-part"  # one part of a whole-slide analysis split across workers
PREGENERATE_PART = "pregenerate-part"  # one part of generating a low-resolution slide whole
