"""The ``ReachabilityProbe`` contract against ``ParamikoProbe`` (same checks as the fake's,
``orchestrator.testing.contracts.reachability``): a smoke host of the lab, reached with the lab
site's SSH access; known_hosts files of the test's own; an address of the lab where no host
answers, given up on after a few seconds instead of a boot's two minutes. Nothing on the host is
changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.adapters.ssh import ParamikoProbe
from orchestrator.engine.errors import Unreachable
from orchestrator.engine.retry import RetryPolicy
from orchestrator.lab.hosts import LabHost
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.site import site_file
from orchestrator.site import load_site
from orchestrator.testing.contracts.reachability import CHECKS, World
from orchestrator.wiring import ssh_access

#: A lab address no host has (the smoke range is numbered from .10).
NOWHERE = "10.213.1.249"
#: Short: the unreachable check waits for this deadline; a lab host answers at once.
WAIT = RetryPolicy(transient=(Unreachable,), attempts=3, initial_backoff=0.25, deadline=4.0)


@pytest.fixture
def world(smoke_hosts: list[LabHost], lab_paths: LabPaths, tmp_path: Path) -> World:
    host = smoke_hosts[0]
    probe = ParamikoProbe(ssh_access(load_site(site_file(lab_paths)).ssh, {}), WAIT)
    return World(probe, host.name, host.address, host.host_key, NOWHERE, tmp_path)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_paramiko_probe_keeps_the_contract(check: Callable[[World], None], world: World) -> None:
    check(world)
