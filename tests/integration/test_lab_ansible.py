"""ansible-runner installs a package from the lab mirror and starts it as a service on two hosts."""

from __future__ import annotations

import urllib.request

from orchestrator.lab.hosts import LabHost
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.smoke import run_playbook


def test_smoke_playbook_installs_and_starts_nginx_on_two_hosts(
    smoke_hosts: list[LabHost], lab_paths: LabPaths
) -> None:
    assert len(smoke_hosts) == 2
    result = run_playbook(lab_paths, smoke_hosts)
    assert result.status == "successful", result
    assert result.rc == 0
    assert sorted(result.hosts) == sorted(h.name for h in smoke_hosts)
    for name, outcome in result.hosts.items():
        assert outcome.failed == [], (name, outcome.tasks)
        tasks = dict(outcome.tasks)
        assert tasks["Install nginx from the lab mirror"] in ("ok", "changed")
        assert tasks["Start nginx as a systemd service"] in ("ok", "changed")
    for host in smoke_hosts:
        with urllib.request.urlopen(f"http://{host.address}/", timeout=5) as page:
            assert page.read().decode() == f"lab host {host.name}\n"


def test_second_run_changes_nothing(smoke_hosts: list[LabHost], lab_paths: LabPaths) -> None:
    run_playbook(lab_paths, smoke_hosts)
    again = run_playbook(lab_paths, smoke_hosts)
    assert again.succeeded
    assert all(outcome.changed == 0 for outcome in again.hosts.values()), again.hosts
