"""One active model per disease type, role *and variant*: super-resolution models of the
two scales (×4, ×8: SPEC E6) are active side by side. ``variant`` is "" for every other
role, so the rule for them is unchanged.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("models", sa.Column("variant", sa.String(16), nullable=False, server_default=""))
    op.drop_index("uq_one_active_model_per_type_role", table_name="models")
    op.create_index(
        "uq_one_active_model_per_type_role_variant",
        "models",
        ["disease_type", "role", "variant"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )


def downgrade() -> None:
    op.drop_index("uq_one_active_model_per_type_role_variant", table_name="models")
    op.create_index(
        "uq_one_active_model_per_type_role",
        "models",
        ["disease_type", "role"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    with op.batch_alter_table("models") as batch:
        batch.drop_column("variant")
