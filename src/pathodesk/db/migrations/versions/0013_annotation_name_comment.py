"""A name and a comment on each annotation (issue 21, item 5), as QuPath and ASAP give them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("annotations", sa.Column("name", sa.String(128), nullable=True))
    op.add_column("annotations", sa.Column("comment", sa.Text(), nullable=True))


def downgrade() -> None:
    # plain DROP COLUMN (SQLite >= 3.35): a batch rebuild would drop the R-tree triggers
    op.drop_column("annotations", "comment")
    op.drop_column("annotations", "name")
