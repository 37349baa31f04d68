"""A delivery's seven-phase record, read from the run store: every phase as the latest apply run
that reached it left it, every gate with who decided, when and why, the action items, the
evaluation, and whether the delivery is done. ``orchestrator status`` shows it; phase 7's final
report (``golive.report``) writes it down for the operations team.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from orchestrator.engine.approvals import evidence_now
from orchestrator.engine.checkins import waiting_since
from orchestrator.engine.delivery import people_of
from orchestrator.engine.errors import BadInput
from orchestrator.engine.gates import GATES, GateState, People, gate_state, operations_team
from orchestrator.engine.status import Mode, Status
from orchestrator.phases import phase_names
from orchestrator.phases.handover import CONTRACT
from orchestrator.phases.release import released
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import (
    ActionItem,
    AuditEntry,
    CheckIn,
    EvaluationNote,
    LockRecord,
    NotificationRecord,
    PhaseRecord,
    RunRecord,
)


@dataclass(frozen=True, slots=True)
class GateSummary:
    """A gate as ``status`` shows it."""

    gate: str
    passed: bool
    needs: str
    approved_by: str | None
    blockers: tuple[str, ...]
    evidence: str = ""  # what an approval signs now (its evidence step's results), if anything
    stale_by: str | None = None  # who signed other evidence before the checks found otherwise
    decided_at: datetime | None = None  # when the approval was given
    comment: str = ""  # what the approver said was checked
    role: str = ""  # the role the approver approved in
    waiting_since: datetime | None = None  # when the latest runs began to wait here
    checkins: int = 0  # check-ins recorded during the wait (``orchestrator checkin``)
    last_checkin: CheckIn | None = None


@dataclass(frozen=True, slots=True)
class PhaseSummary:
    """A phase as ``status`` shows it: its status in the latest apply run that reached it."""

    number: int
    name: str
    status: Status
    run_id: str | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StatusSummary:
    """A delivery as ``status`` shows it."""

    delivery: str
    lead_engineer: str
    delivery_manager: str
    spec_hash: str
    latest_run: RunRecord | None
    phases: tuple[PhaseRecord, ...]  # of the latest run
    gates: tuple[GateSummary, ...]
    open_action_items: tuple[ActionItem, ...]
    lock: LockRecord | None
    in_production_since: str | None = None  # the contract start, once phase 5 made it effective
    record: tuple[PhaseSummary, ...] = ()  # every phase, from the latest run that reached it
    closed_action_items: int = 0
    evaluation: tuple[EvaluationNote, ...] = ()
    done: bool = False  # every phase succeeded (or was skipped) and every gate passed
    released: AuditEntry | None = None  # the release since the latest run: all it made is gone
    notifications: tuple[NotificationRecord, ...] = ()  # of the runs' stops, sent or failed


def status_of(store: RunStore, delivery_id: str) -> StatusSummary:
    record = store.get_delivery(delivery_id)
    if record is None:
        raise BadInput(f"no delivery {delivery_id} in the run store")
    people = People(*people_of(record), operations_team(record.spec))
    applied = [r for r in store.list_runs(delivery_id) if r.mode is Mode.APPLY]
    all_items = store.list_action_items(delivery_id)
    items = tuple(item for item in all_items if item.open)
    decisions = store.list_decisions(delivery_id)
    evidence = {gate.name: evidence_now(store, delivery_id, gate) for gate in GATES.values()}
    checkins = store.list_checkins(delivery_id)
    gates = tuple(
        waiting(
            gate_summary(
                gate_state(gate, decisions, items, evidence=evidence[gate.name]),
                people,
                evidence[gate.name],
            ),
            applied,
            checkins,
        )
        for gate in GATES.values()
        if gate.applies(record.spec)
    )
    every_phase = phase_record(store, applied)
    return StatusSummary(
        delivery=record.id,
        lead_engineer=record.lead_engineer,
        delivery_manager=record.delivery_manager,
        spec_hash=record.spec_hash,
        latest_run=applied[0] if applied else None,
        phases=tuple(store.list_phases(applied[0].id)) if applied else (),
        gates=gates,
        open_action_items=items,
        lock=store.get_lock(delivery_id),
        in_production_since=contract_start(store, delivery_id),
        record=every_phase,
        closed_action_items=len(all_items) - len(items),
        evaluation=tuple(store.list_evaluation_notes(delivery_id)),
        done=all(p.status.done for p in every_phase) and all(g.passed for g in gates),
        released=released(store, delivery_id),
        notifications=tuple(store.list_notifications(delivery_id)),
    )


def waiting(
    summary: GateSummary, applied: Sequence[RunRecord], checkins: Sequence[CheckIn]
) -> GateSummary:
    """``summary`` with how long the delivery has waited at the gate and its check-ins."""
    if summary.passed:
        return summary
    mine = [c for c in checkins if c.gate == summary.gate]
    return replace(summary, waiting_since=waiting_since(applied, summary.gate),
                   checkins=len(mine), last_checkin=mine[-1] if mine else None)  # fmt: skip


def phase_record(store: RunStore, applied: Sequence[RunRecord]) -> tuple[PhaseSummary, ...]:
    """Every phase, as the latest apply run that reached it left it (``pending`` if none did);
    ``applied`` is newest first."""
    latest: dict[int, PhaseRecord] = {}
    for run_record in applied:
        for phase in store.list_phases(run_record.id):
            latest.setdefault(phase.number, phase)
    return tuple(
        PhaseSummary(number, name, latest[number].status, latest[number].run_id,
                     latest[number].finished_at)
        if number in latest else PhaseSummary(number, name, Status.PENDING)
        for number, name in phase_names().items()
    )  # fmt: skip


def contract_start(store: RunStore, delivery_id: str) -> str | None:
    """The contract start ``handover.contract_effective`` recorded, once it has run."""
    step = store.latest_step(delivery_id, CONTRACT)
    start = step.outputs.get("contract_start") if step and step.status.done else None
    return start if isinstance(start, str) else None


def gate_summary(state: GateState, people: People, evidence: str = "") -> GateSummary:
    approved_by = state.approval.by if state.approval else None
    needs = f"{state.gate.needs}, from {state.gate.who_may(people)}"
    stale_by = state.stale.by if state.stale else None
    approval = state.approval
    return GateSummary(state.gate.name, state.passed, needs, approved_by, state.blockers,
                       evidence, stale_by, approval.decided_at if approval else None,
                       approval.comment if approval else "",
                       approval.role if approval else "")  # fmt: skip
