"""Phase 4's ``buddycheck.verify`` with fakes: phases 1-3 on fakes, then the checks through
``ScriptedChecks``; per-host results and tasks, failures, re-runs, plan, no secret anywhere."""

from __future__ import annotations

from pathlib import Path

from orchestrator.engine import Engine, RunRequest
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.status import Mode, Status
from orchestrator.phases import all_phases, base, buddycheck, software
from orchestrator.phases.buddycheck import VERIFY, VerifyStep
from orchestrator.phases.network import network_phase
from orchestrator.store.records import HostRecord
from orchestrator.testing import (
    InMemoryHostRecords,
    InMemoryIpam,
    InMemoryRunStore,
    ScriptedChecks,
    ScriptedPlaybooks,
    approve_gates,
    fake_adapters,
    fake_runtime,
    unwired,
)
from tests.integration.phase23_support import make_spec

SPEC = make_spec("unit-bc", "u-")
DELIVERY = delivery_from_spec(SPEC)
HOSTS = ["u-lb-01", "u-web-01", "u-web-02", "u-db-01"]


class Bench:
    """Phases 1-3 on fakes and phase 4's verify step (without the action items step, written
    elsewhere), on one in-memory store."""

    def __init__(self, tmp_path: Path, checks: ScriptedChecks | None = None) -> None:
        self.checks = checks or ScriptedChecks()
        self.playbooks = ScriptedPlaybooks()
        self.adapters = fake_adapters(tmp_path, playbooks=self.playbooks,
                                      platform_checks=self.checks)  # fmt: skip
        self.store = InMemoryRunStore()
        self.ipam = InMemoryIpam()
        self.runtime = fake_runtime()  # one clock: each run has an id of its own
        approve_gates(self.store, DELIVERY, "preconditions")

    def engine(self) -> Engine:
        records = InMemoryHostRecords(self.ipam)
        phases = (
            network_phase(lambda: self.ipam),
            base.phase(lambda: self.adapters, lambda: self.ipam, lambda: records),
            software.phase(lambda: self.adapters),
            Phase(4, "buddycheck", "Buddycheck", (VerifyStep(lambda: self.adapters),)),
        )
        retry = RetryPolicy(attempts=2, initial_backoff=0.0)
        return Engine(self.store, phases, retry=retry, runtime=self.runtime)

    def run(self, first: int = 1) -> str:
        outcome = self.engine().run(RunRequest(DELIVERY, "tester", phases=PhaseRange(first, 4)))
        return outcome.run.id

    def hosts(self, run_id: str) -> dict[str, HostRecord]:
        return {h.host: h for h in self.store.list_hosts(run_id, VERIFY)}


def test_every_host_is_checked_in_one_request_and_passes(tmp_path: Path) -> None:
    bench = Bench(tmp_path)
    run = bench.run()
    assert bench.store.get_run(run).status is Status.SUCCEEDED  # type: ignore[union-attr]
    (request,) = bench.checks.requests
    assert sorted({c.host for c in request.checks}) == sorted(HOSTS)
    hosts = bench.hosts(run)
    assert {h: r.status for h, r in hosts.items()} == dict.fromkeys(HOSTS, Status.SUCCEEDED)
    web = hosts["u-web-01"]
    names = [c.name for c in request.checks if c.host == "u-web-01"]
    assert [t.name for t in web.tasks] == names
    assert all(t.status is Status.SUCCEEDED for t in web.tasks)
    assert web.tasks[0].detail == "expected installed; found installed"


def test_the_request_reaches_hosts_as_the_playbooks_do_and_carries_the_password_to_compare(
    tmp_path: Path,
) -> None:
    bench = Bench(tmp_path)
    bench.run()
    (request,) = bench.checks.requests
    workspace = bench.adapters.workspace
    assert request.known_hosts == workspace.known_hosts("unit-bc")
    assert request.inventory == bench.playbooks.requests[-1].inventory  # phase 3's
    password = workspace.known_secrets("unit-bc")["db_password"]
    assert request.secrets == {"db_password": password}
    assert password in request.censor
    assert password not in repr(request.checks) + repr(request.inventory)


def test_a_failed_check_fails_its_host_only_and_says_what_was_found(tmp_path: Path) -> None:
    checks = ScriptedChecks(failing={("u-web-01", "service nginx"): "not running (inactive)"})
    bench = Bench(tmp_path, checks)
    run = bench.run()
    assert bench.store.get_run(run).status is Status.FAILED  # type: ignore[union-attr]
    hosts = bench.hosts(run)
    assert hosts["u-web-01"].status is Status.FAILED
    assert {h: r.status for h, r in hosts.items() if h != "u-web-01"} == dict.fromkeys(
        ["u-lb-01", "u-web-02", "u-db-01"], Status.SUCCEEDED)  # fmt: skip
    failed = [t for t in hosts["u-web-01"].tasks if t.status is Status.FAILED]
    assert [(t.name, t.detail) for t in failed] == [
        ("service nginx", "expected running and enabled; found not running (inactive)")
    ]
    assert hosts["u-web-01"].error == "1 of 21 checks failed: service nginx"
    step = bench.store.latest_step("unit-bc", VERIFY)
    assert step is not None


def test_an_unreachable_host_fails_every_check_of_its_own(tmp_path: Path) -> None:
    bench = Bench(tmp_path, ScriptedChecks(unreachable={"u-db-01": "No route to host"}))
    hosts = bench.hosts(bench.run())
    assert hosts["u-db-01"].status is Status.FAILED
    assert {t.status for t in hosts["u-db-01"].tasks} == {Status.FAILED}
    assert all("found unreachable: No route to host" in t.detail for t in hosts["u-db-01"].tasks)
    assert hosts["u-web-01"].status is Status.SUCCEEDED


def test_running_phase_4_again_checks_again_and_sees_the_mended_platform(tmp_path: Path) -> None:
    checks = ScriptedChecks(failing={("u-web-01", "user femke key 1"): "not in authorized_keys"})
    bench = Bench(tmp_path, checks)
    first = bench.run()
    assert bench.hosts(first)["u-web-01"].status is Status.FAILED
    checks.fix("u-web-01", "user femke key 1")
    again = bench.run(first=4)
    assert len(checks.requests) == 2  # not skipped: every run really checks
    assert bench.hosts(again)["u-web-01"].status is Status.SUCCEEDED
    assert bench.run(first=4) != again
    assert len(checks.requests) == 3  # nothing changed, and still it checks


def test_once_signed_off_the_verdict_stands(tmp_path: Path) -> None:
    bench = Bench(tmp_path)
    bench.run()
    bench.run(first=4)
    assert len(bench.checks.requests) == 2  # not signed off yet: every run checks
    approve_gates(bench.store, DELIVERY, "buddycheck")
    settled = bench.run(first=4)
    assert len(bench.checks.requests) == 2  # the sign-off's results stand
    step = bench.store.list_steps(settled)
    assert [(s.key, s.status) for s in step] == [(VERIFY, Status.SKIPPED)]


def test_plan_lists_the_checks_without_running_them(tmp_path: Path) -> None:
    bench = Bench(tmp_path)
    bench.run()
    requests = len(bench.checks.requests)
    outcome = bench.engine().plan(RunRequest(DELIVERY, "tester", phases=PhaseRange(4, 4)))
    assert outcome.run.mode is Mode.PLAN
    (step,) = [s for s in outcome.steps if s.key == VERIFY]
    assert len(bench.checks.requests) == requests
    targets = {c.target for c in step.changes}
    assert "u-db-01: database unit_bc user unit_bc" in targets
    assert "u-lb-01: vip tcp/80" in targets
    assert all(c.action == "check" and c.detail.startswith("expect ") for c in step.changes)


def test_verify_comes_first_in_phase_4_before_the_other_checks_and_the_evidence(
    tmp_path: Path,
) -> None:
    adapters = fake_adapters(tmp_path)
    phase = buddycheck.phase(lambda: adapters, unwired, unwired)
    assert [e.key for e in phase.entries] == [  # type: ignore[union-attr]
        VERIFY, "buddycheck.observed", "buddycheck.action_items"]  # fmt: skip
    wired = all_phases(unwired, lambda: adapters, unwired)
    assert [e.key for e in wired[3].entries][:1] == [VERIFY]  # type: ignore[union-attr]
