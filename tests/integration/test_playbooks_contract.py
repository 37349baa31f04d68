"""The ``PlaybookRunner`` contract against ``AnsibleRunnerPlaybooks`` (same checks as the fake's,
``orchestrator.testing.contracts.playbooks``): the contract's playbook (playbooks/contract.yml
here) on a smoke host of the lab, reached with the lab site's SSH access and its key pinned in a
known_hosts file of the test's own; the same host under a second name is the one where the
playbook fails; an address of the lab where no host answers is the unreachable one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.adapters.ansible import AnsibleRunnerPlaybooks, AnsibleSettings
from orchestrator.lab.hosts import LabHost, known_hosts_line
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.site import site_file
from orchestrator.site import load_site
from orchestrator.testing.contracts.playbooks import CHECKS, World, inventory
from orchestrator.wiring import ssh_access

PLAYBOOKS = Path(__file__).parent / "playbooks"
#: A lab address no host has (the smoke range is numbered from .10).
NOWHERE = "10.213.1.249"


@pytest.fixture
def world(smoke_hosts: list[LabHost], lab_paths: LabPaths, tmp_path: Path) -> World:
    lab_host = smoke_hosts[0]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known_hosts_line(lab_host.address, lab_host.host_key))
    known_hosts.chmod(0o600)
    access = ssh_access(load_site(site_file(lab_paths)).ssh, {})
    runner = AnsibleRunnerPlaybooks(AnsibleSettings(access, playbooks=PLAYBOOKS))
    host, failing, down = lab_host.name, f"{lab_host.name}-fails", "contract-down"
    addresses = {host: lab_host.address, failing: lab_host.address, down: NOWHERE}
    return World(runner, "contract.yml", inventory(addresses, failing), host, failing, down,
                 known_hosts, tmp_path)  # fmt: skip


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_ansible_runner_playbooks_keep_the_contract(
    check: Callable[[World], None], world: World
) -> None:
    check(world)
