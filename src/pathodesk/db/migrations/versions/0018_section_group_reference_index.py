"""An index on section_groups.reference_slide_id: every edit of an annotation asks whether
its slide is a group's reference (to carry the edit across), so that lookup must not scan.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_section_groups_reference_slide_id", "section_groups", ["reference_slide_id"])


def downgrade() -> None:
    op.drop_index("ix_section_groups_reference_slide_id", table_name="section_groups")
