"""What the viewer's pages show, read from the run store: pure functions of the records.

The delivery's record is ``phases.record.status_of`` (what ``orchestrator status`` prints) and a
run is ``engine.report.RunReport`` (what ``orchestrator show`` prints); this module only adds what
a page needs on top: the deliveries' list and its filters, durations, the host x task matrix
and the run's log lines as fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from orchestrator.engine.gates import GATES
from orchestrator.engine.report import RunReport
from orchestrator.engine.status import Status
from orchestrator.logging import redact_text, redact_value
from orchestrator.phases.handover import DOCUMENT
from orchestrator.phases.handover_document import sha256
from orchestrator.phases.record import PhaseSummary, StatusSummary, status_of
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import (
    DeliveryRecord,
    HostRecord,
    PhaseRecord,
    RunRecord,
    StepRecord,
    TaskRecord,
)

#: A delivery's overall state on the deliveries page, beside a run's statuses.
DONE, NOT_STARTED = "done", "not started"


def duration(started: datetime | None, finished: datetime | None) -> str:
    """``1h 02m``, ``3m 05s``, ``4.2s``; empty while not finished."""
    if started is None or finished is None:
        return ""
    return took((finished - started).total_seconds())


def took(seconds: float | None) -> str:
    """``seconds`` as ``duration`` shows them; empty when not known."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"


# the deliveries page


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One delivery on the deliveries page."""

    id: str
    customer: str
    state: str  # ``done``, ``not started``, else the latest apply run's status
    phase: PhaseSummary | None  # the first phase not done
    waiting_for: tuple[str, ...]  # the roles a waiting gate needs (``delivery_manager``, ...)
    gate: str  # the gate it waits at, if it waits
    latest_run: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    """The deliveries page's filters; empty fields match everything."""

    customer: str = ""  # part of the customer's name or the delivery id, any case
    state: str = ""
    phase: int | None = None
    waiting_for: str = ""

    def matches(self, row: DeliveryRow) -> bool:
        """Whether ``row`` passes every filter that is set."""
        wanted = self.customer.casefold()
        return (
            (not wanted or wanted in row.customer.casefold() or wanted in row.id.casefold())
            and (not self.state or row.state == self.state)
            and (self.phase is None or (row.phase is not None and row.phase.number == self.phase))
            and (not self.waiting_for or self.waiting_for in row.waiting_for)
        )


def customer_of(record: DeliveryRecord) -> str:
    """The customer's name as the delivery's spec gives it."""
    customer = record.spec.get("customer")
    name = customer.get("name") if isinstance(customer, Mapping) else None
    return name if isinstance(name, str) else ""


def delivery_row(record: DeliveryRecord, summary: StatusSummary) -> DeliveryRow:
    """A delivery's row, from its record as ``status`` reads it."""
    latest = summary.latest_run
    state = DONE if summary.done else (latest.status.value if latest else NOT_STARTED)
    phase = next((p for p in summary.record if not p.status.done), None)
    waiting = next((g for g in summary.gates if not g.passed and g.waiting_since), None)
    roles = tuple(sorted(role.value for role in GATES[waiting.gate].allowed)) if waiting else ()
    return DeliveryRow(record.id, customer_of(record), state, phase, roles,
                       waiting.gate if waiting else "", latest.id if latest else "",
                       record.updated_at)  # fmt: skip


def deliveries(store: RunStore) -> list[DeliveryRow]:
    """Every delivery's row, most recently run first."""
    return [delivery_row(record, status_of(store, record.id)) for record in store.list_deliveries()]


# one delivery


def timeline(
    store: RunStore, summary: StatusSummary
) -> list[tuple[PhaseSummary, PhaseRecord | None]]:
    """Every phase with the record of the run that last reached it (its start and end)."""
    runs = {p.run_id for p in summary.record if p.run_id}
    records = {(r.run_id, r.number): r for run in runs for r in store.list_phases(run)}
    return [(p, records.get((p.run_id or "", p.number))) for p in summary.record]


@dataclass(frozen=True, slots=True)
class HandoverDocument:
    """The handover document as phase 5 recorded it: where it was written and its hash; its
    Markdown when this machine has the file and it is the one recorded."""

    path: str
    sha256: str
    run_id: str
    markdown: str | None


def handover_document(store: RunStore, delivery_id: str) -> HandoverDocument | None:
    """The delivery's handover document, once ``handover.document`` has written it."""
    step = store.latest_step(delivery_id, DOCUMENT)
    if step is None or not step.status.done:
        return None
    path, digest = str(step.outputs.get("markdown") or ""), str(step.outputs.get("sha256") or "")
    return HandoverDocument(path, digest, step.run_id, _recorded_text(path, digest))


def _recorded_text(path: str, digest: str) -> str | None:
    """The file's text if it is readable here and its hash is the recorded one."""
    try:
        text = Path(path).read_text(encoding="utf-8") if path else None
    except OSError:
        return None
    return text if text is not None and sha256(text) == digest else None


# one run


def task_outcome(task: TaskRecord) -> str:
    """The task's outcome in Ansible's words: ``ok``, ``changed``, ``failed``, ``unreachable``
    (recorded as ``crashed``) or ``skipped``."""
    if task.status is Status.SUCCEEDED:
        return "changed" if task.changed else "ok"
    return {Status.FAILED: "failed", Status.CRASHED: "unreachable"}.get(task.status, "skipped")


def task_took(task: TaskRecord) -> str:
    """How long the task took on its host (``1.2s``), for a cell; empty when not recorded."""
    return took(task.duration)


def task_seconds(task: TaskRecord) -> str:
    """How long the task took, exactly as recorded, for a tooltip; empty when not recorded."""
    return "" if task.duration is None else f"took {task.duration} s"


@dataclass(frozen=True, slots=True)
class Matrix:
    """One step's hosts x tasks: ``cells[host][task]`` is the host's task of that name."""

    step: StepRecord
    hosts: tuple[HostRecord, ...]
    tasks: tuple[str, ...]
    cells: Mapping[str, Mapping[str, TaskRecord]]


def matrices(report: RunReport) -> list[Matrix]:
    """A matrix for every step that ran tasks on hosts, in the order the steps ran."""
    found = []
    for step in report.steps:
        hosts = report.hosts_of(step.key)
        names = tuple(dict.fromkeys(task.name for host in hosts for task in host.tasks))
        if names:
            cells = {host.host: {task.name: task for task in host.tasks} for host in hosts}
            found.append(Matrix(step, hosts, names, cells))
    return found


def under_way(store: RunStore, run: RunRecord) -> bool:
    """Whether ``run`` is being carried out: recorded ``running`` and holding its delivery's lock
    (a run whose process was killed holds none once another run or a lock break settled it)."""
    lock = store.get_lock(run.delivery_id) if run.status is Status.RUNNING else None
    return lock is not None and lock.run_id == run.id


def failed_hosts(report: RunReport) -> list[HostRecord]:
    """The hosts whose step failed or crashed, with their errors."""
    return [host for host in report.hosts if host.status in {Status.FAILED, Status.CRASHED}]


# a run's log lines


@dataclass(frozen=True, slots=True)
class LogLine:
    """One JSON log line, its fields apart."""

    timestamp: str
    level: str
    event: str
    phase: str
    step: str
    host: str
    rest: str  # the other fields, ``key=value``


_SHOWN_APART = frozenset({"timestamp", "level", "event", "phase", "step", "host", "run",
                          "delivery"})  # fmt: skip


def log_line(raw: str) -> LogLine:
    """``raw`` read as a JSON log line; a line that is not JSON is its own event."""
    try:
        fields = json.loads(raw)
    except json.JSONDecodeError:
        fields = None
    if not isinstance(fields, dict):
        return LogLine("", "", redact_text(raw), "", "", "", "")
    censored = redact_value(fields)  # by key too: a ``password`` field's value, whatever it is
    fields = censored if isinstance(censored, dict) else {}
    rest = " ".join(f"{k}={_text(v)}" for k, v in sorted(fields.items()) if k not in _SHOWN_APART)
    got = {key: _text(fields.get(key, "")) for key in _SHOWN_APART}
    return LogLine(got["timestamp"], got["level"], got["event"], got["phase"], got["step"],
                   got["host"], rest)  # fmt: skip


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


@dataclass(frozen=True, slots=True)
class LogFilter:
    """The log's filters; empty fields match everything."""

    phase: str = ""
    step: str = ""
    host: str = ""
    level: str = ""

    def matches(self, line: LogLine) -> bool:
        """Whether ``line`` passes every filter that is set."""
        return all(not wanted or wanted == got for wanted, got in (
            (self.phase, line.phase), (self.step, line.step), (self.host, line.host),
            (self.level, line.level)))  # fmt: skip


def choices(lines: Iterable[LogLine]) -> dict[str, list[str]]:
    """The values each filter can take in ``lines``."""
    seen: dict[str, set[str]] = {"phase": set(), "step": set(), "host": set(), "level": set()}
    for line in lines:
        for name, value in (("phase", line.phase), ("step", line.step), ("host", line.host),
                            ("level", line.level)):  # fmt: skip
            if value:
                seen[name].add(value)
    return {name: sorted(values) for name, values in seen.items()}


def log_lines(raw: Sequence[str]) -> list[LogLine]:
    """Every stored line, read."""
    return [log_line(line) for line in raw]
