"""One settings object for the whole platform (PATHODESK_* environment variables)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime settings; every path defaults to somewhere inside ``data_dir``."""

    model_config = SettingsConfigDict(env_prefix="PATHODESK_", extra="ignore")

    data_dir: Path = Path("pathodesk-data")
    database_url: str | None = None
    shared_data_dir: Path = Path("../shared/data")
    sample_dir: Path = Path("sample-data")

    # Uploads (issue 2, item 6): bytes above this limit are refused with 413.
    max_upload_bytes: int = 4 * 1024**3
    # A slide declaring more pixels is refused (422) before its pixels are read: 4e10 is a
    # 200,000 x 200,000 px scan, beyond the largest real whole-slide images.
    max_slide_pixels: int = 40_000_000_000
    upload_chunk_bytes: int = 1024 * 1024

    # Deep Zoom (A8): API.md default tiles are 254 px plus 1 px overlap, JPEG.
    dzi_tile_size: int = 254
    dzi_overlap: int = 1
    dzi_jpeg_quality: int = 80
    tile_cache_bytes: int = 256 * 1024**2
    readers_per_slide: int = 4
    # E4/E8: generated (super-resolved) tiles kept on fast local disk, least recently used
    # dropped first; a path of its own can put it on a faster disk than the data directory
    temporary_store_dir: Path | None = None
    temporary_store_bytes: int = 2 * 1024**3
    job_workers: int = 1  # background analyses at once; one more slot is kept for interactive work
    job_stale_seconds: float = 15.0  # a running job without a heartbeat this long is requeued
    # E7: batch work (analyses, prefetching) gives way while a viewer waits for a generated
    # tile; off, everything is first come, first served (the baseline of bench/superres.py)
    interactive_priority: bool = True

    session_hours: float = 12.0  # absolute lifetime of a login
    session_idle_minutes: float = 30.0  # a session unused this long ends
    secure_cookies: bool = False

    # E2 sampling: the share of ingested slides that get quality control (chosen by checksum).
    qc_sample_fraction: float = Field(default=1.0, ge=0.0, le=1.0)

    thumbnail_px: int = Field(default=512, ge=64, le=2048)

    @property
    def slides_dir(self) -> Path:
        return self.data_dir / "slides"

    @property
    def incoming_dir(self) -> Path:
        return self.data_dir / "incoming"

    @property
    def models_dir(self) -> Path:
        """The model registry's files (issue 6)."""
        return self.data_dir / "models"

    @property
    def analysis_dir(self) -> Path:
        """Per-tile probabilities and heatmaps of the latest analysis, per slide checksum."""
        return self.data_dir / "analysis"

    @property
    def qc_dir(self) -> Path:
        """QC thumbnails and overlays, one folder per slide checksum."""
        return self.data_dir / "qc"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def temporary_dir(self) -> Path:
        return self.temporary_store_dir or self.data_dir / "temporary"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'pathodesk.sqlite3').resolve()}"

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.slides_dir, self.incoming_dir, self.cache_dir):
            path.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
