"""The ``PlatformChecks`` contract against ``TestinfraChecks`` on a lab host (same assertions as
the fake's, ``orchestrator.testing.contracts.platform_checks``): a fresh smoke host of the lab,
reached with the lab site's SSH access and its host key pinned in a known_hosts file of the
test's own; an address of the lab where no host answers stands for the unreachable one. Nothing
on the host is changed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.adapters.testinfra_checks import TestinfraChecks
from orchestrator.engine.ports.platform_checks import Check, ChecksRun
from orchestrator.lab.hosts import LabHost, known_hosts_line
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.site import site_file
from orchestrator.site import load_site
from orchestrator.testing.contracts.platform_checks import CHECKS, World, inventory
from orchestrator.wiring import ssh_access

#: A lab address no host has (the smoke range is numbered from .10).
NOWHERE = "10.213.1.249"


@dataclass
class LabWorld:
    checks: TestinfraChecks
    lab_host: LabHost
    known_hosts: Path
    down: str = "contract-down"

    @property
    def host(self) -> str:
        return self.lab_host.name

    def request(
        self,
        checks: Sequence[Check],
        censor: Sequence[str] = (),
        secrets: dict[str, str] | None = None,
    ) -> ChecksRun:
        addresses = {self.host: self.lab_host.address, self.down: NOWHERE}
        return ChecksRun(inventory(addresses), self.known_hosts, tuple(checks), secrets or {},
                         censor)  # fmt: skip


@pytest.fixture
def world(smoke_hosts: list[LabHost], lab_paths: LabPaths, tmp_path: Path) -> World:
    host = smoke_hosts[0]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known_hosts_line(host.address, host.host_key))
    known_hosts.chmod(0o600)
    access = ssh_access(load_site(site_file(lab_paths)).ssh, {})
    return LabWorld(TestinfraChecks(access), host, known_hosts)


@pytest.mark.parametrize("contract", CHECKS, ids=lambda c: c.__name__)
def test_testinfra_checks(contract: Callable[[World], None], world: World) -> None:
    contract(world)


def test_a_host_showing_another_key_than_its_pin_is_unreachable(
    smoke_hosts: list[LabHost], world: World
) -> None:
    other = smoke_hosts[1]
    assert isinstance(world, LabWorld)
    world.known_hosts.write_text(known_hosts_line(world.lab_host.address, other.host_key))
    (result,) = world.checks.run(world.request([Check(world.host, "user root", "user", "exists",
                                                      {"name": "root"})]))  # fmt: skip
    assert not result.passed
    assert result.found.startswith("unreachable: ")
    assert "Host key verification failed" in result.found
