"""Which associated images (label, macro) a slide holds, for the worklist (issue 21, item 6).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # slides stored before this say nothing (NULL): the list shows no label for them
    op.add_column("slides", sa.Column("associated_images", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("slides", "associated_images")
