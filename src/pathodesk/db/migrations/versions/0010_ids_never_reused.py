"""Ids are never reused (issue 21, item 4): on SQLite a table without AUTOINCREMENT hands
the id of its last deleted row to the next insert, so a bookmark or an audit entry of a
deleted patient would point at a different one. PostgreSQL's sequences never go back.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the records people link to and the audit log names; tables with triggers (annotations and
# their spatial index, the append-only audit log) are left alone: batch rebuilds drop triggers
TABLES = ("users", "patients", "exams", "slides")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
