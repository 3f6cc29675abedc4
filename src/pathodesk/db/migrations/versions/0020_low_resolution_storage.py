"""Low-resolution storage (SPEC E1): a slide may keep only a pyramid at 1/N of its scan's
linear resolution. ``store_downsample`` is that N (1: stored as scanned); ``stored_bytes``
the size of what is kept, beside ``byte_size``, the scan's own size.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slides") as batch:
        batch.add_column(sa.Column("store_downsample", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("stored_bytes", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("slides") as batch:
        batch.drop_column("stored_bytes")
        batch.drop_column("store_downsample")
