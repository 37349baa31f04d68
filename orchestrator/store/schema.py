"""The tables of the run store (SQLAlchemy Core). Alembic migrations create them; a unit test
checks that the migrations and these tables agree."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
    }
)


def _when(name: str, *, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


def _run_id() -> Column[str]:
    return Column("run_id", String(100), ForeignKey("runs.id"), nullable=False, index=True)


deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("spec_hash", String(64), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("lead_engineer", String(200), nullable=False),
    Column("delivery_manager", String(200), nullable=False),
    _when("updated_at"),
    Column("lead_engineer_email", String(200), nullable=False),
    Column("delivery_manager_email", String(200), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("delivery_id", String(100), ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("mode", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("who", String(200), nullable=False),
    Column("host", String(200), nullable=False),
    Column("command", Text, nullable=False),
    Column("version", String(50), nullable=False),
    Column("spec_hash", String(64), nullable=False),
    Column("from_phase", Integer, nullable=False),
    Column("through_phase", Integer, nullable=False),
    _when("started_at"),
    _when("finished_at", nullable=True),
    Column("reason", Text),
    Column("pid", Integer),
)

phases = Table(
    "phases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _run_id(),
    Column("number", Integer, nullable=False),
    Column("name", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    _when("started_at"),
    _when("finished_at", nullable=True),
    UniqueConstraint("run_id", "number"),
)

steps = Table(
    "steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _run_id(),
    Column("phase", Integer, nullable=False),
    Column("key", String(200), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("input_hash", String(64), nullable=False),
    Column("outputs", JSON, nullable=False),
    _when("started_at"),
    _when("finished_at", nullable=True),
    Column("error", Text),
    UniqueConstraint("run_id", "key"),
)

host_results = Table(
    "host_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _run_id(),
    Column("step_key", String(200), nullable=False),
    Column("host", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("input_hash", String(64), nullable=False),
    Column("changed", Boolean, nullable=False),
    Column("outputs", JSON, nullable=False),
    Column("error", Text),
    _when("started_at"),
    _when("finished_at"),
    UniqueConstraint("run_id", "step_key", "host"),
)

task_results = Table(
    "task_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("host_result_id", Integer, ForeignKey("host_results.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("changed", Boolean, nullable=False),
    Column("detail", Text, nullable=False),
    Column("duration", Float),
)

gate_decisions = Table(
    "gate_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(100), ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("gate", String(50), nullable=False),
    Column("by", String(200), nullable=False),
    Column("role", String(50), nullable=False),
    Column("comment", Text, nullable=False),
    _when("decided_at"),
    Column("evidence", String(64), nullable=False, server_default=""),
    Column("method", String(50), nullable=False, server_default=""),
    Column("proof", Text, nullable=False, server_default=""),
)

action_items = Table(
    "action_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(100), ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("step_key", String(200)),
    Column("opened_by", String(200), nullable=False),
    _when("opened_at"),
    Column("closed_by", String(200)),
    _when("closed_at", nullable=True),
    Column("resolution", Text),
    Column("host", String(200)),
    Column("check", String(300)),
    Column("expected", Text),
    Column("found", Text),
)

evaluation_notes = Table(
    "evaluation_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(100), ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("kind", String(50), nullable=False),
    Column("text", Text, nullable=False),
    Column("by", String(200), nullable=False),
    _when("created_at"),
)

checkins = Table(
    "checkins",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(100), ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("gate", String(50), nullable=False),
    Column("by", String(200), nullable=False),
    Column("comment", Text, nullable=False),
    _when("at"),
    Column("method", String(50), nullable=False, server_default=""),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(100), ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("run_id", String(100), nullable=False),
    Column("event", String(20), nullable=False),
    Column("gate", String(50)),
    Column("channel", String(20), nullable=False),
    Column("recipient", String(300), nullable=False),
    Column("key", String(64), nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("subject", Text, nullable=False),
    Column("command", Text, nullable=False),
    Column("error", Text),
    _when("at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _when("at"),
    Column("who", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("delivery_id", String(100), index=True),
    Column("run_id", String(100)),
    Column("detail", JSON, nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("delivery_id", String(100), primary_key=True),
    Column("run_id", String(100), nullable=False),
    Column("holder", String(200), nullable=False),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    _when("since"),
)

run_logs = Table(
    "run_logs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _run_id(),
    Column("line", Text, nullable=False),
)

delivery_state = Table(
    "delivery_state",
    metadata,
    Column("delivery_id", String(100), primary_key=True),
    Column("kind", String(10), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("value", Text, nullable=False),
    _when("created_at"),
)
