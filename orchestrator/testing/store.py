"""``InMemoryRunStore``: the ``RunStore`` port in memory, held honest by the store contract
(``orchestrator.testing.contracts.store``) that ``SqlRunStore`` passes on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from orchestrator.engine.status import Mode
from orchestrator.store.protocol import UnknownParent
from orchestrator.store.records import (
    ActionItem,
    AuditEntry,
    CheckIn,
    DeliveryRecord,
    EvaluationNote,
    GateDecision,
    HostRecord,
    JsonMap,
    LockRecord,
    NotificationRecord,
    PhaseRecord,
    RunRecord,
    StateKind,
    StepRecord,
)


def _copy(value: JsonMap) -> JsonMap:
    """What a JSON column gives back: a fresh copy, tuples turned into lists."""
    copied: JsonMap = json.loads(json.dumps(value))
    return copied


class InMemoryRunStore:
    """The run store in memory: same behaviour as ``SqlRunStore``, no database."""

    def __init__(self) -> None:
        self.deliveries: dict[str, DeliveryRecord] = {}
        self.runs: dict[str, RunRecord] = {}
        self.phases: dict[tuple[str, int], PhaseRecord] = {}
        self.steps: dict[tuple[str, str], StepRecord] = {}
        self.hosts: dict[tuple[str, str, str], HostRecord] = {}
        self.decisions: list[GateDecision] = []
        self.action_items: dict[int, ActionItem] = {}
        self.notes: list[EvaluationNote] = []
        self.checkins: list[CheckIn] = []
        self.notifications: list[NotificationRecord] = []
        self.audit: list[AuditEntry] = []
        self.logs: dict[str, list[str]] = {}
        self.locks: dict[str, LockRecord] = {}
        self.state: dict[tuple[str, StateKind, str], str] = {}
        self._state_lock = threading.Lock()  # threaded runners share one store

    def close(self) -> None:
        """Nothing to close."""

    def save_delivery(self, delivery: DeliveryRecord) -> None:
        self.deliveries[delivery.id] = replace(delivery, spec=_copy(delivery.spec))

    def get_delivery(self, delivery_id: str) -> DeliveryRecord | None:
        return self.deliveries.get(delivery_id)

    def list_deliveries(self) -> list[DeliveryRecord]:
        return sorted(self.deliveries.values(), key=lambda d: (-d.updated_at.timestamp(), d.id))

    def _delivery_held(self, delivery_id: str) -> None:
        if delivery_id not in self.deliveries:
            raise UnknownParent

    def _run_held(self, run_id: str) -> None:
        if run_id not in self.runs:
            raise UnknownParent

    def save_run(self, run: RunRecord) -> None:
        self._delivery_held(run.delivery_id)
        self.runs[run.id] = run

    def get_run(self, run_id: str) -> RunRecord | None:
        return self.runs.get(run_id)

    def list_runs(self, delivery_id: str | None = None, limit: int = 50) -> list[RunRecord]:
        found = [r for r in self.runs.values() if delivery_id in {None, r.delivery_id}]
        return sorted(found, key=lambda r: (r.started_at, r.id), reverse=True)[:limit]

    def save_phase(self, phase: PhaseRecord) -> None:
        self._run_held(phase.run_id)
        self.phases[phase.run_id, phase.number] = phase

    def list_phases(self, run_id: str) -> list[PhaseRecord]:
        return sorted((p for p in self.phases.values() if p.run_id == run_id), key=_number)

    def save_step(self, step: StepRecord) -> None:
        self._run_held(step.run_id)
        self.steps[step.run_id, step.key] = replace(step, outputs=_copy(step.outputs))

    def list_steps(self, run_id: str) -> list[StepRecord]:
        return [s for s in self.steps.values() if s.run_id == run_id]

    def latest_step(self, delivery_id: str, key: str) -> StepRecord | None:
        applied = {r.id for r in self.runs.values() if _applied_to(r, delivery_id)}
        found = [s for s in self.steps.values() if s.key == key and s.run_id in applied]
        return found[-1] if found else None

    def save_host(self, host: HostRecord) -> None:
        self._run_held(host.run_id)
        self.hosts[host.run_id, host.step_key, host.host] = replace(
            host, outputs=_copy(host.outputs)
        )

    def list_hosts(self, run_id: str, step_key: str | None = None) -> list[HostRecord]:
        hosts = [h for h in self.hosts.values() if h.run_id == run_id]
        return [h for h in hosts if step_key in {None, h.step_key}]

    def record_decision(self, decision: GateDecision) -> None:
        self._delivery_held(decision.delivery_id)
        self.decisions.append(decision)

    def list_decisions(self, delivery_id: str) -> list[GateDecision]:
        return [d for d in self.decisions if d.delivery_id == delivery_id]

    def open_action_item(self, item: ActionItem) -> ActionItem:
        self._delivery_held(item.delivery_id)
        opened = replace(item, id=len(self.action_items) + 1)
        self.action_items[len(self.action_items) + 1] = opened
        return opened

    def close_action_item(self, item_id: int, by: str, resolution: str) -> ActionItem:
        item = self.action_items[item_id]
        if item.open:
            item = replace(item, closed_by=by, closed_at=datetime.now(UTC), resolution=resolution)
            self.action_items[item_id] = item
        return item

    def list_action_items(self, delivery_id: str) -> list[ActionItem]:
        return [i for i in self.action_items.values() if i.delivery_id == delivery_id]

    def add_evaluation_note(self, note: EvaluationNote) -> None:
        self._delivery_held(note.delivery_id)
        self.notes.append(note)

    def list_evaluation_notes(self, delivery_id: str) -> list[EvaluationNote]:
        return [n for n in self.notes if n.delivery_id == delivery_id]

    def add_checkin(self, checkin: CheckIn) -> None:
        self._delivery_held(checkin.delivery_id)
        self.checkins.append(checkin)

    def list_checkins(self, delivery_id: str) -> list[CheckIn]:
        return [c for c in self.checkins if c.delivery_id == delivery_id]

    def add_notification(self, record: NotificationRecord) -> NotificationRecord:
        self._delivery_held(record.delivery_id)
        with self._state_lock:  # notifications are recorded from their senders' threads
            kept = replace(record, id=len(self.notifications) + 1)
            self.notifications.append(kept)
        return kept

    def list_notifications(self, delivery_id: str) -> list[NotificationRecord]:
        return [n for n in self.notifications if n.delivery_id == delivery_id]

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        appended = replace(entry, id=len(self.audit) + 1, detail=_copy(entry.detail))
        self.audit.append(appended)
        return appended

    def list_audit(self, delivery_id: str | None = None) -> list[AuditEntry]:
        return [e for e in self.audit if delivery_id in {None, e.delivery_id}]

    def append_log_lines(self, run_id: str, lines: Sequence[str]) -> None:
        self._run_held(run_id)
        self.logs.setdefault(run_id, []).extend(lines)

    def read_log_lines(self, run_id: str) -> list[str]:
        return list(self.logs.get(run_id, []))

    def acquire_lock(self, lock: LockRecord) -> LockRecord | None:
        held = self.locks.setdefault(lock.delivery_id, lock)
        return None if held is lock else held

    def release_lock(self, delivery_id: str, run_id: str) -> bool:
        held = self.locks.get(delivery_id)
        return held is not None and held.run_id == run_id and self._unlock(delivery_id)

    def break_lock(self, lock: LockRecord) -> bool:
        held = self.locks.get(lock.delivery_id)
        return held is not None and _same_lock(held, lock) and self._unlock(lock.delivery_id)

    def get_lock(self, delivery_id: str) -> LockRecord | None:
        return self.locks.get(delivery_id)

    def _unlock(self, delivery_id: str) -> bool:
        del self.locks[delivery_id]
        return True

    def claim_state(self, delivery_id: str, kind: StateKind, name: str, value: str) -> str:
        with self._state_lock:
            return self.state.setdefault((delivery_id, kind, name), value)

    def list_state(self, delivery_id: str, kind: StateKind) -> dict[str, str]:
        with self._state_lock:
            held = [(n, v) for (d, k, n), v in self.state.items() if (d, k) == (delivery_id, kind)]
        return dict(sorted(held))

    def forget_state(self, delivery_id: str) -> int:
        with self._state_lock:
            gone = [key for key in self.state if key[0] == delivery_id]
            for key in gone:
                del self.state[key]
        return len(gone)


def _number(phase: PhaseRecord) -> int:
    return phase.number


def _applied_to(run: RunRecord, delivery_id: str) -> bool:
    return run.delivery_id == delivery_id and run.mode is Mode.APPLY


def _same_lock(held: LockRecord, lock: LockRecord) -> bool:
    return (held.run_id, held.host, held.pid) == (lock.run_id, lock.host, lock.pid)
