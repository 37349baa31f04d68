"""The ``PlaybookRunner`` contract: the same assertions hold for ``ScriptedPlaybooks``
(``scripted_world``: tests/unit/test_playbooks_contract.py) and for ``AnsibleRunnerPlaybooks``
on a lab host (tests/integration/test_playbooks_contract.py). Every task that ran on a host that
answered says how long it took.

A world has a playbook of two tasks, ``configure`` (changes something on every host) and ``fail
where told`` (fails on hosts whose inventory variable ``contract_fails`` is true), and an
inventory of three hosts: one where it succeeds, one where it fails, and one where nothing
answers SSH. The real world runs the playbook; the fake world scripts what it does. Two runs in
all: Ansible costs seconds a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engine.ports.playbooks import (
    HostOutcome,
    PlaybookOutcome,
    PlaybookRun,
    PlaybookRunner,
)
from orchestrator.engine.status import Status
from orchestrator.store.records import JsonMap, TaskRecord
from orchestrator.testing.playbooks import TASK_SECONDS, ScriptedPlaybooks, all_ok

#: The tasks of the contract's playbook (tests/integration/playbooks/contract.yml).
CONFIGURE, FAIL = "configure", "fail where told"


@dataclass(frozen=True)
class World:
    """A playbook runner, the contract's playbook, and the hosts it runs on."""

    playbooks: PlaybookRunner
    playbook: str
    inventory: JsonMap
    host: str  # the playbook succeeds here
    failing: str  # ... fails here
    down: str  # nothing answers SSH here
    known_hosts: Path  # the pins of the hosts that answer
    folder: Path  # artifacts and facts go here

    def run(self, *hosts: str, label: str = "contract") -> tuple[PlaybookRun, PlaybookOutcome]:
        request = PlaybookRun(self.playbook, self.inventory, hosts, self.known_hosts,
                              self.folder / "runs", self.folder / "facts", label)  # fmt: skip
        return request, self.playbooks.run(request)


def check_each_host_asked_for_gets_an_outcome_and_no_other(world: World) -> None:
    request, outcome = world.run(world.host)
    assert (outcome.status, outcome.rc) == ("successful", 0)
    assert set(outcome.hosts) == {world.host}
    done = outcome.hosts[world.host]
    assert done.succeeded
    assert (done.changed, done.error, done.retryable) == (1, None, False)
    configured = [t for t in done.tasks if t.name == CONFIGURE]
    assert [(t.status, t.changed) for t in configured] == [(Status.SUCCEEDED, True)]
    assert all(t.duration is not None and t.duration >= 0 for t in done.tasks)
    assert outcome.artifacts.parent == request.artifacts
    assert outcome.artifacts.is_dir()
    assert request.label in outcome.artifacts.name


def check_hosts_that_fail_or_do_not_answer_fail_the_run_and_only_themselves(world: World) -> None:
    request, outcome = world.run(world.host, world.failing, world.down, label="mixed")
    assert outcome.status == "failed"
    assert outcome.rc != 0
    assert set(outcome.hosts) == {world.host, world.failing, world.down}
    assert outcome.hosts[world.host].succeeded
    failed = outcome.hosts[world.failing]
    assert (failed.state, failed.succeeded, failed.retryable) == ("failed", False, False)
    assert failed.error is not None
    assert FAIL in failed.error
    assert [t.status for t in failed.tasks if t.name == FAIL] == [Status.FAILED]
    assert all(t.duration is not None and t.duration >= 0 for t in failed.tasks)
    down = outcome.hosts[world.down]
    assert (down.state, down.succeeded) == ("unreachable", False)
    assert (down.retryable, down.key_changed) == (True, False)
    assert down.error is not None
    assert down.error.startswith("unreachable at task ")
    assert outcome.artifacts.parent == request.artifacts


CHECKS: tuple[Callable[[World], None], ...] = (
    check_each_host_asked_for_gets_an_outcome_and_no_other,
    check_hosts_that_fail_or_do_not_answer_fail_the_run_and_only_themselves,
)


def inventory(addresses: dict[str, str], failing: str) -> JsonMap:
    """The contract's inventory: hosts at ``addresses``; the playbook fails on ``failing``."""
    hosts: dict[str, JsonMap] = {name: {"ansible_host": a} for name, a in addresses.items()}
    hosts[failing] = {**hosts[failing], "contract_fails": True}
    return {"all": {"hosts": dict(hosts)}}


def scripted_world(folder: Path) -> World:
    """The fake, scripted as the contract's playbook runs on the lab."""
    host, failing, down = "pc-01", "pc-01-fails", "pc-down"

    def as_on_the_lab(request: PlaybookRun, name: str) -> HostOutcome:
        if name == down:
            error = f"unreachable at task {CONFIGURE!r}: ssh: connect to host: No route to host"
            task = TaskRecord(CONFIGURE, Status.CRASHED, detail=error, duration=TASK_SECONDS)
            return HostOutcome("unreachable", tasks=[task], error=error, retryable=True)
        outcome = all_ok(request, name)
        if name == failing:
            outcome.state, outcome.error = "failed", f"task {FAIL!r} failed: told to fail"
            failure = TaskRecord(FAIL, Status.FAILED, detail="told to fail", duration=TASK_SECONDS)
            outcome.tasks.append(failure)
        return outcome

    addresses = {host: "192.0.2.10", failing: "192.0.2.10", down: "192.0.2.99"}
    return World(ScriptedPlaybooks(as_on_the_lab), "contract.yml",
                 inventory(addresses, failing), host, failing, down,
                 folder / "known_hosts", folder)  # fmt: skip
