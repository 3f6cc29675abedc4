"""Storage tiers and the slide life cycle (SPEC E4, E5): each kept file's own checksum, moves
between tiers that outlive a crash, mirror scrubs, and a case's reading station.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slides") as batch:
        batch.add_column(sa.Column("stored_sha256", sa.String(64), nullable=True))
    op.execute("UPDATE slides SET stored_sha256 = sha256 WHERE store_downsample = 1")
    with op.batch_alter_table("exams") as batch:
        batch.add_column(sa.Column("reading_station", sa.String(64), nullable=True))
    op.create_table(
        "storage_moves",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("destination", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("byte_size", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_storage_moves_path", "storage_moves", ["path"])
    op.create_index("ix_storage_moves_state", "storage_moves", ["state"])
    op.create_table(
        "mirror_scrubs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("mismatches", sa.Integer(), nullable=False),
        sa.Column("repaired", sa.Integer(), nullable=False),
        sa.Column("unrepairable", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("mirror_scrubs")
    op.drop_index("ix_storage_moves_state", "storage_moves")
    op.drop_index("ix_storage_moves_path", "storage_moves")
    op.drop_table("storage_moves")
    with op.batch_alter_table("exams") as batch:
        batch.drop_column("reading_station")
    with op.batch_alter_table("slides") as batch:
        batch.drop_column("stored_sha256")
