"""The thyroid type's slide classes as labels, so the cascade's fine classes can be drawn
(issue 14, item 5): BN, FTC and PTC beside normal and tumour.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADDED = [
    {"name": "BN", "color": "#17becf"},
    {"name": "FTC", "color": "#ff7f0e"},
    {"name": "PTC", "color": "#8c564b"},
]


def upgrade() -> None:
    table = sa.table("disease_types", sa.column("name", sa.String), sa.column("labels", sa.JSON))
    bind = op.get_bind()
    labels = bind.execute(sa.select(table.c.labels).where(table.c.name == "thyroid")).scalar()
    if labels is None:
        return  # an administrator removed the type
    known = {label["name"] for label in labels}
    extended = [*labels, *(label for label in ADDED if label["name"] not in known)]
    bind.execute(table.update().where(table.c.name == "thyroid").values(labels=extended))


def downgrade() -> None:
    table = sa.table("disease_types", sa.column("name", sa.String), sa.column("labels", sa.JSON))
    bind = op.get_bind()
    labels = bind.execute(sa.select(table.c.labels).where(table.c.name == "thyroid")).scalar()
    if labels is not None:
        names = {label["name"] for label in ADDED}
        kept = [label for label in labels if label["name"] not in names]
        bind.execute(table.update().where(table.c.name == "thyroid").values(labels=kept))
