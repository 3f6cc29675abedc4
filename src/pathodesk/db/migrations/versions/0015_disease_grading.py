"""Grade scales on disease types for cascade grading (issue 14, item 1; SPEC C1).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the shipped scales as they stood when this revision was written (ml.grades.DEFAULT_SCALES):
# a migration never changes with the code that follows it
SCALES = {
    "lung": {
        "coarse": [{"name": "benign", "bethesda": None}, {"name": "malignant", "bethesda": None}],
        "fine": {"lung_n": "benign", "lung_aca": "malignant", "lung_scc": "malignant"},
    },
    "thyroid": {
        "coarse": [
            {"name": "benign", "bethesda": "II"},
            {"name": "suspicious", "bethesda": "IV"},
            {"name": "malignant", "bethesda": "VI"},
        ],
        "fine": {
            "BN": "benign",
            "normal": "benign",
            "FTC": "suspicious",
            "PTC": "malignant",
            "tumour": "malignant",
        },
    },
}


def upgrade() -> None:
    op.add_column("disease_types", sa.Column("grading", sa.JSON(), nullable=True))
    table = sa.table("disease_types", sa.column("name", sa.String), sa.column("grading", sa.JSON))
    for name, scale in SCALES.items():
        op.execute(table.update().where(table.c.name == name).values(grading=scale))


def downgrade() -> None:
    op.drop_column("disease_types", "grading")
