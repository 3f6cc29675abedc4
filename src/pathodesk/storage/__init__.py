"""Where a slide's bytes live (SPEC E3–E5): one place finds a slide's file and one writes it,
so storage tiers and low-resolution storage plug in here and nowhere else."""

from pathodesk.storage.checksum import file_sha256
from pathodesk.storage.files import (
    STORE_DOWNSAMPLES,
    analysis_folder,
    existing_analysis_folder,
    release_slide_files,
    slide_file,
    slide_location,
    store_slide_file,
)

__all__ = [
    "STORE_DOWNSAMPLES",
    "analysis_folder",
    "existing_analysis_folder",
    "file_sha256",
    "release_slide_files",
    "slide_file",
    "slide_location",
    "store_slide_file",
]
