"""``SqlRunStore``: the run store on SQLAlchemy Core, SQLite by default, PostgreSQL when shared.

Shared state (``claim_state``) is one ``INSERT ... ON CONFLICT DO NOTHING`` and a read of what is
there, in one transaction: on PostgreSQL a second controller's insert waits for the first one's
commit and then does nothing; on SQLite writers queue (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Row, Table, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from orchestrator.store import schema as t
from orchestrator.store.migrate import connect, connect_reader, migrate, require_current
from orchestrator.store.protocol import UnknownParent
from orchestrator.store.records import (
    ActionItem,
    AuditEntry,
    CheckIn,
    DeliveryRecord,
    EvaluationNote,
    GateDecision,
    HostRecord,
    LockRecord,
    NotificationRecord,
    PhaseRecord,
    RunRecord,
    StateKind,
    StepRecord,
    TaskRecord,
)
from orchestrator.store.status import Mode, Status

type Values = dict[str, Any]


class SqlRunStore:
    """The run store in a SQL database; ``open`` migrates the schema first."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """One transaction; a foreign key the database refuses is ``UnknownParent``."""
        try:
            with self._engine.begin() as db:
                yield db
        except IntegrityError as error:
            if not _foreign_key(error):
                raise
            raise UnknownParent from None

    @classmethod
    def open(cls, url: str) -> SqlRunStore:
        """Connect to ``url`` and apply the migrations it lacks."""
        engine = connect(url)
        migrate(engine)
        return cls(engine)

    @classmethod
    def open_reader(cls, url: str) -> SqlRunStore:
        """Connect to ``url`` to read only: nothing is migrated or written, so a database role
        with SELECT alone will do; ``StoreNotCurrent`` when the schema is not this version's."""
        engine = connect_reader(url)
        require_current(engine)
        return cls(engine)

    def close(self) -> None:
        self._engine.dispose()

    # deliveries

    def save_delivery(self, delivery: DeliveryRecord) -> None:
        self._upsert(t.deliveries, {"id": delivery.id}, _delivery_values(delivery))

    def get_delivery(self, delivery_id: str) -> DeliveryRecord | None:
        row = self._first(select(t.deliveries).where(t.deliveries.c.id == delivery_id))
        return None if row is None else _delivery(row)

    def list_deliveries(self) -> list[DeliveryRecord]:
        query = select(t.deliveries).order_by(t.deliveries.c.updated_at.desc(), t.deliveries.c.id)
        return [_delivery(row) for row in self._all(query)]

    # runs, phases, steps, hosts

    def save_run(self, run: RunRecord) -> None:
        self._upsert(t.runs, {"id": run.id}, _run_values(run))

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._first(select(t.runs).where(t.runs.c.id == run_id))
        return None if row is None else _run(row)

    def list_runs(self, delivery_id: str | None = None, limit: int = 50) -> list[RunRecord]:
        query = select(t.runs).order_by(t.runs.c.started_at.desc(), t.runs.c.id.desc())
        if delivery_id is not None:
            query = query.where(t.runs.c.delivery_id == delivery_id)
        return [_run(row) for row in self._all(query.limit(limit))]

    def save_phase(self, phase: PhaseRecord) -> None:
        key = {"run_id": phase.run_id, "number": phase.number}
        self._upsert(t.phases, key, _phase_values(phase))

    def list_phases(self, run_id: str) -> list[PhaseRecord]:
        query = select(t.phases).where(t.phases.c.run_id == run_id).order_by(t.phases.c.number)
        return [_phase(row) for row in self._all(query)]

    def save_step(self, step: StepRecord) -> None:
        self._upsert(t.steps, {"run_id": step.run_id, "key": step.key}, _step_values(step))

    def list_steps(self, run_id: str) -> list[StepRecord]:
        query = select(t.steps).where(t.steps.c.run_id == run_id).order_by(t.steps.c.id)
        return [_step(row) for row in self._all(query)]

    def latest_step(self, delivery_id: str, key: str) -> StepRecord | None:
        query = (
            select(t.steps)
            .join(t.runs, t.runs.c.id == t.steps.c.run_id)
            .where(t.runs.c.delivery_id == delivery_id, t.runs.c.mode == Mode.APPLY.value)
            .where(t.steps.c.key == key)
            .order_by(t.steps.c.id.desc())
        )
        row = self._first(query.limit(1))
        return None if row is None else _step(row)

    def save_host(self, host: HostRecord) -> None:
        key = {"run_id": host.run_id, "step_key": host.step_key, "host": host.host}
        with self._begin() as db:
            host_id = _upsert_returning_id(db, t.host_results, key, _host_values(host))
            db.execute(delete(t.task_results).where(t.task_results.c.host_result_id == host_id))
            if host.tasks:
                db.execute(insert(t.task_results), [_task_values(host_id, x) for x in host.tasks])

    def list_hosts(self, run_id: str, step_key: str | None = None) -> list[HostRecord]:
        query = select(t.host_results).where(t.host_results.c.run_id == run_id)
        if step_key is not None:
            query = query.where(t.host_results.c.step_key == step_key)
        rows = self._all(query.order_by(t.host_results.c.id))
        tasks = self._tasks_of([row.id for row in rows])
        return [_host(row, tasks.get(row.id, ())) for row in rows]

    def _tasks_of(self, host_ids: list[int]) -> dict[int, tuple[TaskRecord, ...]]:
        query = select(t.task_results).where(t.task_results.c.host_result_id.in_(host_ids))
        found: dict[int, tuple[TaskRecord, ...]] = {}
        for row in self._all(query.order_by(t.task_results.c.id)):
            found[row.host_result_id] = (*found.get(row.host_result_id, ()), _task(row))
        return found

    # decisions

    def record_decision(self, decision: GateDecision) -> None:
        self._insert(t.gate_decisions, _decision_values(decision))

    def list_decisions(self, delivery_id: str) -> list[GateDecision]:
        table = t.gate_decisions
        query = select(table).where(table.c.delivery_id == delivery_id).order_by(table.c.id)
        return [_decision(row) for row in self._all(query)]

    def open_action_item(self, item: ActionItem) -> ActionItem:
        item_id = self._insert(t.action_items, _action_item_values(item))
        return _replace_id(item, item_id)

    def close_action_item(self, item_id: int, by: str, resolution: str) -> ActionItem:
        table = t.action_items
        closing = {"closed_by": by, "closed_at": _now(), "resolution": resolution}
        with self._begin() as db:
            open_item = (table.c.id == item_id) & table.c.closed_at.is_(None)
            db.execute(update(table).where(open_item).values(closing))
            row = db.execute(select(table).where(table.c.id == item_id)).first()
        if row is None:
            raise KeyError(item_id)
        return _action_item(row)

    def list_action_items(self, delivery_id: str) -> list[ActionItem]:
        table = t.action_items
        query = select(table).where(table.c.delivery_id == delivery_id).order_by(table.c.id)
        return [_action_item(row) for row in self._all(query)]

    def add_evaluation_note(self, note: EvaluationNote) -> None:
        self._insert(t.evaluation_notes, _note_values(note))

    def list_evaluation_notes(self, delivery_id: str) -> list[EvaluationNote]:
        table = t.evaluation_notes
        query = select(table).where(table.c.delivery_id == delivery_id).order_by(table.c.id)
        return [_note(row) for row in self._all(query)]

    def add_checkin(self, checkin: CheckIn) -> None:
        self._insert(t.checkins, _checkin_values(checkin))

    def list_checkins(self, delivery_id: str) -> list[CheckIn]:
        table = t.checkins
        query = select(table).where(table.c.delivery_id == delivery_id).order_by(table.c.id)
        return [_checkin(row) for row in self._all(query)]

    # notifications

    def add_notification(self, record: NotificationRecord) -> NotificationRecord:
        record_id = self._insert(t.notifications, _notification_values(record))
        return _replace_id(record, record_id)

    def list_notifications(self, delivery_id: str) -> list[NotificationRecord]:
        table = t.notifications
        query = select(table).where(table.c.delivery_id == delivery_id).order_by(table.c.id)
        return [_notification(row) for row in self._all(query)]

    # audit and logs

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        entry_id = self._insert(t.audit_log, _audit_values(entry))
        return _replace_id(entry, entry_id)

    def list_audit(self, delivery_id: str | None = None) -> list[AuditEntry]:
        query = select(t.audit_log).order_by(t.audit_log.c.id)
        if delivery_id is not None:
            query = query.where(t.audit_log.c.delivery_id == delivery_id)
        return [_audit(row) for row in self._all(query)]

    def append_log_lines(self, run_id: str, lines: Sequence[str]) -> None:
        if lines:
            with self._begin() as db:
                db.execute(insert(t.run_logs), [{"run_id": run_id, "line": x} for x in lines])

    def read_log_lines(self, run_id: str) -> list[str]:
        query = select(t.run_logs.c.line).where(t.run_logs.c.run_id == run_id)
        return [row.line for row in self._all(query.order_by(t.run_logs.c.id))]

    # locks

    def acquire_lock(self, lock: LockRecord) -> LockRecord | None:
        for _attempt in range(3):
            if self._try_insert(t.locks, _lock_values(lock)):
                return None
            held = self.get_lock(lock.delivery_id)
            if held is not None:
                return held
        raise RuntimeError(f"the lock of {lock.delivery_id} keeps changing hands")

    def release_lock(self, delivery_id: str, run_id: str) -> bool:
        where = (t.locks.c.delivery_id == delivery_id) & (t.locks.c.run_id == run_id)
        return self._delete(t.locks, where)

    def break_lock(self, lock: LockRecord) -> bool:
        c = t.locks.c
        where = (c.delivery_id == lock.delivery_id) & (c.run_id == lock.run_id)
        return self._delete(t.locks, where & (c.host == lock.host) & (c.pid == lock.pid))

    def get_lock(self, delivery_id: str) -> LockRecord | None:
        row = self._first(select(t.locks).where(t.locks.c.delivery_id == delivery_id))
        return None if row is None else _lock(row)

    # shared state

    def claim_state(self, delivery_id: str, kind: StateKind, name: str, value: str) -> str:
        table = t.delivery_state
        key = {"delivery_id": delivery_id, "kind": kind, "name": name}
        where = [table.c[column] == given for column, given in key.items()]
        with self._begin() as db:
            _insert_unless_there(db, table, {**key, "value": value, "created_at": _now()})
            kept: str = db.execute(select(table.c.value).where(*where)).scalar_one()
        return kept

    def list_state(self, delivery_id: str, kind: StateKind) -> dict[str, str]:
        c = t.delivery_state.c
        query = select(c.name, c.value).where(c.delivery_id == delivery_id, c.kind == kind)
        return {row.name: row.value for row in self._all(query.order_by(c.name))}

    def forget_state(self, delivery_id: str) -> int:
        where = t.delivery_state.c.delivery_id == delivery_id
        with self._begin() as db:
            return db.execute(delete(t.delivery_state).where(where)).rowcount

    # plumbing

    def _first(self, query: Executable) -> Row[Any] | None:
        with self._begin() as db:
            return db.execute(query).first()

    def _all(self, query: Executable) -> Sequence[Row[Any]]:
        with self._begin() as db:
            return db.execute(query).all()

    def _insert(self, table: Table, values: Values) -> int:
        """Insert a row into a table keyed by a number; the number it got."""
        with self._begin() as db:
            key = db.execute(insert(table).values(values)).inserted_primary_key
        return int(key[0]) if key else 0

    def _try_insert(self, table: Table, values: Values) -> bool:
        try:
            with self._begin() as db:
                db.execute(insert(table).values(values))
        except IntegrityError:
            return False
        return True

    def _delete(self, table: Table, where: Any) -> bool:  # noqa: ANN401 - a SQL expression
        with self._begin() as db:
            return db.execute(delete(table).where(where)).rowcount > 0

    def _upsert(self, table: Table, key: Values, values: Values) -> None:
        with self._begin() as db:
            _upsert_returning_id(db, table, key, values)


#: PostgreSQL's SQLSTATE for a foreign key violation; SQLite says it in its message only.
_FOREIGN_KEY_VIOLATION = "23503"


def _foreign_key(error: IntegrityError) -> bool:
    cause = error.orig
    return getattr(
        cause, "sqlstate", None
    ) == _FOREIGN_KEY_VIOLATION or "FOREIGN KEY constraint failed" in str(cause)


def _upsert_returning_id(db: Connection, table: Table, key: Values, values: Values) -> object:
    where = [table.c[name] == value for name, value in key.items()]
    if db.execute(update(table).where(*where).values(values)).rowcount:
        ids = table.primary_key.columns.values()[0]
        return db.execute(select(ids).where(*where)).scalar_one()
    inserted = db.execute(insert(table).values({**key, **values})).inserted_primary_key
    return None if inserted is None else inserted[0]


def _insert_unless_there(db: Connection, table: Table, values: Values) -> None:
    """Insert a row unless one with the same key exists (then nothing; no error)."""
    dialect = postgresql if db.dialect.name == "postgresql" else sqlite
    db.execute(dialect.insert(table).values(values).on_conflict_do_nothing())


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    """Times come back naive from SQLite and in the session's zone from PostgreSQL."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _maybe_utc(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _replace_id[R: (ActionItem, AuditEntry, NotificationRecord)](record: R, new_id: int) -> R:
    return replace(record, id=new_id)


def _json(value: Mapping[str, object]) -> dict[str, object]:
    return dict(value)


# rows in and out, one pair per table


def _delivery_values(d: DeliveryRecord) -> Values:
    return {
        "spec_hash": d.spec_hash,
        "spec": _json(d.spec),
        "lead_engineer": d.lead_engineer,
        "delivery_manager": d.delivery_manager,
        "updated_at": _maybe_utc(d.updated_at),
        "lead_engineer_email": d.lead_engineer_email,
        "delivery_manager_email": d.delivery_manager_email,
    }


def _delivery(row: Row[Any]) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        spec_hash=row.spec_hash,
        spec=row.spec,
        lead_engineer=row.lead_engineer,
        delivery_manager=row.delivery_manager,
        updated_at=_utc(row.updated_at),
        lead_engineer_email=row.lead_engineer_email,
        delivery_manager_email=row.delivery_manager_email,
    )


def _run_values(r: RunRecord) -> Values:
    return {
        "delivery_id": r.delivery_id,
        "mode": r.mode.value,
        "status": r.status.value,
        "who": r.who,
        "host": r.host,
        "command": r.command,
        "version": r.version,
        "spec_hash": r.spec_hash,
        "from_phase": r.from_phase,
        "through_phase": r.through_phase,
        "started_at": _maybe_utc(r.started_at),
        "finished_at": _maybe_utc(r.finished_at),
        "reason": r.reason,
        "pid": r.pid,
    }


def _run(row: Row[Any]) -> RunRecord:
    return RunRecord(
        id=row.id,
        delivery_id=row.delivery_id,
        mode=Mode(row.mode),
        status=Status(row.status),
        who=row.who,
        host=row.host,
        command=row.command,
        version=row.version,
        spec_hash=row.spec_hash,
        from_phase=row.from_phase,
        through_phase=row.through_phase,
        started_at=_utc(row.started_at),
        finished_at=_maybe_utc(row.finished_at),
        reason=row.reason,
        pid=row.pid,
    )


def _phase_values(p: PhaseRecord) -> Values:
    return {
        "name": p.name,
        "status": p.status.value,
        "started_at": _maybe_utc(p.started_at),
        "finished_at": _maybe_utc(p.finished_at),
    }


def _phase(row: Row[Any]) -> PhaseRecord:
    return PhaseRecord(
        row.run_id, row.number, row.name, Status(row.status), _utc(row.started_at),
        _maybe_utc(row.finished_at),
    )  # fmt: skip


def _step_values(s: StepRecord) -> Values:
    return {
        "phase": s.phase,
        "status": s.status.value,
        "input_hash": s.input_hash,
        "outputs": _json(s.outputs),
        "started_at": _maybe_utc(s.started_at),
        "finished_at": _maybe_utc(s.finished_at),
        "error": s.error,
    }


def _step(row: Row[Any]) -> StepRecord:
    return StepRecord(
        run_id=row.run_id,
        phase=row.phase,
        key=row.key,
        status=Status(row.status),
        input_hash=row.input_hash,
        started_at=_utc(row.started_at),
        finished_at=_maybe_utc(row.finished_at),
        outputs=row.outputs,
        error=row.error,
    )


def _host_values(h: HostRecord) -> Values:
    return {
        "status": h.status.value,
        "input_hash": h.input_hash,
        "changed": h.changed,
        "outputs": _json(h.outputs),
        "error": h.error,
        "started_at": _maybe_utc(h.started_at),
        "finished_at": _maybe_utc(h.finished_at),
    }


def _host(row: Row[Any], tasks: tuple[TaskRecord, ...]) -> HostRecord:
    return HostRecord(
        run_id=row.run_id,
        step_key=row.step_key,
        host=row.host,
        status=Status(row.status),
        input_hash=row.input_hash,
        started_at=_utc(row.started_at),
        finished_at=_utc(row.finished_at),
        changed=row.changed,
        outputs=row.outputs,
        error=row.error,
        tasks=tasks,
    )


def _task_values(host_id: object, task: TaskRecord) -> Values:
    return {
        "host_result_id": host_id,
        "name": task.name,
        "status": task.status.value,
        "changed": task.changed,
        "detail": task.detail,
        "duration": task.duration,
    }


def _task(row: Row[Any]) -> TaskRecord:
    return TaskRecord(row.name, Status(row.status), row.changed, row.detail, row.duration)


def _decision_values(d: GateDecision) -> Values:
    return {
        "delivery_id": d.delivery_id,
        "gate": d.gate,
        "by": d.by,
        "role": d.role,
        "comment": d.comment,
        "decided_at": _maybe_utc(d.decided_at),
        "evidence": d.evidence,
        "method": d.method,
        "proof": d.proof,
    }


def _decision(row: Row[Any]) -> GateDecision:
    return GateDecision(
        row.delivery_id, row.gate, row.by, row.role, row.comment, _utc(row.decided_at),
        row.evidence, row.method, row.proof,
    )  # fmt: skip


def _action_item_values(item: ActionItem) -> Values:
    return {
        "delivery_id": item.delivery_id,
        "title": item.title,
        "step_key": item.step_key,
        "opened_by": item.opened_by,
        "opened_at": _maybe_utc(item.opened_at),
        "closed_by": item.closed_by,
        "closed_at": _maybe_utc(item.closed_at),
        "resolution": item.resolution,
        "host": item.host,
        "check": item.check,
        "expected": item.expected,
        "found": item.found,
    }


def _action_item(row: Row[Any]) -> ActionItem:
    return ActionItem(
        delivery_id=row.delivery_id,
        title=row.title,
        opened_by=row.opened_by,
        opened_at=_utc(row.opened_at),
        step_key=row.step_key,
        closed_by=row.closed_by,
        closed_at=_maybe_utc(row.closed_at),
        resolution=row.resolution,
        id=row.id,
        host=row.host,
        check=row.check,
        expected=row.expected,
        found=row.found,
    )


def _note_values(n: EvaluationNote) -> Values:
    return {
        "delivery_id": n.delivery_id,
        "kind": n.kind,
        "text": n.text,
        "by": n.by,
        "created_at": _maybe_utc(n.created_at),
    }


def _note(row: Row[Any]) -> EvaluationNote:
    return EvaluationNote(row.delivery_id, row.kind, row.text, row.by, _utc(row.created_at))


def _checkin_values(c: CheckIn) -> Values:
    return {
        "delivery_id": c.delivery_id,
        "gate": c.gate,
        "by": c.by,
        "comment": c.comment,
        "at": _maybe_utc(c.at),
        "method": c.method,
    }


def _checkin(row: Row[Any]) -> CheckIn:
    return CheckIn(row.delivery_id, row.gate, row.by, row.comment, _utc(row.at), row.method)


def _notification_values(n: NotificationRecord) -> Values:
    return {
        "delivery_id": n.delivery_id,
        "run_id": n.run_id,
        "event": n.event,
        "gate": n.gate,
        "channel": n.channel,
        "recipient": n.recipient,
        "key": n.key,
        "status": n.status,
        "attempts": n.attempts,
        "subject": n.subject,
        "command": n.command,
        "error": n.error,
        "at": _maybe_utc(n.at),
    }


def _notification(row: Row[Any]) -> NotificationRecord:
    return NotificationRecord(
        row.delivery_id, row.run_id, row.event, row.channel, row.recipient, row.key,
        row.status, row.attempts, row.subject, row.command, _utc(row.at), row.gate, row.error,
        row.id,
    )  # fmt: skip


def _audit_values(e: AuditEntry) -> Values:
    return {
        "at": _maybe_utc(e.at),
        "who": e.who,
        "action": e.action,
        "delivery_id": e.delivery_id,
        "run_id": e.run_id,
        "detail": _json(e.detail),
    }


def _audit(row: Row[Any]) -> AuditEntry:
    return AuditEntry(
        _utc(row.at), row.who, row.action, row.delivery_id, row.run_id, row.detail, row.id
    )


def _lock_values(lock: LockRecord) -> Values:
    return {
        "delivery_id": lock.delivery_id,
        "run_id": lock.run_id,
        "holder": lock.holder,
        "host": lock.host,
        "pid": lock.pid,
        "since": _maybe_utc(lock.since),
    }


def _lock(row: Row[Any]) -> LockRecord:
    return LockRecord(row.delivery_id, row.run_id, row.holder, row.host, row.pid, _utc(row.since))
