"""Named locks (``db.locks``): uploads that link to a kept file, deletions that remove it and
moves that switch it lock the file's name first (issue 18, SPEC E5), as ingests creating the
same patient or exam lock theirs, so none of them acts on what another has just changed.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "named_locks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("named_locks")
