"""Findings: failed checks open action items, passing checks close them, people may accept one;
the buddycheck's evidence is the hash of the results."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from orchestrator.engine import Phase, PhaseRange, Result, RunRequest, Status
from orchestrator.engine.errors import Refused
from orchestrator.engine.findings import CHECKS, failing, reconcile, results_in, title
from orchestrator.engine.ports.platform_checks import Check, CheckResult
from orchestrator.engine.step import StepContext
from orchestrator.phases.evidence import EvidenceStep, evidence_of
from orchestrator.store.records import ActionItem, Json
from orchestrator.testing import T0, EngineBench, ScriptedStep, make_delivery

DELIVERY = make_delivery()
KEY = "buddycheck.verify"


def result(host: str, name: str, *, passed: bool, found: str = "") -> CheckResult:
    check = Check(host, name, "service", "running and enabled")
    return CheckResult(check, passed, found or ("running and enabled" if passed else "inactive"))


def item(host: str, name: str, *, found: str = "inactive", closed_by: str | None = None,
         ident: int = 1) -> ActionItem:  # fmt: skip
    closed = T0 if closed_by else None
    return ActionItem(DELIVERY.id, f"{host}: {name}", CHECKS, T0, KEY, closed_by, closed,
                      "x" if closed_by else None, ident, host, name, "running", found)  # fmt: skip


def outputs(*results: CheckResult) -> dict[str, Json]:
    hosts: dict[str, dict[str, list[Json]]] = {}
    for r in results:
        hosts.setdefault(r.check.host, {"checks": []})["checks"].append(r.as_json())
    return {"hosts": hosts}


def test_a_new_failure_opens_an_item_and_a_known_one_does_not_open_a_second() -> None:
    failed = result("web-01", "service nginx", passed=False)
    plan = reconcile(KEY, [failed], [], "r1")
    assert (plan.to_open, plan.to_close) == ((failed,), ())
    again = reconcile(KEY, [failed], [item("web-01", "service nginx")], "r2")
    assert (again.to_open, again.to_close) == ((), ())
    assert title(failed) == ("web-01: service nginx: expected running and enabled, found inactive")


def test_a_passing_or_vanished_check_closes_its_item_other_hosts_are_left_alone() -> None:
    items = [item("web-01", "service nginx", ident=1), item("web-01", "port tcp/80", ident=2),
             item("db-01", "service postgresql", ident=3)]  # fmt: skip
    plan = reconcile(KEY, [result("web-01", "service nginx", passed=True)], items, "r3")
    assert plan.to_open == ()
    assert [(i.id, why) for i, why in plan.to_close] == [
        (1, "check passed in run r3"),
        (2, "check no longer made (run r3)"),
    ]


def test_a_finding_a_person_accepted_is_not_reopened_until_the_check_finds_something_else() -> None:
    accepted = item("web-01", "service nginx", closed_by="Bob Buddy")
    same = result("web-01", "service nginx", passed=False)
    assert failing([same], [accepted]) == []
    assert reconcile(KEY, [same], [accepted], "r4").to_open == ()
    other = result("web-01", "service nginx", passed=False, found="not installed")
    assert failing([other], [accepted]) == [other]
    assert reconcile(KEY, [other], [accepted], "r4").to_open == (other,)
    closed_by_checks = item("web-01", "service nginx", closed_by=CHECKS)
    assert failing([same], [closed_by_checks]) == [same]


def test_results_are_read_back_from_a_steps_outputs() -> None:
    results = [result("web-01", "a", passed=True), result("db-01", "b", passed=False)]
    assert results_in(outputs(*results)) == results
    assert results_in({"hosts": {"web-01": {"changed_tasks": 3}}}) == []
    assert results_in({}) == []


def checks_phase(step: ScriptedStep) -> Sequence[Phase]:
    return (Phase(1, "buddycheck", "Checks", (step,)),)


def run(bench: EngineBench, step: ScriptedStep) -> Status:
    request = RunRequest(DELIVERY, "Alice Lead", phases=PhaseRange(1, 1))
    return bench.engine(checks_phase(step)).run(request).run.status


def test_the_engine_opens_and_closes_items_as_check_steps_finish() -> None:
    bench = EngineBench()
    broken = outputs(result("web-01", "service nginx", passed=False),
                     result("web-01", "user femke key 1", passed=True))  # fmt: skip
    fixed = outputs(result("web-01", "service nginx", passed=True),
                    result("web-01", "user femke key 1", passed=True))  # fmt: skip
    step = ScriptedStep(KEY, outcomes={"": [Result(Status.FAILED, outputs=broken, error="1 failed"),
                                            Result(outputs=fixed)]})  # fmt: skip
    assert run(bench, step) is Status.FAILED
    [opened] = bench.store.list_action_items(DELIVERY.id)
    assert (opened.host, opened.check, opened.expected, opened.found, opened.opened_by) == (
        "web-01", "service nginx", "running and enabled", "inactive", CHECKS,
    )  # fmt: skip
    assert opened.step_key == KEY
    assert run(bench, step) is Status.SUCCEEDED
    [closed] = bench.store.list_action_items(DELIVERY.id)
    assert not closed.open
    assert closed.closed_by == CHECKS
    assert (closed.resolution or "").startswith("check passed in run ")
    actions = [e.action for e in bench.store.list_audit(DELIVERY.id)]
    assert actions.count("action_item_opened") == actions.count("action_item_closed") == 1


def ctx_with(**steps: dict[str, Json]) -> StepContext:
    return StepContext(DELIVERY, "r1", 4, steps)


def test_the_evidence_is_the_hash_of_the_results_whatever_their_order() -> None:
    one = [result("web-01", "a", passed=True), result("db-01", "b", passed=True)]
    assert evidence_of(one) == evidence_of(list(reversed(one)))
    other = [result("web-01", "a", passed=True), result("db-01", "b", passed=False)]
    assert evidence_of(other) != evidence_of(one)
    step = EvidenceStep()
    ctx = ctx_with(**{"buddycheck.verify": outputs(one[0]), "buddycheck.observed": outputs(one[1])})
    done = step.apply(ctx)
    assert done.outputs["evidence"] == evidence_of(one)
    assert (done.outputs["checks"], done.outputs["passed"], done.outputs["accepted"]) == (2, 2, [])
    assert step.inputs(ctx) == {"evidence": evidence_of(one)}


def test_the_evidence_waits_for_both_check_steps() -> None:
    ctx = ctx_with(**{"buddycheck.verify": outputs(result("web-01", "a", passed=True))})
    assert EvidenceStep().inputs(ctx) == {
        "waiting_for": ["buddycheck.verify", "buddycheck.observed"]
    }
    with pytest.raises(Refused, match=r"buddycheck\.observed has not run"):
        EvidenceStep().apply(ctx)


def test_a_check_step_failing_only_on_accepted_findings_succeeds() -> None:
    bench = EngineBench()
    broken = outputs(result("web-01", "service nginx", passed=False))
    failed = Result(Status.FAILED, outputs=broken, error="1 check failed")
    step = ScriptedStep(KEY, outcomes={"": [failed, failed]})
    assert run(bench, step) is Status.FAILED
    [opened] = bench.store.list_action_items(DELIVERY.id)
    assert opened.id is not None
    bench.store.close_action_item(opened.id, "Bob Buddy", "nginx is replaced by caddy next week")
    assert run(bench, step) is Status.SUCCEEDED  # accepted: no new item, the run goes on
    assert len(bench.store.list_action_items(DELIVERY.id)) == 1
