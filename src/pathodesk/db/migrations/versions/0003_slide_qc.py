"""Quality control results on slides (issue 5: QC at ingest, non-standard slides marked).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slides") as batch:
        batch.add_column(sa.Column("qc_passed", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("qc_report", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("slides") as batch:
        batch.drop_column("qc_report")
        batch.drop_column("qc_passed")
