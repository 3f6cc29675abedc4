"""Annotations, their revisions, review rounds and a spatial index (issue 4, SPEC A7–A11).

The spatial index lets the viewer fetch only what is in view: an R*Tree virtual table kept
in step by triggers on SQLite, a GiST index over the bounding box on PostgreSQL.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_RTREE = [
    "CREATE VIRTUAL TABLE annotations_rtree USING rtree(id, min_x, max_x, min_y, max_y)",
    """CREATE TRIGGER annotations_rtree_insert AFTER INSERT ON annotations BEGIN
         INSERT INTO annotations_rtree VALUES (NEW.id, NEW.min_x, NEW.max_x, NEW.min_y, NEW.max_y);
       END""",
    """CREATE TRIGGER annotations_rtree_update AFTER UPDATE OF min_x, min_y, max_x, max_y ON annotations
       BEGIN
         UPDATE annotations_rtree SET min_x = NEW.min_x, max_x = NEW.max_x, min_y = NEW.min_y,
           max_y = NEW.max_y WHERE id = NEW.id;
       END""",
    """CREATE TRIGGER annotations_rtree_delete AFTER DELETE ON annotations BEGIN
         DELETE FROM annotations_rtree WHERE id = OLD.id;
       END""",
]
POSTGRES_GIST = (
    "CREATE INDEX ix_annotations_box ON annotations USING gist "
    "(box(point(min_x, min_y), point(max_x, max_y)))"
)


def _user_fk() -> sa.ForeignKey:
    return sa.ForeignKey("users.id", ondelete="SET NULL")


def upgrade() -> None:
    with op.batch_alter_table("slides") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="uploaded"))
        batch.add_column(sa.Column("review_round", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "annotations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "slide_id",
            sa.Integer(),
            sa.ForeignKey("slides.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("shape", sa.String(16), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("geometry_lod2", sa.JSON(), nullable=True),
        sa.Column("geometry_lod8", sa.JSON(), nullable=True),
        sa.Column("min_x", sa.Float(), nullable=False),
        sa.Column("min_y", sa.Float(), nullable=False),
        sa.Column("max_x", sa.Float(), nullable=False),
        sa.Column("max_y", sa.Float(), nullable=False),
        sa.Column("area_px", sa.Float(), nullable=False),
        sa.Column("perimeter_px", sa.Float(), nullable=False),
        sa.Column("vertex_count", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("author_id", sa.Integer(), _user_fk(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "annotation_revisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "annotation_id",
            sa.Integer(),
            sa.ForeignKey("annotations.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("shape", sa.String(16), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("author_id", sa.Integer(), _user_fk(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "review_rounds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "slide_id",
            sa.Integer(),
            sa.ForeignKey("slides.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("opinion", sa.Text(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), _user_fk(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.UniqueConstraint("slide_id", "round", name="uq_review_round_per_slide"),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_RTREE:
            op.execute(statement)
    else:
        op.execute(POSTGRES_GIST)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER annotations_rtree_{name}")
        op.execute("DROP TABLE annotations_rtree")
    op.drop_table("review_rounds")
    op.drop_table("annotation_revisions")
    op.drop_table("annotations")
    with op.batch_alter_table("slides") as batch:
        batch.drop_column("review_round")
        batch.drop_column("status")
