"""The chaos bench, short: deliveries of two hosts through phase 1, ``kill -9``-ed ten times
(a delivery that finishes first is followed by a fresh one, as in the bench's rounds).

``bench/chaos.py`` (``python -m bench.chaos``) is the long version: phases 1-3, 20 hosts, 200
kills, also during host creation, SSH probing and Ansible runs. Phases 2-3 take minutes of
Ansible on even two hosts, past this test's budget; ``test_children_lab.py`` kills the
orchestrator under a playbook. Here, as there: NetBox holds exactly what the spec implies, the
lab no host of the delivery, the store no run, step or phase ``running``, the logs of killed
runs are cut with ``log_cut`` and every log ends with an end marker (``log_ended``, or
``log_cut`` when the last kill came after the run's end), and no process of the delivery is left.

The bench stopped by signals while its round's lab hosts are up removes them and its NetBox
objects all the same: a second signal does not cut the clean-up short.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.chaos import ROOT, Delivery, Figures, count_netbox, run_chaos
from orchestrator.lab.hosts import list_hosts
from orchestrator.lab.netbox import read_netbox_env
from orchestrator.lab.paths import LabPaths

HOSTS = 2
KILLS = 10
SEED = 13


def test_ten_kills_of_a_two_host_delivery_leave_nothing_behind() -> None:
    figures = run_chaos(HOSTS, KILLS, SEED, through=1)
    report = "\n".join(figures.lines())
    assert figures.clean, report
    assert figures.killed >= KILLS, report
    assert 1 <= figures.log_cuts <= KILLS, report


CHAOS_HOST = re.compile(r"k([0-9a-f]{4})-[0-9]{2}")


def _chaos_hosts(paths: LabPaths, tags: set[str] | None = None) -> dict[str, list[str]]:
    """The lab hosts of chaos deliveries, by the delivery's tag (only ``tags``, if given)."""
    found: dict[str, list[str]] = {}
    for host in list_hosts(paths):
        match = CHAOS_HOST.fullmatch(host.name)
        if match and (tags is None or match[1] in tags):
            found.setdefault(match[1], []).append(host.name)
    return found


def test_the_bench_stopped_twice_while_its_hosts_are_up_still_removes_them() -> None:
    paths = LabPaths.from_env()
    before = set(_chaos_hosts(paths))  # another bench may be running: its hosts are not ours
    argv = [sys.executable, "-m", "bench.chaos", "--hosts", "2", "--kills", "50", "--seed", "5"]
    bench = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not (up := _two_up(_chaos_hosts(paths), before)) and bench.poll() is None:
            assert time.monotonic() < deadline, "the bench made no lab hosts in 300 s"
            time.sleep(0.2)
        bench.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        bench.send_signal(signal.SIGTERM)  # during the clean-up: ignored
        output = bench.communicate(timeout=300)[0].decode()
    finally:  # stopped as a person would, so that it cleans up even when this test fails
        if bench.poll() is None:
            bench.terminate()
            try:
                bench.wait(timeout=300)
            except subprocess.TimeoutExpired:
                bench.kill()
                bench.wait()
    assert bench.returncode == 128 + signal.SIGTERM, output
    assert up is not None, output
    tag, hosts = up
    assert not _chaos_hosts(paths, {tag}), output
    delivery = Delivery(f"chaos-{tag}", Path(), Path(), tuple(hosts))
    figures = Figures()
    count_netbox(read_netbox_env(paths), delivery, figures)
    assert {kind: found for kind, (found, _) in figures.netbox.items()} == dict.fromkeys(
        figures.netbox, 0
    ), output
    assert len(figures.netbox) == 8


def _two_up(hosts: dict[str, list[str]], before: set[str]) -> tuple[str, list[str]] | None:
    """The new delivery's tag and hosts once both of its hosts are up."""
    new = [(tag, names) for tag, names in hosts.items() if tag not in before and len(names) >= 2]
    return new[0] if new else None
