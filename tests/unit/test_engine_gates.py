"""Gates: the run waits, says what is needed and from whom; approvals follow the rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orchestrator.engine import (
    BadInput,
    GateRefused,
    PhaseRange,
    RunRequest,
    Status,
    approve,
)
from orchestrator.engine.evaluation import Evaluation, record_evaluation
from orchestrator.engine.gates import GATES
from orchestrator.engine.ports.identity import KnownPerson
from orchestrator.store import ActionItem
from orchestrator.store.records import StepRecord
from orchestrator.testing import (
    T0,
    EngineBench,
    FixedIdentity,
    InMemoryRunStore,
    approve_gates,
    known_person,
    make_delivery,
    scripted_phases,
    site_people,
)

DELIVERY = make_delivery()
REQUEST = RunRequest(DELIVERY, "Alice Lead", "orchestrator run acme.yaml")
PEOPLE = site_people(DELIVERY)


def approve_as(store: InMemoryRunStore, gate: str, who: str | KnownPerson) -> None:
    person = PEOPLE[who] if isinstance(who, str) else who
    approve(store, DELIVERY.id, gate, FixedIdentity(person), "checked", clock=lambda: T0)


def with_evidence(store: InMemoryRunStore) -> None:
    """The delivery, with a finished buddycheck, go-live checks and final report (scripted
    evidence)."""
    bench = EngineBench(store)
    phases, _steps = scripted_phases()
    approve_gates(store, DELIVERY, "preconditions")
    run = bench.engine(phases).run(RunRequest(DELIVERY, "Alice Lead", phases=PhaseRange(1, 4)))
    for key in ("golive.checks", "golive.report"):
        evidence = {"evidence": f"evidence of {key}"}
        store.save_step(StepRecord(run.run.id, 7, key, Status.SUCCEEDED, "", T0, T0, evidence))


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

    approve_as(bench.store, "preconditions", "dana")
    outcome = bench.engine(phases).resume(REQUEST)
    assert outcome.gate is not None
    assert outcome.gate.gate.name == "buddycheck"
    assert "from an engineer other than the lead engineer (Alice Lead)" in (
        outcome.run.reason or ""
    )
    assert steps["buddycheck.action_items"].applied == [""]
    assert steps["handover.document"].applied == []

    approve_as(bench.store, "buddycheck", "bob")
    outcome = bench.engine(phases).resume(REQUEST)
    assert outcome.gate is not None
    assert outcome.gate.gate.name == "customer_confirmation"
    assert steps["handover.access_details"].applied == [""]
    assert steps["handover.contract_effective"].applied == []

    approve_as(bench.store, "customer_confirmation", "dana")
    outcome = bench.engine(phases).resume(REQUEST)
    assert outcome.gate is not None
    assert outcome.gate.gate.name == "go_live"
    assert steps["migration.verify"].applied == [""]

    approve_as(bench.store, "go-live", "dana")
    outcome = bench.engine(phases).resume(REQUEST)
    assert outcome.gate is not None
    assert outcome.run.reason == (
        "gate evaluation needs the evaluation: what went well and what could be better, from the "
        "lead engineer (Alice Lead) or the delivery manager (Dana Manager), recorded with "
        "`orchestrator evaluate`"
    )
    with pytest.raises(BadInput, match="recorded, with `orchestrator evaluate acme-webshop`"):
        approve_as(bench.store, "evaluation", "alice")
    notes = Evaluation(went_well=("the buddycheck found nothing",))
    recorded = record_evaluation(bench.store, DELIVERY.id, notes, FixedIdentity(PEOPLE["alice"]))
    assert recorded.passed_as == "lead_engineer"
    outcome = bench.engine(phases).resume(REQUEST)
    assert outcome.gate is not None
    assert outcome.gate.gate.name == "ops_acceptance"
    assert outcome.run.reason == (
        "gate ops_acceptance needs acceptance of the platform and its final report by the "
        "operations team, from the operations team Ops Nights (someone holding the site role "
        "operations)"
    )
    assert steps["golive.report"].applied == [""]

    approve_as(bench.store, "ops-acceptance", "olga")
    outcome = bench.engine(phases).resume(REQUEST)
    assert (outcome.run.id, outcome.run.status, outcome.exit_code) == (
        first.run.id,
        Status.SUCCEEDED,
        0,
    )
    assert all(step.applied == [""] for step in steps.values())


def test_the_lead_engineer_may_not_sign_off_their_own_buddycheck() -> None:
    store = InMemoryRunStore()
    with_evidence(store)
    with pytest.raises(GateRefused, match="is the lead engineer and may not sign off their own"):
        approve_as(store, "buddycheck", "alice")
    assert [d.gate for d in store.list_decisions(DELIVERY.id)] == ["preconditions"]
    [refusal] = [e for e in store.list_audit(DELIVERY.id) if e.action == "gate_approval_refused"]
    assert (refusal.who, refusal.detail["gate"], refusal.detail["login"]) == (
        "Alice Lead", "buddycheck", "alice",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("gate", "who"),
    [
        ("buddycheck", "dana"),
        ("preconditions", "bob"),
        ("preconditions", "alice"),
        ("customer_confirmation", "alice"),
        ("go_live", "bob"),
        ("go_live", "olga"),
    ],
)
def test_only_the_people_the_rule_names_may_approve(gate: str, who: str) -> None:
    store = InMemoryRunStore()
    with_evidence(store)
    with pytest.raises(GateRefused, match=f"{PEOPLE[who].name} \\({who}\\) may not"):
        approve_as(store, gate, who)


def test_a_ci_account_approves_no_gate() -> None:
    store = InMemoryRunStore()
    with_evidence(store)
    for gate in (
        "preconditions",
        "buddycheck",
        "customer_confirmation",
        "go_live",
        "ops_acceptance",
    ):
        with pytest.raises(GateRefused, match="is a CI account: CI runs, resumes and plans"):
            approve_as(store, gate, "ci")


def test_only_someone_holding_operations_accepts_for_the_operations_team() -> None:
    store = InMemoryRunStore()
    with_evidence(store)
    for who in ("dana", "alice", "bob"):
        with pytest.raises(GateRefused, match="does not hold the site role operations"):
            approve_as(store, "ops_acceptance", who)
    # the delivery manager, who is on the operations team too, accepts as operations
    dana = known_person(
        "Dana Manager", "dana@hosting.example.com", "delivery_manager", "operations"
    )
    approve_as(store, "ops_acceptance", dana)
    approve_as(store, "ops_acceptance", "olga")
    decisions = [d for d in store.list_decisions(DELIVERY.id) if d.gate == "ops_acceptance"]
    assert [(d.by, d.role) for d in decisions] == [
        ("Dana Manager", "operations"), ("Olga Ops", "operations"),
    ]  # fmt: skip
    approved = [e for e in store.list_audit(DELIVERY.id) if e.action == "gate_approved"]
    assert (approved[-1].who, approved[-1].detail["team"]) == ("Olga Ops", "Ops Nights")
    refused = [e for e in store.list_audit(DELIVERY.id) if e.action == "gate_approval_refused"]
    assert [e.who for e in refused] == ["Dana Manager", "Alice Lead", "Bob Buddy"]


def test_a_person_may_not_approve_for_a_role_the_site_does_not_give_them() -> None:
    store = InMemoryRunStore()
    with_evidence(store)
    # the delivery's manager by email, but the site gives her only `operations`
    dana = known_person("Dana Manager", "dana@hosting.example.com", "operations")
    with pytest.raises(GateRefused, match="does not hold the site role delivery_manager"):
        approve_as(store, "preconditions", dana)
    # anyone not the lead is an engineer to the delivery; the site must say they are one
    eve = known_person("Eve Sales", "eve@hosting.example.com", "delivery_manager")
    with pytest.raises(GateRefused, match="does not hold the site role engineer"):
        approve_as(store, "buddycheck", eve)
    # a lead engineer of other deliveries may sign off this one
    carol = known_person("Carol Lead", "carol@hosting.example.com", "lead_engineer")
    approve_as(store, "buddycheck", carol)


def test_an_approval_is_recorded_with_the_role_evidence_and_authentication_and_audited() -> None:
    store = InMemoryRunStore()
    with_evidence(store)
    identity = FixedIdentity(PEOPLE["bob"])
    decision = approve(store, DELIVERY.id, "buddycheck", identity, "all 14 checks pass")
    assert (decision.gate, decision.by, decision.role) == ("buddycheck", "Bob Buddy", "engineer")
    assert (decision.evidence, decision.method, decision.proof) == (
        "evidence of buddycheck.action_items", "test", "bob",
    )  # fmt: skip
    assert store.list_decisions(DELIVERY.id)[-1] == decision
    entry = store.list_audit(DELIVERY.id)[-1]
    assert (entry.who, entry.action) == ("Bob Buddy", "gate_approved")
    assert entry.detail == {
        "gate": "buddycheck",
        "role": "engineer",
        "comment": "all 14 checks pass",
        "login": "bob",
        "method": "test",
        "evidence": "evidence of buddycheck.action_items",
    }


def test_the_buddycheck_cannot_be_signed_off_before_its_checks_ran() -> None:
    store = InMemoryRunStore()
    store.save_delivery(DELIVERY.record(T0))
    with pytest.raises(BadInput, match=r"signs the results of buddycheck\.action_items, which has"):
        approve_as(store, "buddycheck", "bob")


def test_a_sign_off_is_stale_once_the_checks_find_something_else() -> None:
    bench = EngineBench()
    phases, steps = scripted_phases()
    approve_gates(bench.store, DELIVERY, "preconditions")
    bench.engine(phases).run(REQUEST)
    approve_as(bench.store, "buddycheck", "bob")
    outcome = bench.engine(phases).resume(REQUEST)
    assert outcome.gate is not None
    assert outcome.gate.gate.name == "customer_confirmation"
    # the checks run again and hash to something else: the sign-off no longer holds
    steps["buddycheck.action_items"].depends_on = {"evidence": "new results"}
    outcome = bench.engine(phases).run(REQUEST)
    assert outcome.gate is not None
    assert outcome.gate.gate.name == "buddycheck"
    assert "the sign-off by Bob Buddy is stale" in (outcome.run.reason or "")
    approve_as(bench.store, "buddycheck", "bob")
    assert bench.store.list_decisions(DELIVERY.id)[-1].evidence == "new results"
    outcome = bench.engine(phases).resume(REQUEST)
    assert outcome.gate is not None
    assert outcome.gate.gate.name == "customer_confirmation"


def test_the_buddycheck_cannot_be_signed_off_while_action_items_are_open() -> None:
    store = InMemoryRunStore()
    with_evidence(store)
    item = store.open_action_item(ActionItem(DELIVERY.id, "restore test missing", "Bob Buddy", T0))
    with pytest.raises(GateRefused, match="action items are open: #1 restore test missing"):
        approve_as(store, "buddycheck", "bob")
    assert item.id is not None
    store.close_action_item(item.id, "Alice Lead", "restored yesterday's backup")
    approve_as(store, "buddycheck", "bob")


def test_an_action_item_opened_after_the_sign_off_holds_the_handover() -> None:
    bench = EngineBench()
    phases, steps = scripted_phases()
    approve_gates(bench.store, DELIVERY, "preconditions")
    bench.engine(phases).run(RunRequest(DELIVERY, "Alice Lead", phases=PhaseRange(1, 4)))
    approve_gates(bench.store, DELIVERY)  # the buddycheck signs the results phase 4 gave
    bench.engine(phases).run(RunRequest(DELIVERY, "Alice Lead", phases=PhaseRange(5, 5)))
    bench.store.open_action_item(ActionItem(DELIVERY.id, "no swap", "Bob Buddy", T0))
    outcome = bench.engine(phases).run(RunRequest(DELIVERY, "Alice Lead", phases=PhaseRange(6, 7)))
    assert outcome.run.status is Status.WAITING
    assert (
        outcome.run.reason
        == "gate buddycheck is approved but blocked: 1 action item(s) open: #1 no swap"
    )
    assert steps["migration.sources"].applied == []


def test_the_preconditions_wait_while_the_spec_says_a_document_is_unsigned() -> None:
    bench = EngineBench()
    phases, _steps = scripted_phases()
    unsigned = make_delivery(unsigned=("data processing agreement",))
    bench.store.save_delivery(unsigned.record(T0))
    approve_as(bench.store, "preconditions", "dana")
    outcome = bench.engine(phases).run(RunRequest(unsigned, "Alice Lead"))
    assert outcome.run.status is Status.WAITING
    assert outcome.run.reason == (
        "gate preconditions is approved but blocked: "
        "the spec says the data processing agreement is not signed"
    )


def test_approving_needs_a_known_delivery_a_known_gate_and_a_comment() -> None:
    store = InMemoryRunStore()
    with pytest.raises(BadInput, match="no delivery acme-webshop in the run store"):
        approve_as(store, "buddycheck", "bob")
    store.save_delivery(DELIVERY.record(T0))
    with pytest.raises(BadInput, match="no gate 'qa'; gates are preconditions, hardware_"):
        approve_as(store, "qa", "bob")
    with pytest.raises(BadInput, match="needs a comment"):
        approve(store, DELIVERY.id, "buddycheck", FixedIdentity(PEOPLE["bob"]), "  ")


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
        ("evaluation", False),
        ("ops_acceptance", False),
    ]


def test_action_items_block_the_gate_of_the_checks_that_opened_them() -> None:
    found = ActionItem(DELIVERY.id, "web-01: service nginx", "buddycheck", T0,
                       step_key="buddycheck.verify", id=1)  # fmt: skip
    live = ActionItem(DELIVERY.id, "vip: go-live shop-home", "buddycheck", T0,
                      step_key="golive.checks", id=2)  # fmt: skip
    by_hand = ActionItem(DELIVERY.id, "web-02: disk nearly full", "bob", T0, id=3)
    items = [found, live, by_hand]
    assert GATES["buddycheck"].blocking(items) == [found, by_hand]
    assert GATES["go_live"].blocking(items) == [live]
    assert GATES["customer_confirmation"].blocking(items) == []
    closed = replace(live, closed_by="buddycheck", closed_at=T0)
    assert GATES["go_live"].blocking([closed]) == []
