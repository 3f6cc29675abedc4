"""Model roles (one active model per disease type and role) and per-disease analysis
parameters, editable by an administrator (issue 13, items 2 and 3).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the values analysis/autoannotate.py used before they moved onto the disease type
CLUSTERS = {
    "eps_tiles": 1.5,
    "min_samples": 3,
    "min_tiles": 4,
    "min_mean_probability": 0.6,
    "max_std_probability": 0.3,
}
DEFAULTS = {"lung": ["lung_n"], "thyroid": ["normal"]}


def upgrade() -> None:
    op.add_column("models", sa.Column("role", sa.String(16), nullable=False, server_default="tile"))
    op.drop_index("uq_one_active_model_per_type", table_name="models")
    op.create_index(
        "uq_one_active_model_per_type_role",
        "models",
        ["disease_type", "role"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.add_column("disease_types", sa.Column("analysis_params", sa.JSON(), nullable=True))
    disease_types = sa.table(
        "disease_types", sa.column("name", sa.String), sa.column("analysis_params", sa.JSON)
    )
    for name, background in DEFAULTS.items():
        op.execute(
            disease_types.update()
            .where(disease_types.c.name == name)
            .values(analysis_params={"background_labels": background, **CLUSTERS})
        )


def downgrade() -> None:
    op.drop_column("disease_types", "analysis_params")
    op.drop_index("uq_one_active_model_per_type_role", table_name="models")
    with op.batch_alter_table("models") as batch:
        batch.drop_column("role")
    op.create_index(
        "uq_one_active_model_per_type",
        "models",
        ["disease_type"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
