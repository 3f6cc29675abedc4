"""The data model (SPEC E3): Patient 1—n Exam 1—n Slide, plus users and their sessions."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from pathodesk.i18n import N_

# Database ids are 64-bit: larger numbers are invalid input (422), not a server error.
MAX_ID = 2**63 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned in UTC; SQLite would hand them back naive."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Role(enum.StrEnum):
    admin = "admin"
    expert = "expert"


class ResolutionState(enum.StrEnum):
    """E3: a slide is stored at low resolution or high resolution."""

    low = "low"
    high = "high"


class StorageTier(enum.StrEnum):
    """E4: recent, middle and long-term permanent tiers plus a temporary fast store."""

    recent = "recent"
    middle = "middle"
    long_term = "long_term"
    temporary = "temporary"


class SlideStatus(enum.StrEnum):
    """Where a slide stands in the review workflow (A11)."""

    uploaded = "uploaded"
    analyzed = "analyzed"
    in_review = "in_review"
    reviewed = "reviewed"


class Verdict(enum.StrEnum):
    approved = "approved"
    needs_revision = "needs_revision"
    rejected = "rejected"


# What a registered model does for its disease type (one active model per type and role):
# tile classifier (A4), the cascade's coarse and fine graders (C), the multi-stain fusion
# network (D4–D6), super-resolution (E6).
MODEL_ROLES = {
    "tile": N_("Tile classifiers"),
    "coarse": N_("Cascade: low-resolution graders"),
    "fine": N_("Cascade: high-resolution graders"),
    "fusion": N_("Multi-stain fusion"),
    "superres": N_("Super-resolution"),
}


class JobState(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


# ids people link to are never handed out again (SQLite would reuse the last deleted one)
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class User(Base):
    __tablename__ = "users"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    phone: Mapped[str | None] = mapped_column(String(32))
    hospital: Mapped[str | None] = mapped_column(String(128))
    department: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    locale: Mapped[str | None] = mapped_column(String(16))  # pages' language; None: the browser's


class AuthSession(Base):
    """A login session; the cookie holds the token, the table holds only its hash."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    user: Mapped[User] = relationship()


class DiseaseType(Base):
    """An admin-managed disease type with the label set its annotations use (A3)."""

    __tablename__ = "disease_types"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(128))
    # [{"name": "lung_aca", "color": "#d62728"}, ...]
    labels: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    # How analysis turns tile probabilities into regions (A4–A5): background labels, DBSCAN
    # eps/min_samples, A5 thresholds; None: derived from the label names (analysis.params).
    analysis_params: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    # The cascade's grade scale (C1; ml.grades): {"coarse": [{"name", "bethesda"}...], "fine":
    # {label: grade}}; None: the shipped default for the type's name, else benign/malignant.
    grading: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    # E1: the type's slides are kept at 1/store_downsample of their scan unless said otherwise
    store_downsample: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class ExamAssignment(Base):
    """An admin gave this expert access to a case they did not create (issue 3, item 4)."""

    __tablename__ = "exam_assignments"

    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AuditEvent(Base):
    """Append-only record of who did what to which record (database triggers forbid edits).

    ``detail`` names the fields that changed, never their values: no patient data here.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor_account: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32), index=True)
    record_type: Mapped[str] = mapped_column(String(32), index=True)
    record_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class Patient(Base):
    """A patient as one account registered them: codes are unique per registering account,
    so that a code taken in a case someone cannot see tells them nothing (issue 20, H)."""

    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("patient_code", "created_by_id", name="uq_patient_code_per_owner"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(128))
    sex: Mapped[str | None] = mapped_column(String(16))
    birth_date: Mapped[date | None] = mapped_column(Date)
    identity_number: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    exams: Mapped[list[Exam]] = relationship(back_populates="patient")


class Exam(Base):
    """Pathology ids are unique per registering account, as patient codes are."""

    __tablename__ = "exams"
    __table_args__ = (
        UniqueConstraint("pathology_id", "created_by_id", name="uq_pathology_id_per_owner"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pathology_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"), index=True)
    disease_type: Mapped[str] = mapped_column(ForeignKey("disease_types.name", ondelete="RESTRICT"))
    clinical_notes: Mapped[str | None] = mapped_column(Text)
    admitted_on: Mapped[date | None] = mapped_column(Date)
    discharged_on: Mapped[date | None] = mapped_column(Date)
    # E5 distribute: the reading station (a key of Settings.stations) the case is read at
    reading_station: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    patient: Mapped[Patient] = relationship(back_populates="exams")
    slides: Mapped[list[Slide]] = relationship(back_populates="exam")
    assignments: Mapped[list[ExamAssignment]] = relationship(cascade="all, delete-orphan")


class Slide(Base):
    __tablename__ = "slides"
    __table_args__ = (
        UniqueConstraint("exam_id", "slide_number", name="uq_slide_number_per_exam"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="RESTRICT"), index=True)
    slide_number: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    original_filename: Mapped[str] = mapped_column(String(255))
    resolution_state: Mapped[ResolutionState] = mapped_column(
        Enum(ResolutionState, native_enum=False, length=8), default=ResolutionState.high
    )
    # E1: kept at 1/store_downsample of the scan's linear resolution (1: as scanned); the
    # row's width, height and mpp stay the scan's, and stored_bytes is what is kept
    store_downsample: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    stored_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # the checksum of the file as kept (a reduced pyramid's own); None before 0023 for a
    # low-resolution slide (taken from the file the first time it is moved or scrubbed)
    stored_sha256: Mapped[str | None] = mapped_column(String(64))
    storage_tier: Mapped[StorageTier] = mapped_column(
        Enum(StorageTier, native_enum=False, length=16), default=StorageTier.recent
    )
    path: Mapped[str] = mapped_column(String(1024))
    # identical bytes in cases of different people are two slides sharing one stored file
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    byte_size: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(32))
    vendor: Mapped[str | None] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    level_count: Mapped[int] = mapped_column(Integer)
    mpp: Mapped[float | None] = mapped_column(Float)
    objective_power: Mapped[float | None] = mapped_column(Float)
    acquired_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    # E2: None = not checked (sampling mode); False = stored as non-standard.
    qc_passed: Mapped[bool | None] = mapped_column()
    qc_report: Mapped[dict[str, object] | None] = mapped_column(JSON)
    # names of the associated images (label, macro…) the file holds; None: stored before 0014
    associated_images: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    # A11 / issue 4: uploaded -> analyzed -> in_review -> reviewed; each review freezes a round.
    status: Mapped[SlideStatus] = mapped_column(
        Enum(SlideStatus, native_enum=False, length=16), default=SlideStatus.uploaded
    )
    review_round: Mapped[int] = mapped_column(Integer, default=1)

    exam: Mapped[Exam] = relationship(back_populates="slides")


class TrainedModel(Base):
    """A model in the registry (A3): versioned per disease type, one active per type, role and
    variant (the scale of a super-resolution model, E6; "" for every other role)."""

    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("disease_type", "version", name="uq_model_version_per_type"),
        Index(
            "uq_one_active_model_per_type_role_variant",
            "disease_type",
            "role",
            "variant",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    disease_type: Mapped[str] = mapped_column(
        ForeignKey("disease_types.name", ondelete="RESTRICT"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16), default="tile")  # one of MODEL_ROLES
    variant: Mapped[str] = mapped_column(String(16), default="", server_default="")  # "x4", "x8": superres
    arch: Mapped[str] = mapped_column(String(128))
    labels: Mapped[list[str]] = mapped_column(JSON)
    metrics: Mapped[dict[str, object] | None] = mapped_column(JSON)  # the test split, scored once
    card: Mapped[dict[str, object]] = mapped_column(JSON)
    directory: Mapped[str] = mapped_column(String(512))  # under settings.models_dir
    sha256: Mapped[str] = mapped_column(String(64))  # of the weights file
    source: Mapped[str] = mapped_column(String(16))  # "shipped" | "trained"
    active: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class Annotation(Base):
    """A vector region on a slide (A7, A10): GeoJSON geometry in level-0 pixels.

    ``version`` is SQLAlchemy's optimistic lock: an UPDATE that finds another version
    changed nothing and becomes a 409. Deleted annotations stay as rows (``deleted``) so
    that every revision can be restored. The bounding box feeds the spatial index.
    """

    __tablename__ = "annotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slide_id: Mapped[int] = mapped_column(ForeignKey("slides.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    shape: Mapped[str] = mapped_column(String(16))  # polygon | rectangle | ellipse | freehand | point
    source: Mapped[str] = mapped_column(String(16))  # ai | expert | registered
    probability: Mapped[float | None] = mapped_column(Float)
    geometry: Mapped[dict[str, object]] = mapped_column(JSON)
    # the outline pre-simplified for low zoom (2 and 8 level-0 px); None when already light
    geometry_lod2: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    geometry_lod8: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    min_x: Mapped[float] = mapped_column(Float)
    min_y: Mapped[float] = mapped_column(Float)
    max_x: Mapped[float] = mapped_column(Float)
    max_y: Mapped[float] = mapped_column(Float)
    area_px: Mapped[float] = mapped_column(Float)
    perimeter_px: Mapped[float] = mapped_column(Float)
    vertex_count: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(default=False)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str | None] = mapped_column(String(128))  # what the pathologist calls it
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer)
    # what another tool said of the object and PathoDesk does not use, kept to be written back
    # (QuPath: objectType, name, isLocked, measurements, metadata, color)
    properties: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    # a ``registered`` copy: the annotation on the group's reference slide it was carried from
    origin_id: Mapped[int | None] = mapped_column(
        ForeignKey("annotations.id", ondelete="SET NULL"), index=True, default=None
    )

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    editor: Mapped[User | None] = relationship(foreign_keys=[edited_by_id])

    @property
    def author_account(self) -> str | None:
        return self.author.account if self.author else None

    @property
    def editor_account(self) -> str | None:
        return self.editor.account if self.editor else None

    @property
    def author_name(self) -> str | None:
        return self.author.name if self.author else None

    @property
    def editor_name(self) -> str | None:
        return self.editor.name if self.editor else None

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it once)


class AnnotationRevision(Base):
    """Every save of an annotation, so that any earlier state can be restored (issue 4)."""

    __tablename__ = "annotation_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotation_id: Mapped[int] = mapped_column(ForeignKey("annotations.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # create | update | delete | restore
    label: Mapped[str] = mapped_column(String(64))
    shape: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(8))
    probability: Mapped[float | None] = mapped_column(Float)
    geometry: Mapped[dict[str, object]] = mapped_column(JSON)
    deleted: Mapped[bool] = mapped_column()
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ReviewRound(Base):
    """A signed-off review (A11): verdict, opinion and the annotations exactly as reviewed."""

    __tablename__ = "review_rounds"
    __table_args__ = (UniqueConstraint("slide_id", "round", name="uq_review_round_per_slide"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slide_id: Mapped[int] = mapped_column(ForeignKey("slides.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[Verdict] = mapped_column(Enum(Verdict, native_enum=False, length=16))
    opinion: Mapped[str] = mapped_column(Text)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    annotations: Mapped[list[dict[str, object]]] = mapped_column(JSON)  # frozen features

    reviewer: Mapped[User | None] = relationship()


class Job(Base):
    """Background work that survives restarts (issue 7, item 3): a worker claims a queued
    job, beats a heartbeat while it runs, and a job whose heartbeat stops (the process
    died) is queued again."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    slide_id: Mapped[int | None] = mapped_column(ForeignKey("slides.id", ondelete="CASCADE"), index=True)
    params: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    state: Mapped[JobState] = mapped_column(Enum(JobState, native_enum=False, length=16), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher first
    interactive: Mapped[bool] = mapped_column(default=False)  # may use the reserved slot
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(String(256))
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, object] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    worker: Mapped[str | None] = mapped_column(String(64))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Celery backend: when the queued job was last sent to the broker (None: not yet, or again)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # E7: what a job that gave way to interactive work had done, so it resumes there
    checkpoint: Mapped[dict[str, object] | None] = mapped_column(JSON)
    yields: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # a part of a split analysis (E7 split, parallel, stitch): the job that stitches it
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LoginFailure(Base):
    """A login attempt counted against its keys (account and address, hashed) for a minute, in
    the database so that every server process counts the same ones (SPEC A12, issue 19)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class MoveState(enum.StrEnum):
    """A file's move between tiers (SPEC E5), step by step; ``switched`` is written in the same
    transaction that points the slides at the destination."""

    planned = "planned"
    copying = "copying"
    copied = "copied"  # whole at the destination and its checksum verified
    switched = "switched"
    done = "done"
    failed = "failed"


class StorageMove(Base):
    """One stored file moving from one tier to another; survives the process that moves it, so
    a restart finishes or rolls back what a crash interrupted."""

    __tablename__ = "storage_moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), index=True)
    source: Mapped[StorageTier] = mapped_column(Enum(StorageTier, native_enum=False, length=16))
    destination: Mapped[StorageTier] = mapped_column(Enum(StorageTier, native_enum=False, length=16))
    sha256: Mapped[str | None] = mapped_column(String(64))  # of the file as kept
    byte_size: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[MoveState] = mapped_column(Enum(MoveState, native_enum=False, length=16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class NamedLock(Base):
    """A row written only to be locked (``db.locks``): the things that must not interleave
    across processes and servers, such as deleting a kept file and linking a new slide to it,
    or two ingests creating the same patient, each lock the same name first."""

    __tablename__ = "named_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    locked_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class MirrorScrub(Base):
    """One pass over every stored file comparing the primary and the mirror with the recorded
    checksum (SPEC E4), and what it repaired."""

    __tablename__ = "mirror_scrubs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    files: Mapped[int] = mapped_column(Integer, default=0)
    mismatches: Mapped[int] = mapped_column(Integer, default=0)  # copies not matching their checksum
    repaired: Mapped[int] = mapped_column(Integer, default=0)
    unrepairable: Mapped[int] = mapped_column(Integer, default=0)  # no good copy left anywhere
    details: Mapped[list[dict[str, object]] | None] = mapped_column(JSON(none_as_null=True))


class SectionGroup(Base):
    """Serial sections of one exam in several stains (SPEC D1): the lesion is drawn on the
    reference slide and carried onto the others through each one's stored transform."""

    __tablename__ = "section_groups"
    __table_args__ = (NEVER_REUSE_IDS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    reference_slide_id: Mapped[int] = mapped_column(ForeignKey("slides.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    exam: Mapped[Exam] = relationship()
    members: Mapped[list[SectionMember]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="SectionMember.position"
    )


class SectionMember(Base):
    """One slide of a group with its stain; a slide is in at most one group."""

    __tablename__ = "section_members"
    __table_args__ = (NEVER_REUSE_IDS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("section_groups.id", ondelete="CASCADE"), index=True)
    slide_id: Mapped[int] = mapped_column(ForeignKey("slides.id", ondelete="CASCADE"), unique=True)
    stain: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)

    group: Mapped[SectionGroup] = relationship(back_populates="members")
    slide: Mapped[Slide] = relationship()


class SlideTransform(Base):
    """A registration of one slide onto its group's reference (SPEC D1, D2), versioned: each
    run adds a version and the newest is used. ``data`` is ``registration.Transform`` in
    level-0 px (reference → slide), ``error_px`` its own estimate in the reference's level-0 px."""

    __tablename__ = "slide_transforms"
    __table_args__ = (
        UniqueConstraint("slide_id", "reference_slide_id", "version", name="uq_transform_version"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("section_groups.id", ondelete="CASCADE"), index=True)
    slide_id: Mapped[int] = mapped_column(ForeignKey("slides.id", ondelete="CASCADE"), index=True)
    reference_slide_id: Mapped[int] = mapped_column(ForeignKey("slides.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    registered_at_mpp: Mapped[float | None] = mapped_column(Float)  # µm per px of the images registered
    error_px: Mapped[float] = mapped_column(Float)
    error_um: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[dict[str, object]] = mapped_column(JSON)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
