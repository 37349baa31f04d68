"""The ``Machines`` contract against ``LabMachines`` (same checks as the fake's,
``orchestrator.testing.contracts.machines``): the lab's first smoke host is the machine that is up
already; the new one is ``fk-contract-01`` at 10.213.4.60 (a range no other test uses), removed
before and after each check. Only the first check boots a host."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from orchestrator.engine.ports.machines import Machine, MachineRequest
from orchestrator.lab.hosts import LabHost, destroy_host
from orchestrator.lab.machines import LabMachines
from orchestrator.lab.paths import LabPaths
from orchestrator.testing.contracts.machines import CHECKS, World

NEW = MachineRequest("fk-contract-01", "web", "10.213.4.60", "debian-12", "lab")


@pytest.fixture
def world(smoke_hosts: list[LabHost], lab_paths: LabPaths) -> Iterator[World]:
    host = smoke_hosts[0]
    existing = Machine(host.name, host.address, "lab", host_key=host.host_key)
    destroy_host(NEW.name, paths=lab_paths)  # what an interrupted earlier session left
    try:
        yield World(LabMachines(lab_paths), existing, NEW)
    finally:
        destroy_host(NEW.name, paths=lab_paths)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_lab_machines_keep_the_contract(check: Callable[[World], None], world: World) -> None:
    check(world)
