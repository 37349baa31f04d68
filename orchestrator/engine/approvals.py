"""Recording a decision at a gate: the approver authenticated, the rule checked, the evidence
named; the decision, or the refusal, audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from orchestrator.engine.delivery import people_of
from orchestrator.engine.errors import BadInput, GateRefused
from orchestrator.engine.execution import utc_now
from orchestrator.engine.gates import (
    Gate,
    People,
    Role,
    check_approver,
    gate_named,
    operations_team,
)
from orchestrator.engine.ports.identity import Approver, Authenticator, statement
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import ActionItem, AuditEntry, DeliveryRecord, GateDecision

log = structlog.get_logger("orchestrator.engine")


def approve(  # noqa: PLR0913 - the decision's parts, each asked for on the command line
    store: RunStore,
    delivery_id: str,
    gate_name: str,
    authenticator: Authenticator,
    comment: str,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> GateDecision:
    """Record the authenticated approver's approval of a gate, signing the gate's evidence as it
    is now; ``GateRefused`` (audited) when the rule forbids it."""
    delivery = _known(store, delivery_id)
    gate = gate_named(gate_name)
    if gate.recorded_with is not None:
        raise BadInput(
            f"{gate.name} is not approved: it passes once {gate.needs} is recorded, with "
            f"`{gate.recorded_with} {delivery_id}`"
        )
    if not comment.strip():
        raise BadInput("an approval needs a comment (--comment): what was checked")
    evidence = current_evidence(store, delivery_id, gate)
    approver = authenticator.authenticate(statement(delivery_id, gate.name, evidence, comment))
    role = _allowed(store, delivery, gate, approver, clock)
    decision = GateDecision(
        delivery_id, gate.name, approver.name, role.value, comment, clock(), evidence,
        approver.method, approver.proof,
    )  # fmt: skip
    store.record_decision(decision)
    team = {"team": operations_team(delivery.spec)} if role is Role.OPERATIONS else {}
    _audit(store, decision, "gate_approved", role=role.value, comment=comment,
           login=approver.person.login, method=approver.method, evidence=evidence,
           **team)  # fmt: skip
    log.info("gate_approved", delivery=delivery_id, gate=gate.name, by=approver.name,
             role=role.value, method=approver.method)  # fmt: skip
    return decision


def evidence_now(store: RunStore, delivery_id: str, gate: Gate) -> str:
    """The ``evidence`` output of the gate's evidence step as last recorded; empty when the gate
    has none or the step has not run to the end."""
    if gate.evidence_step is None:
        return ""
    step = store.latest_step(delivery_id, gate.evidence_step)
    evidence = step.outputs.get("evidence") if step is not None and step.status.done else None
    return evidence if isinstance(evidence, str) else ""


def current_evidence(store: RunStore, delivery_id: str, gate: Gate) -> str:
    """The evidence an approval of ``gate`` signs now (``evidence_now``); ``BadInput`` when the
    gate has an evidence step that has not run to the end."""
    if gate.evidence_step is None:
        return ""
    evidence = evidence_now(store, delivery_id, gate)
    if not evidence:
        raise BadInput(
            f"{gate.name} signs the results of {gate.evidence_step}, which has not run to the "
            f"end for {delivery_id}: run its phase first"
        )
    return evidence


def _known(store: RunStore, delivery_id: str) -> DeliveryRecord:
    delivery = store.get_delivery(delivery_id)
    if delivery is None:
        raise BadInput(f"no delivery {delivery_id} in the run store; `plan` or `run` it first")
    return delivery


def _allowed(
    store: RunStore,
    delivery: DeliveryRecord,
    gate: Gate,
    approver: Approver,
    clock: Callable[[], datetime],
) -> Role:
    """The role the approver approves in; a refusal is audited and raised."""
    try:
        return _rule(store, delivery, gate, approver)
    except GateRefused as exc:
        attempt = GateDecision(delivery.id, gate.name, approver.name, "", "", clock())
        _audit(store, attempt, "gate_approval_refused", reason=str(exc),
               login=approver.person.login, method=approver.method)  # fmt: skip
        log.warning("gate_approval_refused", delivery=delivery.id, gate=gate.name,
                    by=approver.name)  # fmt: skip
        raise


def _rule(store: RunStore, delivery: DeliveryRecord, gate: Gate, approver: Approver) -> Role:
    role = check_approver(
        gate, approver, People(*people_of(delivery), operations_team(delivery.spec))
    )
    blocking = gate.blocking(store.list_action_items(delivery.id))
    if blocking:
        titles = ", ".join(f"#{item.id} {item.title}" for item in blocking)
        raise GateRefused(f"{gate.name} cannot be signed off while action items are open: {titles}")
    return role


def _audit(store: RunStore, decision: GateDecision, action: str, **detail: str) -> None:
    entry = AuditEntry(
        decision.decided_at, decision.by, action, decision.delivery_id, None,
        {"gate": decision.gate, **detail},
    )  # fmt: skip
    store.append_audit(entry)


def close_by_hand(  # noqa: PLR0913 - the closing's parts, each asked for on the command line
    store: RunStore,
    delivery_id: str,
    item_id: int,
    authenticator: Authenticator,
    comment: str,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> ActionItem:
    """Close an action item with a comment, as an authenticated person (audited); a check that
    still fails and finds the same thing then counts as accepted (``orchestrator.engine.
    findings``). A CI account closes nothing by hand."""
    _known(store, delivery_id)
    if not comment.strip():
        raise BadInput("closing an action item needs a comment (--comment): what was done")
    item = next((i for i in store.list_action_items(delivery_id) if i.id == item_id), None)
    if item is None:
        raise BadInput(f"delivery {delivery_id} has no action item #{item_id}")
    if not item.open:
        raise BadInput(f"action item #{item_id} was closed by {item.closed_by}: {item.resolution}")
    text = f"close action item #{item_id} of {delivery_id}\ncomment: {comment}\n"
    approver = authenticator.authenticate(text)
    if approver.holds("ci"):
        raise GateRefused(f"{approver} is a CI account: action items are closed by people")
    closed = store.close_action_item(item_id, approver.name, comment)
    entry = AuditEntry(clock(), approver.name, "action_item_closed_by_hand", delivery_id, None,
                       {"item": item_id, "title": item.title, "comment": comment,
                        "login": approver.person.login, "method": approver.method})  # fmt: skip
    store.append_audit(entry)
    log.info("action_item_closed_by_hand", delivery=delivery_id, item=item_id, by=approver.name)
    return closed
