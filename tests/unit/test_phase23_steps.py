"""Phases 2-3 with fakes: machines, pinning, one playbook run per phase, per-host failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.adapters.ansible import HostOutcome, PlaybookRun
from orchestrator.engine import Engine, RunRequest, ThreadedRunner, Unreachable
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.status import Status
from orchestrator.phases import base, software
from orchestrator.spec import DeliverySpec
from orchestrator.testing import (
    InMemoryMachines,
    InMemoryRunStore,
    ScriptedPlaybooks,
    ScriptedProbe,
    all_ok,
    fake_adapters,
    fake_runtime,
)
from tests.integration.phase23_support import addresses_for, make_spec, phase1_standin

SPEC = make_spec("unit-23", "u-")
HOSTS = ["u-lb-01", "u-web-01", "u-web-02", "u-db-01"]
RETRY = RetryPolicy(attempts=3, initial_backoff=0.0)


def _phases(adapters: base.Adapters, spec: DeliverySpec = SPEC) -> tuple[Phase, ...]:
    return (
        phase1_standin(addresses_for(spec, "10.213.200.0")),
        base.phase(lambda: adapters),
        software.phase(lambda: adapters),
    )


def _engine(store: InMemoryRunStore, adapters: base.Adapters) -> Engine:
    return Engine(store, _phases(adapters), retry=RETRY, runtime=fake_runtime())


def _request() -> RunRequest:
    return RunRequest(delivery_from_spec(SPEC), "tester", phases=PhaseRange(1, 3))


def test_machines_come_up_at_phase_1_addresses_and_the_vip_goes_to_the_balancer(
    tmp_path: Path,
) -> None:
    machines = InMemoryMachines()
    adapters = fake_adapters(tmp_path, machines=machines)
    outcome = _engine(InMemoryRunStore(), adapters).run(_request())
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    asked = {r.name: (r.address, r.extra_addresses, r.provider) for r in machines.requests}
    assert asked == {
        "u-lb-01": ("10.213.200.10", ("10.213.200.100",), "lab"),
        "u-web-01": ("10.213.200.11", (), "lab"),
        "u-web-02": ("10.213.200.12", (), "lab"),
        "u-db-01": ("10.213.200.13", (), "lab"),
    }


def test_each_phase_runs_its_playbook_once_for_all_hosts(tmp_path: Path) -> None:
    playbooks = ScriptedPlaybooks()
    adapters = fake_adapters(tmp_path, playbooks=playbooks)
    _engine(InMemoryRunStore(), adapters).run(_request())
    assert [(r.playbook, sorted(r.hosts)) for r in playbooks.requests] == [
        ("phase2_base.yml", sorted(HOSTS)),
        ("phase3_software.yml", sorted(HOSTS)),
    ]


def test_the_inventory_groups_by_role_and_carries_no_secret(tmp_path: Path) -> None:
    playbooks = ScriptedPlaybooks()
    adapters = fake_adapters(tmp_path, playbooks=playbooks)
    _engine(InMemoryRunStore(), adapters).run(_request())
    request = playbooks.requests[-1]
    groups: Any = json.loads(json.dumps(request.inventory))["all"]["children"]
    assert sorted(groups) == ["db", "lb", "web"]
    lb = groups["lb"]["hosts"]["u-lb-01"]["lb"]
    assert lb["vip"] == "10.213.200.100"
    assert [b["address"] for b in lb["backends"]] == ["10.213.200.11", "10.213.200.12"]
    assert groups["db"]["hosts"]["u-db-01"]["db"] == {"name": "unit_23", "user": "unit_23"}
    secrets = adapters.workspace.secret_values("unit-23")
    assert len(secrets) == 2
    text = str(request.inventory) + str(request.extravars)
    assert not [s for s in secrets if s in text]
    assert request.censor == secrets


def test_a_second_run_skips_everything(tmp_path: Path) -> None:
    playbooks = ScriptedPlaybooks()
    store = InMemoryRunStore()
    adapters = fake_adapters(tmp_path, playbooks=playbooks)
    _engine(store, adapters).run(_request())
    again = _engine(store, adapters).run(_request())
    assert again.run.status is Status.SUCCEEDED
    assert len(playbooks.requests) == 2


def _unreachable(request: PlaybookRun, host: str) -> HostOutcome:  # noqa: ARG001 - a HostScript
    return HostOutcome("unreachable", error="ssh: connect refused", retryable=True)


def _failed(request: PlaybookRun, host: str) -> HostOutcome:  # noqa: ARG001 - a HostScript
    return HostOutcome("failed", error="task 'x' failed: nope")


def test_an_unreachable_host_is_retried_alone(tmp_path: Path) -> None:
    playbooks = ScriptedPlaybooks(scripts={"u-web-02": [_unreachable, all_ok]})
    adapters = fake_adapters(tmp_path, playbooks=playbooks)
    outcome = _engine(InMemoryRunStore(), adapters).run(_request())
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    assert [sorted(r.hosts) for r in playbooks.requests][:2] == [sorted(HOSTS), ["u-web-02"]]


def test_a_failed_host_fails_alone_and_resume_runs_only_it(tmp_path: Path) -> None:
    playbooks = ScriptedPlaybooks(scripts={"u-db-01": [_failed]})
    store = InMemoryRunStore()
    adapters = fake_adapters(tmp_path, playbooks=playbooks)
    failed = _engine(store, adapters).run(_request())
    assert failed.run.status is Status.FAILED
    hosts = {h.host: h.status for h in store.list_hosts(failed.run.id, "base.configure")}
    assert hosts == {**dict.fromkeys(HOSTS, Status.SUCCEEDED), "u-db-01": Status.FAILED}
    resumed = _engine(store, adapters).resume(_request())
    assert resumed.run.status is Status.SUCCEEDED
    assert sorted(playbooks.requests[1].hosts) == ["u-db-01"]


def test_a_changed_host_key_fails_that_host_only(tmp_path: Path) -> None:
    probe = ScriptedProbe(keys={"u-web-01": "ssh-ed25519 OTHER"})
    probe.pins["10.213.200.11"] = "ssh-ed25519 PINNED"
    store = InMemoryRunStore()
    outcome = _engine(store, fake_adapters(tmp_path, probe=probe)).run(_request())
    assert outcome.run.status is Status.FAILED
    reach = {h.host: h for h in store.list_hosts(outcome.run.id, "base.reachability")}
    assert reach["u-web-01"].status is Status.FAILED
    assert "host key of u-web-01" in str(reach["u-web-01"].error)
    assert probe.calls.count("u-web-01") == 1  # refused, never retried
    assert {h.status for n, h in reach.items() if n != "u-web-01"} == {Status.SUCCEEDED}


def test_an_unanswering_host_crashes_alone_after_the_retries(tmp_path: Path) -> None:
    probe = ScriptedProbe(errors={"u-db-01": [Unreachable("no answer")] * 5})
    store = InMemoryRunStore()
    engine = Engine(store, _phases(fake_adapters(tmp_path, probe=probe)), retry=RETRY,
                    runner=ThreadedRunner(), runtime=fake_runtime())  # fmt: skip
    outcome = engine.run(_request())
    reach = {h.host: h.status for h in store.list_hosts(outcome.run.id, "base.reachability")}
    assert reach == {**dict.fromkeys(HOSTS, Status.SUCCEEDED), "u-db-01": Status.CRASHED}
    assert probe.calls.count("u-db-01") == 3


def test_plan_names_each_machine_and_playbook(tmp_path: Path) -> None:
    store = InMemoryRunStore()
    engine = _engine(store, fake_adapters(tmp_path))
    plan = engine.plan(_request())
    changes = [str(c) for step in plan.steps for c in step.changes]
    assert "ensure machine u-db-01 (lab debian-12 at the address phase 1 reserves)" in changes
    assert any("playbook phase2_base.yml" in c for c in changes)
