"""Recording a decision at a gate: the rule is checked; the decision, or the refusal, audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from orchestrator.engine.delivery import people_of
from orchestrator.engine.errors import BadInput, GateRefused
from orchestrator.engine.execution import utc_now
from orchestrator.engine.gates import Gate, People, Role, check_approver, gate_named
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import AuditEntry, DeliveryRecord, GateDecision

log = structlog.get_logger("orchestrator.engine")


def approve(  # noqa: PLR0913 - the decision's parts, each asked for on the command line
    store: RunStore,
    delivery_id: str,
    gate_name: str,
    by: str,
    comment: str,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> GateDecision:
    """Record ``by``'s approval of a gate; ``GateRefused`` (audited) when the rule forbids it."""
    delivery = _known(store, delivery_id)
    gate = gate_named(gate_name)
    if not by.strip() or not comment.strip():
        raise BadInput("an approval needs a name (--by) and a comment (--comment)")
    role = _allowed(store, delivery, gate, by, clock)
    decision = GateDecision(delivery_id, gate.name, by, role.value, comment, clock())
    store.record_decision(decision)
    _audit(store, decision, "gate_approved", role=role.value, comment=comment)
    log.info("gate_approved", delivery=delivery_id, gate=gate.name, by=by, role=role.value)
    return decision


def _known(store: RunStore, delivery_id: str) -> DeliveryRecord:
    delivery = store.get_delivery(delivery_id)
    if delivery is None:
        raise BadInput(f"no delivery {delivery_id} in the run store; `plan` or `run` it first")
    return delivery


def _allowed(
    store: RunStore, delivery: DeliveryRecord, gate: Gate, by: str, clock: Callable[[], datetime]
) -> Role:
    """The role ``by`` approves in; a refusal is audited and raised."""
    try:
        return _rule(store, delivery, gate, by)
    except GateRefused as exc:
        attempt = GateDecision(delivery.id, gate.name, by, "", "", clock())
        _audit(store, attempt, "gate_approval_refused", reason=str(exc))
        log.warning("gate_approval_refused", delivery=delivery.id, gate=gate.name, by=by)
        raise


def _rule(store: RunStore, delivery: DeliveryRecord, gate: Gate, by: str) -> Role:
    role = check_approver(gate, by, People(*people_of(delivery)))
    open_items = [item for item in store.list_action_items(delivery.id) if item.open]
    if gate.blocked_by_open_items and open_items:
        titles = ", ".join(f"#{item.id} {item.title}" for item in open_items)
        raise GateRefused(f"{gate.name} cannot be signed off while action items are open: {titles}")
    return role


def _audit(store: RunStore, decision: GateDecision, action: str, **detail: str) -> None:
    entry = AuditEntry(
        decision.decided_at, decision.by, action, decision.delivery_id, None,
        {"gate": decision.gate, **detail},
    )  # fmt: skip
    store.append_audit(entry)
