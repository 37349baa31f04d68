"""Who must act when a run stops, and what they are told: pure rules, facts in, notice out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from orchestrator.engine.gates import (
    BUDDYCHECK,
    EVALUATION,
    GATES,
    GO_LIVE,
    HARDWARE_DELIVERED,
    OPS_ACCEPTANCE,
    PRECONDITIONS,
    WRITE_FREEZE,
    Gate,
    GateState,
    gate_state,
)
from orchestrator.engine.notifications import dedupe_key, notice_of
from orchestrator.engine.ports.notifier import Event, Notice
from orchestrator.engine.status import Mode, Status
from orchestrator.store.records import ActionItem, DeliveryRecord, GateDecision, RunRecord
from orchestrator.testing import T0, make_delivery, site_people

DELIVERY = make_delivery()
PEOPLE = tuple(site_people(DELIVERY).values())
RECORD = DeliveryRecord(
    DELIVERY.id, "spec-1", DELIVERY.snapshot, "Alice Lead", "Dana Manager", T0,
    "alice@hosting.example.com", "dana@hosting.example.com",
)  # fmt: skip
SPEC = "specs/acme.yaml"


def run(status: Status, run_id: str = "run-1", reason: str | None = None) -> RunRecord:
    return RunRecord(run_id, DELIVERY.id, Mode.APPLY, status, "alice", "laptop",
                     f"orchestrator run {SPEC}", "0.1.0", "spec-1", 1, 7, T0,
                     reason=reason)  # fmt: skip


def waiting_at(gate: Gate, *, decisions: Sequence[GateDecision] = (),
               items: Sequence[ActionItem] = (), evidence: str = "") -> GateState:  # fmt: skip
    return gate_state(gate, decisions, items, evidence=evidence)


def notice(state: GateState | None, status: Status = Status.WAITING, **kw: str) -> Notice:
    made = notice_of(run(status, reason=kw.pop("reason", None)), state, RECORD, PEOPLE, spec=SPEC,
                     **kw)  # fmt: skip
    assert made is not None
    return made


def emails(found: Notice) -> list[str]:
    return [person.email for person in found.who]


def approval(gate: Gate, evidence: str = "", minutes: int = 0) -> GateDecision:
    when = T0.replace(minute=minutes)
    return GateDecision(DELIVERY.id, gate.name, "Bob Buddy", "engineer", "ok", when, evidence)


def item(step_key: str = "buddycheck.checks") -> ActionItem:
    return ActionItem(DELIVERY.id, "nginx is not running on web-01", "orchestrator", T0,
                      step_key=step_key, id=7)  # fmt: skip


@pytest.mark.parametrize(
    ("gate", "told"),
    [
        (PRECONDITIONS, ["dana@hosting.example.com"]),
        (BUDDYCHECK, ["bob@hosting.example.com"]),  # an engineer, not the lead, not CI
        (GO_LIVE, ["dana@hosting.example.com"]),
        (OPS_ACCEPTANCE, ["olga@hosting.example.com"]),  # the site's operations people
        (HARDWARE_DELIVERED, ["dana@hosting.example.com", "alice@hosting.example.com"]),
        (WRITE_FREEZE, ["alice@hosting.example.com", "bob@hosting.example.com"]),
        (EVALUATION, ["dana@hosting.example.com", "alice@hosting.example.com"]),
    ],
)
def test_a_wait_for_an_approval_tells_whoever_may_give_it(gate: Gate, told: list[str]) -> None:
    assert emails(notice(waiting_at(gate))) == told


def test_every_gate_reaches_someone_and_never_a_ci_account() -> None:
    for gate in GATES.values():
        found = emails(notice(waiting_at(gate)))
        assert found
        assert "ci@hosting.example.com" not in found


def test_an_approved_gate_blocked_by_open_items_tells_the_lead_engineer_to_close_them() -> None:
    state = waiting_at(BUDDYCHECK, decisions=[approval(BUDDYCHECK, "e1")], items=[item()],
                       evidence="e1")  # fmt: skip
    told = notice(state)
    assert emails(told) == ["alice@hosting.example.com"]
    assert told.command == "orchestrator actions list acme-webshop"
    assert told.then == f"orchestrator resume {SPEC}"
    assert "approved but blocked: 1 action item(s) open: #7 nginx is not running" in told.needed


def test_unsigned_documents_tell_the_delivery_manager() -> None:
    state = gate_state(PRECONDITIONS, [approval(PRECONDITIONS)], unsigned=["quote"])
    told = notice(state)
    assert emails(told) == ["dana@hosting.example.com"]
    assert "the spec says the quote is not signed" in told.needed
    assert told.command.startswith(f"orchestrator resume {SPEC}")


@pytest.mark.parametrize("status", [Status.FAILED, Status.CRASHED])
def test_a_failed_or_crashed_run_tells_the_lead_engineer_to_resume(status: Status) -> None:
    told = notice(None, status, reason="network.vlan: pool exhausted")
    assert emails(told) == ["alice@hosting.example.com"]
    assert told.event is Event(status.value)
    assert told.command == f"orchestrator resume {SPEC}"
    assert told.gate is None
    assert "The run says: network.vlan: pool exhausted" in told.text()


@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.RUNNING])
def test_a_run_that_did_not_stop_for_anyone_tells_nobody(status: Status) -> None:
    assert notice_of(run(status), None, RECORD, PEOPLE) is None


def test_nobody_with_an_address_means_no_notice() -> None:
    nameless = replace(RECORD, lead_engineer_email="")
    assert notice_of(run(Status.FAILED), None, nameless, PEOPLE) is None


def test_the_notice_names_the_delivery_what_is_needed_and_the_exact_commands() -> None:
    told = notice(waiting_at(BUDDYCHECK, evidence="e1"))
    assert told.subject == "acme-webshop waits at gate buddycheck: your decision is needed"
    assert told.command == (
        "orchestrator approve acme-webshop buddycheck --sign-with KEY --comment TEXT"
    )
    assert told.then == f"orchestrator resume {SPEC}"
    assert told.needed.startswith("Gate buddycheck needs sign-off of the buddycheck")
    assert "an engineer other than the lead engineer (Alice Lead)" in told.needed
    text = told.text()
    for part in (told.subject, told.needed, told.command, told.then, "run run-1",
                 "Bob Buddy <bob@hosting.example.com>"):  # fmt: skip
        assert part in text


def test_a_gate_recorded_with_its_own_command_names_that_command() -> None:
    told = notice(waiting_at(EVALUATION))
    assert told.command == "orchestrator evaluate acme-webshop --file FILE --sign-with KEY"


def test_without_the_spec_path_the_command_says_spec() -> None:
    told = notice_of(run(Status.FAILED), None, RECORD, PEOPLE)
    assert told is not None
    assert told.command == "orchestrator resume SPEC"


def test_the_viewer_page_of_the_delivery_is_linked_when_the_site_names_one() -> None:
    told = notice(waiting_at(PRECONDITIONS),
                  viewer="https://viewer.example.net/d/{delivery}?run={run}")  # fmt: skip
    assert told.viewer == "https://viewer.example.net/d/acme-webshop?run=run-1"
    assert f"run viewer: {told.viewer}" in told.text()
    assert notice(waiting_at(PRECONDITIONS)).viewer is None


def test_the_json_payload_carries_delivery_event_gate_who_command_and_run() -> None:
    payload = notice(waiting_at(PRECONDITIONS)).payload()
    assert payload["delivery"] == "acme-webshop"
    assert payload["event"] == "waiting"
    assert payload["gate"] == "preconditions"
    assert payload["run_id"] == "run-1"
    assert payload["who"] == [{"name": "Dana Manager", "email": "dana@hosting.example.com"}]
    assert payload["command"] == (
        "orchestrator approve acme-webshop preconditions --sign-with KEY --comment TEXT"
    )


def test_the_same_wait_on_a_rerun_has_the_same_key() -> None:
    state = waiting_at(BUDDYCHECK, evidence="e1")
    assert dedupe_key(run(Status.WAITING, "run-1"), state, "e1") == dedupe_key(
        run(Status.WAITING, "run-2"), state, "e1"
    )


def test_a_new_wait_has_a_new_key() -> None:
    first = dedupe_key(run(Status.WAITING), waiting_at(BUDDYCHECK, evidence="e1"), "e1")
    new_evidence = waiting_at(BUDDYCHECK, evidence="e2")
    stale = waiting_at(BUDDYCHECK, decisions=[approval(BUDDYCHECK, "e1")], evidence="e2")
    blocked = waiting_at(BUDDYCHECK, decisions=[approval(BUDDYCHECK, "e1")], items=[item()],
                         evidence="e1")  # fmt: skip
    keys = {
        first,
        dedupe_key(run(Status.WAITING), new_evidence, "e2"),
        dedupe_key(run(Status.WAITING), stale, "e2"),
        dedupe_key(run(Status.WAITING), blocked, "e1"),
        dedupe_key(run(Status.WAITING), waiting_at(GO_LIVE), ""),
    }
    assert len(keys) == 5


def test_a_failure_is_the_same_stop_only_in_the_same_run_with_the_same_reason() -> None:
    failed = dedupe_key(run(Status.FAILED, "run-1", "vlan: exhausted"), None)
    assert failed == dedupe_key(run(Status.FAILED, "run-1", "vlan: exhausted"), None)
    assert failed != dedupe_key(run(Status.FAILED, "run-1", "prefix: exhausted"), None)
    assert failed != dedupe_key(run(Status.FAILED, "run-2", "vlan: exhausted"), None)
    assert failed != dedupe_key(run(Status.CRASHED, "run-1", "vlan: exhausted"), None)
