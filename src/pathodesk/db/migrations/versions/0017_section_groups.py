"""Section groups of serial sections, their stored transforms, and registered annotations
(issue 15, items 1 and 5; SPEC D1).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    op.create_table(
        "section_groups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "exam_id", sa.Integer, sa.ForeignKey("exams.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column(
            "reference_slide_id", sa.Integer, sa.ForeignKey("slides.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        **NEVER_REUSE_IDS,
    )
    op.create_table(
        "section_members",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "group_id",
            sa.Integer,
            sa.ForeignKey("section_groups.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "slide_id",
            sa.Integer,
            sa.ForeignKey("slides.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("stain", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        **NEVER_REUSE_IDS,
    )
    op.create_table(
        "slide_transforms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "group_id",
            sa.Integer,
            sa.ForeignKey("section_groups.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "slide_id", sa.Integer, sa.ForeignKey("slides.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column(
            "reference_slide_id", sa.Integer, sa.ForeignKey("slides.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("registered_at_mpp", sa.Float),
        sa.Column("error_px", sa.Float, nullable=False),
        sa.Column("error_um", sa.Float),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("slide_id", "reference_slide_id", "version", name="uq_transform_version"),
        **NEVER_REUSE_IDS,
    )
    # plain ADD COLUMN (a batch rebuild would drop the annotations' R-tree triggers on SQLite,
    # and Alembic will not add a foreign key there; SQLite itself accepts it with a NULL default)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE annotations ADD COLUMN origin_id INTEGER"
            " REFERENCES annotations(id) ON DELETE SET NULL"
        )
    else:
        op.add_column(
            "annotations",
            sa.Column(
                "origin_id", sa.Integer, sa.ForeignKey("annotations.id", ondelete="SET NULL"), nullable=True
            ),
        )
    op.create_index("ix_annotations_origin_id", "annotations", ["origin_id"])
    if op.get_bind().dialect.name != "sqlite":  # SQLite does not enforce VARCHAR lengths
        op.alter_column("annotations", "source", type_=sa.String(16), existing_type=sa.String(8))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DELETE FROM annotations WHERE source = 'registered'")
        op.alter_column("annotations", "source", type_=sa.String(8), existing_type=sa.String(16))
    op.drop_index("ix_annotations_origin_id", "annotations")
    op.drop_column("annotations", "origin_id")
    op.drop_table("slide_transforms")
    op.drop_table("section_members")
    op.drop_table("section_groups")
