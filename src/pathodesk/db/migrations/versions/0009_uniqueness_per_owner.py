"""Uniqueness that leaks nothing (issue 20, H): patient codes and pathology ids unique per
registering account, not across the hospital; identical slide files stored once but
recorded as many slides as cases hold them.

SQLite keeps the old UNIQUE constraints unnamed inside the table definition: a batch
rebuild (foreign keys are off during migrations, see env.py) names them by convention to
drop them. PostgreSQL named them ``<table>_<column>_key``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
CHANGES = (
    ("patients", "patient_code", "uq_patient_code_per_owner"),
    ("exams", "pathology_id", "uq_pathology_id_per_owner"),
    ("slides", "sha256", None),
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, scoped in CHANGES:
        if sqlite:
            with op.batch_alter_table(table, naming_convention=NAMING, recreate="always") as batch:
                batch.drop_constraint(f"uq_{table}_{column}", type_="unique")
                if scoped:
                    batch.create_unique_constraint(scoped, [column, "created_by_id"])
        else:
            op.drop_constraint(f"{table}_{column}_key", table, type_="unique")
            if scoped:
                op.create_unique_constraint(scoped, table, [column, "created_by_id"])
    op.create_index("ix_slides_sha256", "slides", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_slides_sha256", table_name="slides")
    for table, column, scoped in CHANGES:
        with op.batch_alter_table(table) as batch:
            if scoped:
                batch.drop_constraint(scoped, type_="unique")
            batch.create_unique_constraint(f"{table}_{column}_key", [column])
