"""Who last changed an annotation (issue 21, item 5): an AI outline an expert corrected says so.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite takes a reference in ADD COLUMN; Alembic would rebuild the table (and lose its
        # R-tree and append-only triggers) to add the constraint separately
        op.execute(
            "ALTER TABLE annotations ADD COLUMN edited_by_id INTEGER REFERENCES users (id) ON DELETE SET NULL"
        )
    else:
        column = sa.Column("edited_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"))
        op.add_column("annotations", column)
    # earlier edits are in the revision history: the latest update's author
    op.execute(
        "UPDATE annotations SET edited_by_id = (SELECT r.author_id FROM annotation_revisions r"
        " WHERE r.annotation_id = annotations.id AND r.action = 'update' ORDER BY r.id DESC LIMIT 1)"
    )


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35) keeps the table's triggers, which a rebuild would drop
    op.drop_column("annotations", "edited_by_id")
