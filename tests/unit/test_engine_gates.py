"""Gates: the run waits, says what is needed and from whom; approvals follow the rules."""

from __future__ import annotations

import pytest

from orchestrator.engine import (
    BadInput,
    GateRefused,
    PhaseRange,
    RunRequest,
    Status,
    approve,
)
from orchestrator.store import ActionItem
from orchestrator.testing import (
    T0,
    EngineBench,
    InMemoryRunStore,
    approve_gates,
    make_delivery,
    scripted_phases,
)

DELIVERY = make_delivery()
REQUEST = RunRequest(DELIVERY, "Alice Lead", "orchestrator run acme.yaml")


def approve_as(store: InMemoryRunStore, gate: str, by: str) -> None:
    approve(store, DELIVERY.id, gate, by, "checked", clock=lambda: T0)


def test_a_delivery_goes_through_every_gate_as_people_approve() -> None:
    bench = EngineBench()
    phases, steps = scripted_phases()

    first = bench.engine(phases).run(REQUEST)
    assert (first.run.status, first.exit_code) == (Status.WAITING, 3)
    assert first.run.reason == (
        "gate preconditions needs confirmation that the quote and the data processing agreement "
        "are signed, from the delivery manager (Dana Manager)"
    )
    assert not any(step.applied for step in steps.values())

    approve_as(bench.store, "preconditions", "Dana Manager")
    outcome = bench.engine(phases).resume(REQUEST)
    assert outcome.gate is not None
    assert outcome.gate.gate.name == "buddycheck"
    assert "from an engineer other than the lead engineer (Alice Lead)" in (
        outcome.run.reason or ""
    )
    assert steps["buddycheck.action_items"].applied == [""]
    assert steps["handover.document"].applied == []

    approve_as(bench.store, "buddycheck", "Bob Buddy")
    outcome = bench.engine(phases).resume(REQUEST)
    assert outcome.gate is not None
    assert outcome.gate.gate.name == "customer_confirmation"
    assert steps["handover.access_details"].applied == [""]
    assert steps["handover.contract_effective"].applied == []

    approve_as(bench.store, "customer_confirmation", "dana@hosting.example.com")
    outcome = bench.engine(phases).resume(REQUEST)
    assert outcome.gate is not None
    assert outcome.gate.gate.name == "go_live"
    assert steps["migration.verify"].applied == [""]

    approve_as(bench.store, "go-live", "Dana Manager")
    outcome = bench.engine(phases).resume(REQUEST)
    assert (outcome.run.id, outcome.run.status, outcome.exit_code) == (
        first.run.id,
        Status.SUCCEEDED,
        0,
    )
    assert all(step.applied == [""] for step in steps.values())


def test_the_lead_engineer_may_not_sign_off_their_own_buddycheck() -> None:
    store = InMemoryRunStore()
    store.save_delivery(DELIVERY.record(T0))
    for lead in ("Alice Lead", "ALICE@hosting.example.com", " alice lead "):
        with pytest.raises(
            GateRefused, match="is the lead engineer and may not sign off their own"
        ):
            approve_as(store, "buddycheck", lead)
    assert store.list_decisions(DELIVERY.id) == []
    refusals = [e for e in store.list_audit(DELIVERY.id) if e.action == "gate_approval_refused"]
    assert len(refusals) == 3
    assert refusals[0].who == "Alice Lead"
    assert refusals[0].detail["gate"] == "buddycheck"


@pytest.mark.parametrize(
    ("gate", "by"),
    [
        ("buddycheck", "Dana Manager"),
        ("preconditions", "Bob Buddy"),
        ("preconditions", "Alice Lead"),
        ("customer_confirmation", "Alice Lead"),
        ("go_live", "Bob Buddy"),
    ],
)
def test_only_the_people_the_rule_names_may_approve(gate: str, by: str) -> None:
    store = InMemoryRunStore()
    store.save_delivery(DELIVERY.record(T0))
    with pytest.raises(GateRefused, match=f"{by} may not"):
        approve_as(store, gate, by)


def test_an_approval_is_recorded_with_the_role_and_audited() -> None:
    store = InMemoryRunStore()
    store.save_delivery(DELIVERY.record(T0))
    decision = approve(store, DELIVERY.id, "buddycheck", "Bob Buddy", "all 14 checks pass")
    assert (decision.gate, decision.by, decision.role) == ("buddycheck", "Bob Buddy", "engineer")
    assert store.list_decisions(DELIVERY.id) == [decision]
    [entry] = store.list_audit(DELIVERY.id)
    assert (entry.who, entry.action) == ("Bob Buddy", "gate_approved")
    assert entry.detail == {
        "gate": "buddycheck",
        "role": "engineer",
        "comment": "all 14 checks pass",
    }


def test_the_buddycheck_cannot_be_signed_off_while_action_items_are_open() -> None:
    store = InMemoryRunStore()
    store.save_delivery(DELIVERY.record(T0))
    item = store.open_action_item(ActionItem(DELIVERY.id, "restore test missing", "Bob Buddy", T0))
    with pytest.raises(GateRefused, match="action items are open: #1 restore test missing"):
        approve_as(store, "buddycheck", "Bob Buddy")
    assert item.id is not None
    store.close_action_item(item.id, "Alice Lead", "restored yesterday's backup")
    approve_as(store, "buddycheck", "Bob Buddy")


def test_an_action_item_opened_after_the_sign_off_holds_the_handover() -> None:
    bench = EngineBench()
    phases, steps = scripted_phases()
    approve_gates(bench.store, DELIVERY)
    bench.engine(phases).run(RunRequest(DELIVERY, "Alice Lead", phases=PhaseRange(1, 5)))
    bench.store.open_action_item(ActionItem(DELIVERY.id, "no swap", "Bob Buddy", T0))
    outcome = bench.engine(phases).run(RunRequest(DELIVERY, "Alice Lead", phases=PhaseRange(6, 7)))
    assert outcome.run.status is Status.WAITING
    assert (
        outcome.run.reason
        == "gate buddycheck is approved but blocked: 1 action item(s) open: #1 no swap"
    )
    assert steps["migration.data"].applied == []


def test_the_preconditions_wait_while_the_spec_says_a_document_is_unsigned() -> None:
    bench = EngineBench()
    phases, _steps = scripted_phases()
    unsigned = make_delivery(unsigned=("data processing agreement",))
    bench.store.save_delivery(unsigned.record(T0))
    approve_as(bench.store, "preconditions", "Dana Manager")
    outcome = bench.engine(phases).run(RunRequest(unsigned, "Alice Lead"))
    assert outcome.run.status is Status.WAITING
    assert outcome.run.reason == (
        "gate preconditions is approved but blocked: "
        "the spec says the data processing agreement is not signed"
    )


def test_approving_needs_a_known_delivery_a_known_gate_and_a_comment() -> None:
    store = InMemoryRunStore()
    with pytest.raises(BadInput, match="no delivery acme-webshop in the run store"):
        approve_as(store, "buddycheck", "Bob Buddy")
    store.save_delivery(DELIVERY.record(T0))
    with pytest.raises(BadInput, match="no gate 'qa'; gates are preconditions, buddycheck, "):
        approve_as(store, "qa", "Bob Buddy")
    with pytest.raises(BadInput, match="needs a name"):
        approve(store, DELIVERY.id, "buddycheck", "Bob Buddy", "  ")


def test_a_plan_shows_each_gate_and_whether_it_is_passed() -> None:
    bench = EngineBench()
    phases, _steps = scripted_phases()
    approve_gates(bench.store, DELIVERY, "preconditions")
    plan = bench.engine(phases).plan(REQUEST)
    assert [(state.gate.name, state.passed) for state in plan.gates] == [
        ("preconditions", True),
        ("buddycheck", False),
        ("customer_confirmation", False),
        ("go_live", False),
    ]
