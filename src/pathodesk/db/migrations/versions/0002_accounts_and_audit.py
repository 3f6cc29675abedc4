"""Disease types, case assignments, an append-only audit log, idle session expiry.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The shipped models' types (issue 6): a new database starts with them.
SEED_DISEASE_TYPES = [
    {
        "name": "lung",
        "display_name": "Lung",
        "labels": [
            {"name": "lung_n", "color": "#2ca02c"},
            {"name": "lung_aca", "color": "#d62728"},
            {"name": "lung_scc", "color": "#9467bd"},
        ],
    },
    {
        "name": "thyroid",
        "display_name": "Thyroid",
        "labels": [{"name": "normal", "color": "#2ca02c"}, {"name": "tumour", "color": "#d62728"}],
    },
    {
        "name": "unclassified",
        "display_name": "Unclassified",
        "labels": [{"name": "lesion", "color": "#ff7f0e"}],
    },
]

APPEND_ONLY = "audit log is append-only"


def upgrade() -> None:
    disease_types = op.create_table(
        "disease_types",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.bulk_insert(disease_types, [{**row, "active": True} for row in SEED_DISEASE_TYPES])
    # Types already used by exams (databases from 0001 took free text) are kept, not lost.
    empty_labels = "CAST('[]' AS JSON)" if op.get_bind().dialect.name != "sqlite" else "'[]'"
    op.execute(
        "INSERT INTO disease_types (name, display_name, labels, active) "
        f"SELECT used.name, used.name, {empty_labels}, true FROM (SELECT DISTINCT disease_type AS name "
        "FROM exams WHERE disease_type NOT IN (SELECT name FROM disease_types)) AS used"
    )
    with op.batch_alter_table("exams") as batch:
        batch.create_foreign_key(
            "fk_exams_disease_type", "disease_types", ["disease_type"], ["name"], ondelete="RESTRICT"
        )
    with op.batch_alter_table("auth_sessions") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE auth_sessions SET last_seen_at = created_at")
    op.create_table(
        "exam_assignments",
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "assigned_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("actor_account", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    for column in ("at", "actor_id", "action", "record_type"):
        op.create_index(f"ix_audit_events_{column}", "audit_events", [column])
    _forbid_audit_changes()


def _forbid_audit_changes() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{event.lower()} BEFORE {event} ON audit_events "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    op.drop_table("audit_events")
    op.drop_table("exam_assignments")
    with op.batch_alter_table("auth_sessions") as batch:
        batch.drop_column("last_seen_at")
    with op.batch_alter_table("exams") as batch:
        batch.drop_constraint("fk_exams_disease_type", type_="foreignkey")
    op.drop_table("disease_types")
