"""The ``PlatformChecks`` contract: the same assertions hold for ``ScriptedChecks``
(``ScriptedWorld``: tests/unit/test_platform_checks_contract.py) and for ``TestinfraChecks`` on a
lab host (tests/integration/test_platform_checks_contract.py).

A world has one reachable host (a freshly made Debian host: sshd running, no extra software), one
host in the inventory where nothing answers, and a way to make a request. The fake's world
scripts what the real host shows; the real world's host simply is that way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orchestrator.engine.ports.platform_checks import Check, ChecksRun, PlatformChecks
from orchestrator.store.records import Json
from orchestrator.testing.platform_checks import ScriptedChecks

type Secrets = dict[str, str] | None


def check(host: str, name: str, kind: str, expected: str, /, **params: Json) -> Check:
    return Check(host, name, kind, expected, params)


def holding(host: str) -> list[Check]:
    """Checks that hold on a fresh lab host."""
    return [
        check(host, "package openssh-server", "package", "installed", name="openssh-server"),
        check(host, "service ssh", "service", "running and enabled", name="ssh"),
        check(host, "port tcp/22", "port", "listening", protocol="tcp", port=22, address=None),
        check(host, "user root", "user", "exists", name="root"),
        check(host, "user root sudo", "user_sudo", "may use sudo", user="root", sudo=True),
        check(host, "sysctl kernel.ostype", "sysctl", "Linux (live)", name="kernel.ostype",
              value="Linux", live=True, file="/etc/sysctl.d/90-orchestrator.conf"),
    ]  # fmt: skip


def failing(host: str) -> list[Check]:
    """Checks that do not hold on a fresh lab host."""
    return [
        check(host, "package orchestrator-absent", "package", "installed",
              name="orchestrator-absent"),
        check(host, "service orchestrator-absent", "service", "running and enabled",
              name="orchestrator-absent"),
        check(host, "port tcp/1", "port", "listening", protocol="tcp", port=1, address=None),
        check(host, "user orchestrator-absent", "user", "exists", name="orchestrator-absent"),
    ]  # fmt: skip


class World(Protocol):
    """Hosts to check, and the adapter to check them with."""

    @property
    def checks(self) -> PlatformChecks: ...

    @property
    def host(self) -> str:
        """A reachable host, as freshly made."""
        ...

    @property
    def down(self) -> str:
        """A host of the inventory where nothing answers."""
        ...

    def request(
        self,
        checks: Sequence[Check],
        censor: Sequence[str] = (),
        secrets: dict[str, str] | None = None,
    ) -> ChecksRun:
        """``checks`` with the world's inventory and pinned keys."""
        ...


def check_one_result_per_check_in_order(world: World) -> None:
    asked = [*holding(world.host), *failing(world.host)]
    results = world.checks.run(world.request(asked))
    assert [r.check for r in results] == asked
    assert all(r.found for r in results)


def check_what_holds_passes_and_what_does_not_fails(world: World) -> None:
    asked = [*holding(world.host), *failing(world.host)]
    results = world.checks.run(world.request(asked))
    assert {r.check.name: r.passed for r in results} == {
        **{c.name: True for c in holding(world.host)},
        **{c.name: False for c in failing(world.host)},
    }


def check_an_unreachable_host_fails_its_checks_and_only_its_own(world: World) -> None:
    asked = [*holding(world.down), *holding(world.host)]
    results = world.checks.run(world.request(asked))
    down = [r for r in results if r.check.host == world.down]
    up = [r for r in results if r.check.host == world.host]
    assert [r.passed for r in down] == [False] * len(down)
    assert all(r.found.startswith("unreachable: ") for r in down)
    assert all(r.passed for r in up)


def check_a_host_outside_the_inventory_is_unreachable(world: World) -> None:
    asked = holding("orchestrator-nowhere")[:1]
    (result,) = world.checks.run(world.request(asked))
    assert not result.passed
    assert result.found.startswith("unreachable: ")


def check_no_censored_value_or_secret_appears_in_a_result(world: World) -> None:
    asked = [c for c in holding(world.host) if c.name == "sysctl kernel.ostype"]
    results = world.checks.run(world.request(asked, censor=("Linux",)))
    assert [r.passed for r in results] == [True]
    assert "Linux" not in results[0].found
    results = world.checks.run(world.request(asked, secrets={"a secret": "Linux"}))
    assert "Linux" not in results[0].found


def check_no_checks_no_results(world: World) -> None:
    assert world.checks.run(world.request([])) == ()


CHECKS: list[Callable[[World], None]] = [
    check_one_result_per_check_in_order,
    check_what_holds_passes_and_what_does_not_fails,
    check_an_unreachable_host_fails_its_checks_and_only_its_own,
    check_a_host_outside_the_inventory_is_unreachable,
    check_no_censored_value_or_secret_appears_in_a_result,
    check_no_checks_no_results,
]


def inventory(addresses: dict[str, str]) -> dict[str, Json]:
    """An inventory of hosts at ``addresses``, in one group."""
    hosts: dict[str, Json] = {name: {"ansible_host": a} for name, a in addresses.items()}
    return {"all": {"vars": {}, "children": {"contract": {"hosts": hosts}}}}


@dataclass
class ScriptedWorld:
    """The fake, scripted as a fresh lab host is."""

    checks: ScriptedChecks
    host: str = "contract-01"
    down: str = "contract-down"

    @classmethod
    def make(cls) -> ScriptedWorld:
        world = cls(ScriptedChecks())
        world.checks.failing = {(world.host, c.name): "not there" for c in failing(world.host)}
        world.checks.unreachable = {world.down: "ssh: connect to host: No route to host"}
        world.checks.found = {(world.host, "sysctl kernel.ostype"): "Linux (live)"}
        return world

    def request(
        self,
        checks: Sequence[Check],
        censor: Sequence[str] = (),
        secrets: dict[str, str] | None = None,
    ) -> ChecksRun:
        addresses = {self.host: "10.213.1.1", self.down: "10.213.1.2"}
        return ChecksRun(inventory(addresses), Path("/nonexistent/known_hosts"), tuple(checks),
                         secrets or {}, censor)  # fmt: skip
