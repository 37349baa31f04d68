"""The ``RunStore`` port: everything the engine and the command line keep about deliveries.

Implementations: ``SqlRunStore`` (SQLite or PostgreSQL) and ``InMemoryRunStore`` (in
``orchestrator.testing``); one contract suite (``orchestrator.testing.contracts.store``) holds both
to the same behaviour. Every method is one transaction. The audit log and the run logs are
append-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

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
)


class UnknownParent(LookupError):
    """A record names a delivery or a run the store does not hold: a run, gate decision, action
    item, evaluation note, check-in or notification needs its delivery saved first; a phase,
    step, host result or log line needs its run. Nothing of the record is kept."""

    def __init__(self) -> None:
        super().__init__("the record names a delivery or a run the store does not hold")


class DeliveryStore(Protocol):
    """Deliveries: the spec they last ran with."""

    def save_delivery(self, delivery: DeliveryRecord) -> None: ...
    def get_delivery(self, delivery_id: str) -> DeliveryRecord | None: ...
    def list_deliveries(self) -> list[DeliveryRecord]:
        """Every delivery, most recently run first."""
        ...


class RunHistory(Protocol):
    """Runs and the phases, steps, hosts and tasks within them."""

    def save_run(self, run: RunRecord) -> None: ...
    def get_run(self, run_id: str) -> RunRecord | None: ...
    def list_runs(self, delivery_id: str | None = None, limit: int = 50) -> list[RunRecord]: ...
    def save_phase(self, phase: PhaseRecord) -> None: ...
    def list_phases(self, run_id: str) -> list[PhaseRecord]: ...
    def save_step(self, step: StepRecord) -> None: ...
    def list_steps(self, run_id: str) -> list[StepRecord]: ...
    def latest_step(self, delivery_id: str, key: str) -> StepRecord | None: ...
    def save_host(self, host: HostRecord) -> None: ...
    def list_hosts(self, run_id: str, step_key: str | None = None) -> list[HostRecord]: ...


class Decisions(Protocol):
    """Gate decisions, action items, evaluation notes and check-ins: what people decided and
    found."""

    def record_decision(self, decision: GateDecision) -> None: ...
    def list_decisions(self, delivery_id: str) -> list[GateDecision]: ...
    def open_action_item(self, item: ActionItem) -> ActionItem: ...
    def close_action_item(self, item_id: int, by: str, resolution: str) -> ActionItem: ...
    def list_action_items(self, delivery_id: str) -> list[ActionItem]: ...
    def add_evaluation_note(self, note: EvaluationNote) -> None: ...
    def list_evaluation_notes(self, delivery_id: str) -> list[EvaluationNote]: ...
    def add_checkin(self, checkin: CheckIn) -> None: ...
    def list_checkins(self, delivery_id: str) -> list[CheckIn]: ...


class NotificationLog(Protocol):
    """The notifications sent (or not) to the people who must act when a run stops."""

    def add_notification(self, record: NotificationRecord) -> NotificationRecord:
        """Keep ``record``; it comes back with its id."""
        ...

    def list_notifications(self, delivery_id: str) -> list[NotificationRecord]:
        """The delivery's notifications, oldest first."""
        ...


class AuditLog(Protocol):
    """The append-only record of who did what, and each run's log lines."""

    def append_audit(self, entry: AuditEntry) -> AuditEntry: ...
    def list_audit(self, delivery_id: str | None = None) -> list[AuditEntry]: ...
    def append_log_lines(self, run_id: str, lines: Sequence[str]) -> None: ...
    def read_log_lines(self, run_id: str) -> list[str]: ...


class Locks(Protocol):
    """One run per delivery at a time."""

    def acquire_lock(self, lock: LockRecord) -> LockRecord | None:
        """Take the lock; ``None`` when taken, else the lock that is in the way."""
        ...

    def release_lock(self, delivery_id: str, run_id: str) -> bool:
        """Give the lock back if ``run_id`` holds it; whether it did."""
        ...

    def break_lock(self, lock: LockRecord) -> bool:
        """Remove exactly ``lock`` (not one taken since); whether it was removed."""
        ...

    def get_lock(self, delivery_id: str) -> LockRecord | None: ...


class SharedState(Protocol):
    """Per delivery, values every controller must see the same (``DeliveryVault`` keeps its
    sealed secrets and pins here). The store holds them as given: it never sees a plain secret."""

    def claim_state(self, delivery_id: str, kind: StateKind, name: str, value: str) -> str:
        """Keep ``value`` under ``name`` unless a value is kept there already; the kept one.

        Decided by the database's uniqueness: of two controllers claiming one name at the same
        moment, both get the value of the one that came first."""
        ...

    def list_state(self, delivery_id: str, kind: StateKind) -> dict[str, str]:
        """The values kept for the delivery, by name."""
        ...

    def forget_state(self, delivery_id: str) -> int:
        """Remove every value kept for the delivery; how many there were."""
        ...


class RunStore(
    DeliveryStore, RunHistory, Decisions, NotificationLog, AuditLog, Locks, SharedState, Protocol
):
    """Everything kept about deliveries, their runs, decisions, notifications, locks and shared
    state."""

    def close(self) -> None: ...
