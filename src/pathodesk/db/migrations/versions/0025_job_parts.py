"""Priority queues and split analyses (issue 19, SPEC E7): what a job that gave way to
interactive work had done (``checkpoint``, so it resumes where it stopped) and how often it
gave way, and the parent of a part of a split analysis.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("checkpoint", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("yields", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_jobs_parent_id", "jobs", ["parent_id"], ["id"], ondelete="CASCADE")
        batch.create_index("ix_jobs_parent_id", ["parent_id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_parent_id")
        batch.drop_constraint("fk_jobs_parent_id", type_="foreignkey")
        batch.drop_column("parent_id")
        batch.drop_column("yields")
        batch.drop_column("checkpoint")
