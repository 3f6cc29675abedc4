"""A shipped disease type for breast cancer graded by HER2 immunohistochemistry (0, 1+, 2+,
3+): the classes of the multi-stain fusion network trained on H&E + HER2 serial sections
(issue 16; SPEC D4–D6). An existing type of that name is left as its administrator made it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BREAST = {
    "name": "breast",
    "display_name": "Breast",
    "labels": [
        {"name": "her2_0", "color": "#2ca02c"},
        {"name": "her2_1", "color": "#bcbd22"},
        {"name": "her2_2", "color": "#ff7f0e"},
        {"name": "her2_3", "color": "#d62728"},
    ],
    "active": True,
}


def upgrade() -> None:
    table = sa.table(
        "disease_types",
        sa.column("name", sa.String),
        sa.column("display_name", sa.String),
        sa.column("labels", sa.JSON),
        sa.column("active", sa.Boolean),
    )
    bind = op.get_bind()
    if bind.execute(sa.select(table.c.name).where(table.c.name == BREAST["name"])).first() is None:
        op.bulk_insert(table, [BREAST])


def downgrade() -> None:
    op.execute(
        "DELETE FROM disease_types WHERE name = 'breast'"
        " AND NOT EXISTS (SELECT 1 FROM exams WHERE disease_type = 'breast')"
    )
