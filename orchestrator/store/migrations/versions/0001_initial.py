"""The first schema: deliveries, runs, phases, steps, hosts, tasks, decisions, audit, locks, logs.

Revision ID: 0001
Revises:
Create Date: 2025-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_SQLITE_APPEND_ONLY = """
CREATE TRIGGER audit_log_append_only_{verb} BEFORE {verb} ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
"""
_POSTGRES_APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$
"""
_POSTGRES_APPEND_ONLY_TRIGGER = """
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
"""


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), autoincrement=True, nullable=False)


def _run_id() -> sa.Column[str]:
    return sa.Column("run_id", sa.String(100), nullable=False)


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=f"fk_{table}_run_id")


def _delivery_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["delivery_id"], ["deliveries.id"], name=f"fk_{table}_delivery_id"
    )


def _index(table: str, column: str) -> None:
    op.create_index(f"ix_{table}_{column}", table, [column])


def _deliveries_and_runs() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("lead_engineer", sa.String(200), nullable=False),
        sa.Column("delivery_manager", sa.String(200), nullable=False),
        _when("updated_at"),
        sa.Column("lead_engineer_email", sa.String(200), nullable=False),
        sa.Column("delivery_manager_email", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("delivery_id", sa.String(100), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("from_phase", sa.Integer(), nullable=False),
        sa.Column("through_phase", sa.Integer(), nullable=False),
        _when("started_at"),
        _when("finished_at", nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        _delivery_fk("runs"),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    _index("runs", "delivery_id")


def _phases_and_steps() -> None:
    op.create_table(
        "phases",
        _id(),
        _run_id(),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _when("started_at"),
        _when("finished_at", nullable=True),
        _run_fk("phases"),
        sa.PrimaryKeyConstraint("id", name="pk_phases"),
        sa.UniqueConstraint("run_id", "number", name="uq_phases_run_id"),
    )
    _index("phases", "run_id")
    op.create_table(
        "steps",
        _id(),
        _run_id(),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        _when("started_at"),
        _when("finished_at", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _run_fk("steps"),
        sa.PrimaryKeyConstraint("id", name="pk_steps"),
        sa.UniqueConstraint("run_id", "key", name="uq_steps_run_id"),
    )
    _index("steps", "run_id")
    _index("steps", "key")


def _hosts_and_tasks() -> None:
    op.create_table(
        "host_results",
        _id(),
        _run_id(),
        sa.Column("step_key", sa.String(200), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _when("started_at"),
        _when("finished_at"),
        _run_fk("host_results"),
        sa.PrimaryKeyConstraint("id", name="pk_host_results"),
        sa.UniqueConstraint("run_id", "step_key", "host", name="uq_host_results_run_id"),
    )
    _index("host_results", "run_id")
    op.create_table(
        "task_results",
        _id(),
        sa.Column("host_result_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_result_id"], ["host_results.id"], name="fk_task_results_host_result_id"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_task_results"),
    )
    _index("task_results", "host_result_id")


def _decisions() -> None:
    op.create_table(
        "gate_decisions",
        _id(),
        sa.Column("delivery_id", sa.String(100), nullable=False),
        sa.Column("gate", sa.String(50), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        _when("decided_at"),
        _delivery_fk("gate_decisions"),
        sa.PrimaryKeyConstraint("id", name="pk_gate_decisions"),
    )
    _index("gate_decisions", "delivery_id")
    op.create_table(
        "action_items",
        _id(),
        sa.Column("delivery_id", sa.String(100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("step_key", sa.String(200), nullable=True),
        sa.Column("opened_by", sa.String(200), nullable=False),
        _when("opened_at"),
        sa.Column("closed_by", sa.String(200), nullable=True),
        _when("closed_at", nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        _delivery_fk("action_items"),
        sa.PrimaryKeyConstraint("id", name="pk_action_items"),
    )
    _index("action_items", "delivery_id")
    op.create_table(
        "evaluation_notes",
        _id(),
        sa.Column("delivery_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        _when("created_at"),
        _delivery_fk("evaluation_notes"),
        sa.PrimaryKeyConstraint("id", name="pk_evaluation_notes"),
    )
    _index("evaluation_notes", "delivery_id")


def _audit_locks_logs() -> None:
    op.create_table(
        "audit_log",
        _id(),
        _when("at"),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("delivery_id", sa.String(100), nullable=True),
        sa.Column("run_id", sa.String(100), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    _index("audit_log", "delivery_id")
    op.create_table(
        "locks",
        sa.Column("delivery_id", sa.String(100), nullable=False),
        sa.Column("run_id", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        _when("since"),
        sa.PrimaryKeyConstraint("delivery_id", name="pk_locks"),
    )
    op.create_table(
        "run_logs",
        _id(),
        _run_id(),
        sa.Column("line", sa.Text(), nullable=False),
        _run_fk("run_logs"),
        sa.PrimaryKeyConstraint("id", name="pk_run_logs"),
    )
    _index("run_logs", "run_id")


def _make_audit_log_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_APPEND_ONLY_FUNCTION)
        op.execute(_POSTGRES_APPEND_ONLY_TRIGGER)
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(_SQLITE_APPEND_ONLY.format(verb=verb))


def upgrade() -> None:
    _deliveries_and_runs()
    _phases_and_steps()
    _hosts_and_tasks()
    _decisions()
    _audit_locks_logs()
    _make_audit_log_append_only()


def downgrade() -> None:
    for table in (
        "run_logs", "locks", "audit_log", "evaluation_notes", "action_items", "gate_decisions",
        "task_results", "host_results", "steps", "phases", "runs", "deliveries",
    ):  # fmt: skip
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
