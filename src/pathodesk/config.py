"""One settings object for the whole platform (PATHODESK_* environment variables)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MediumSettings(BaseModel):
    """Where a storage tier, the mirror or a reading station keeps files (SPEC E4, E5): a local
    directory or ``s3://bucket/prefix``, with the figures the storage page compares."""

    url: str
    cost_per_gb_month: float = 0.0  # in the hospital's currency
    read_mb_per_s: float = 0.0
    latency_ms: float = 0.0
    name: str | None = None  # what people call it (a reading station's room)


# E4: what each permanent tier stands for when settings name only its place: fast local disk,
# a NAS, an archive; figures of typical media, for the storage page's comparisons
DEFAULT_TIER_FIGURES = {
    "recent": {"cost_per_gb_month": 0.10, "read_mb_per_s": 500.0, "latency_ms": 0.1},
    "middle": {"cost_per_gb_month": 0.03, "read_mb_per_s": 150.0, "latency_ms": 5.0},
    "long_term": {"cost_per_gb_month": 0.004, "read_mb_per_s": 50.0, "latency_ms": 50.0},
}


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
    # E4: the permanent tiers (recent, middle, long_term; JSON, e.g. PATHODESK_TIERS=
    # '{"middle": {"url": "/mnt/nas/pathodesk"}, "long_term": {"url": "s3://archive/slides"}}'),
    # the mirror of all three, and the reading stations cases are sent to (E5 distribute)
    tiers: dict[str, MediumSettings] = Field(default_factory=dict)
    mirror: MediumSettings | None = None
    stations: dict[str, MediumSettings] = Field(default_factory=dict)
    s3_endpoint_url: str | None = None  # an S3-compatible store other than AWS
    s3_region: str = "us-east-1"
    # E4 placement: in hospital -> recent (and this many days after discharge); examined within
    # long_term_after_days -> middle; older -> long_term
    recent_days_after_discharge: int = Field(default=0, ge=0)
    # an exam with no admission (an outpatient biopsy, a consultation) counts as in hospital
    # this long after it was registered: its slides are read in the next days
    outpatient_recent_days: int = Field(default=14, ge=0)
    long_term_after_days: int = Field(default=365, ge=1)
    # a moved file's old copy is deleted this long after the switch, so a reader that looked the
    # slide up just before still finds it (the server caches a slide's place for 5 s)
    move_grace_seconds: float = Field(default=10.0, ge=0.0)
    # E5 schedule: the server applies the policy at this local hour each night (None: never;
    # `pathodesk storage apply-policy` from cron instead) and checks the mirror this often
    storage_policy_hour: int | None = Field(default=2, ge=0, le=23)
    scrub_every_days: int = Field(default=7, ge=1)
    retrieved_cache_bytes: int = 20 * 1024**3  # local copies of slides read from object storage
    # copies of the database (outlines, sign-offs, accounts, audit), taken each night with the
    # storage policy and by `pathodesk database backup`: on this medium (unset: beside the
    # mirror's files when there is a mirror, else the data directory's backups folder), the
    # newest backups_kept of them kept
    backups: MediumSettings | None = None
    backups_kept: int = Field(default=14, ge=1)
    # a database whose schema a new version must upgrade is backed up first; the upgrade does
    # not run when that backup fails (e.g. no pg_dump on the machine), unless this is off
    backup_before_upgrade: bool = True
    # where jobs run (issue 19): "local", threads in the server (the embedded default), or
    # "celery", worker processes on any machine (`pathodesk worker`) fed through a broker
    job_backend: Literal["local", "celery"] = "local"
    broker_url: str | None = None  # e.g. redis://host:6379/0
    job_redispatch_seconds: float = 30.0  # a queued job not taken this long is sent again
    job_workers: int = 1  # background analyses at once (threads of the local backend)
    # local backend: threads kept for interactive jobs (a user waits for them, E7 reserved capacity)
    interactive_workers: int = Field(default=1, ge=0)
    # E7 preemption: an interactive job queued this long (its reserved workers are all busy)
    # makes a running batch job give way at its next batch; the batch job resumes later
    interactive_wait_seconds: float = Field(default=1.0, ge=0.0)
    # E7 split, parallel, stitch: a whole-slide analysis of more tiles than this runs as parts
    # of this many tiles that any worker may take (0: never split). Unset: 2048 with the
    # celery backend, 0 with the local one (its threads share one machine's cores anyway)
    analysis_part_tiles: int | None = Field(default=None, ge=0)
    # the same for generating a low-resolution slide whole (E7, E8): parts of this many
    # generated 256-px tiles. Unset: 256 with the celery backend, 0 with the local one
    pregenerate_part_tiles: int | None = Field(default=None, ge=0)
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
    # the hospital and department printed at the head of case reports ("" prints none)
    institution: str = Field(default="", max_length=200)

    @property
    def part_tiles(self) -> int:
        if self.analysis_part_tiles is not None:
            return self.analysis_part_tiles
        return 2048 if self.job_backend == "celery" else 0

    @property
    def pregenerate_parts(self) -> int:
        if self.pregenerate_part_tiles is not None:
            return self.pregenerate_part_tiles
        return 256 if self.job_backend == "celery" else 0

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
        """QC thumbnails and overlays, one folder per slide checksum, and the lab's colour
        reference (``qc.colour_reference``)."""
        return self.data_dir / "qc"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def temporary_dir(self) -> Path:
        return self.temporary_store_dir or self.data_dir / "temporary"

    def tier_medium(self, tier: str) -> MediumSettings:
        """A permanent tier's medium: as configured, else a folder in the data directory (the
        recent tier is where slides have always been kept)."""
        folders = {"recent": self.slides_dir, "middle": self.data_dir / "tiers" / "middle"}
        default = MediumSettings(
            url=str(folders.get(tier, self.data_dir / "tiers" / "long-term")), **DEFAULT_TIER_FIGURES[tier]
        )
        given = self.tiers.get(tier)
        return default.model_copy(update=given.model_dump(exclude_unset=True)) if given else default

    def backups_medium(self) -> MediumSettings:
        if self.backups is not None:
            return self.backups
        if self.mirror is not None:
            return self.mirror.model_copy(update={"url": self.mirror.url.rstrip("/") + "/database-backups"})
        return MediumSettings(url=str(self.data_dir / "backups"))

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
