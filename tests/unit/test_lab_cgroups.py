"""Lab hosts' control groups: which hierarchies count, and the wrapper that joins a group."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from orchestrator.lab import cgroups

HYBRID = """\
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,mode=755 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,nosuid,nodev,noexec,relatime,xattr,name=systemd 0 0
cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0
"""
UNIFIED = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n"


def test_the_systemd_and_unified_hierarchies_count_controllers_do_not() -> None:
    assert cgroups.hierarchies(HYBRID) == [
        Path("/sys/fs/cgroup/unified"),
        Path("/sys/fs/cgroup/systemd"),
    ]
    assert cgroups.hierarchies(UNIFIED) == [Path("/sys/fs/cgroup")]
    assert cgroups.hierarchies("proc /proc proc rw 0 0\n") == []


def test_the_wrapper_joins_each_group_then_execs_the_command(tmp_path: Path) -> None:
    groups = [tmp_path / "a", tmp_path / "b"]
    for group in groups:
        group.mkdir()
    argv = cgroups.wrapped(groups, ["sh", "-c", 'echo "$$ $0 $1"', "x y", "z"])
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    pid, rest = done.stdout.split(" ", 1)
    assert rest == "x y z\n"  # arguments pass through untouched, spaces and all
    assert [(g / "cgroup.procs").read_text() for g in groups] == [f"{pid}\n"] * 2  # same pid


def test_a_process_outside_the_lab_groups_is_not_in_a_hosts_group() -> None:
    assert cgroups.group_path("web-01") == "/orchlab/web-01"
    assert not cgroups.in_group(os.getpid(), "web-01")
    assert not cgroups.in_group(2**22 + 1, "web-01")  # no such process
