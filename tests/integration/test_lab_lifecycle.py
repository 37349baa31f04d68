"""``lab down`` leaves nothing behind, and ``lab up`` afterwards brings everything back."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.lab import lab
from orchestrator.lab.addressing import BRIDGE, NETNS_PREFIX
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.proc import run
from orchestrator.lab.services import postgres_answers, postgres_version, redis_answers
from tests.integration.conftest import SMOKE_HOSTS


def lab_links() -> list[str]:
    lines = run(["ip", "-o", "link"]).stdout.splitlines()
    names = [line.split(":")[1].strip().split("@")[0] for line in lines]
    return [n for n in names if n == BRIDGE or n.startswith("olv")]


def lab_namespaces() -> list[str]:
    return [
        line.split()[0]
        for line in run(["ip", "netns", "list"]).stdout.splitlines()
        if line.startswith(NETNS_PREFIX)
    ]


def lab_mounts(paths: LabPaths) -> list[str]:
    mounts = Path("/proc/mounts").read_text().splitlines()
    return [m for m in mounts if str(paths.state) in m or NETNS_PREFIX in m]


def lab_processes(paths: LabPaths) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(paths.state) in cmdline or "systemd-nspawn" in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def test_down_removes_everything_and_up_restores(lab_up: lab.LabUp, lab_paths: LabPaths) -> None:
    assert lab_links(), "the lab should be up before this test"
    lab.down(lab_paths, progress=lambda _m: None)
    assert lab_links() == []
    assert lab_namespaces() == []
    assert lab_mounts(lab_paths) == []
    assert lab_processes(lab_paths) == []

    # As after a reboot of a machine whose services are not started at boot:
    run(["pg_ctlcluster", "--skip-systemctl-redirect", postgres_version(), "main", "stop"])
    run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], check=False)
    assert not postgres_answers()
    assert not redis_answers()

    again = lab.up(lab_paths, SMOKE_HOSTS, progress=lambda _m: None)
    assert postgres_answers()
    assert redis_answers()
    assert [h.name for h in again.hosts] == [h.name for h in lab_up.hosts]
    assert [h.address for h in again.hosts] == [h.address for h in lab_up.hosts]
