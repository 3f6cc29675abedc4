"""A disease type's default for low-resolution storage (SPEC E1): slides of the type are kept
at 1/N of their scan unless an upload or ingest says otherwise (1: as scanned).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("disease_types") as batch:
        batch.add_column(sa.Column("store_downsample", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("disease_types") as batch:
        batch.drop_column("store_downsample")
