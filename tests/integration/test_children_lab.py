"""A playbook under way on a lab host when the orchestrator is killed: nothing of it remains.

The orchestrator here is a small process that runs ``tests/integration/playbooks/long_task.yml``
through ``AnsibleRunnerPlaybooks`` on a smoke host. ``kill -9`` of it stops ansible-playbook,
its workers, ssh and the SSH master within a few seconds (the guard); killed together with its
guard, what it left is stopped, and logged, by the next playbook run of the delivery.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from orchestrator.adapters import guard
from orchestrator.adapters.ansible import AnsibleRunnerPlaybooks, AnsibleSettings, tuned_env
from orchestrator.adapters.ssh_access import SshAccess
from orchestrator.engine.ports.playbooks import PlaybookRun
from orchestrator.lab.hosts import LabHost
from orchestrator.lab.paths import LabPaths
from orchestrator.store.records import JsonMap

ROOT = Path(__file__).parents[2]
PLAYBOOKS = Path(__file__).parent / "playbooks"
#: Seconds the playbook's processes may outlive a killed orchestrator.
WITHIN = 5.0

ORCHESTRATOR = """
import json, sys
from pathlib import Path
from orchestrator.adapters.ansible import AnsibleRunnerPlaybooks, AnsibleSettings, tuned_env
from orchestrator.adapters.ssh_access import SshAccess
from orchestrator.engine.ports.playbooks import PlaybookRun
args = json.loads(sys.argv[1])
folder = Path(args["folder"])
runner = AnsibleRunnerPlaybooks(
    AnsibleSettings(SshAccess(key=Path(args["key"])), playbooks=Path(args["playbooks"])),
    env=tuned_env,  # the SSH masters in a folder of this process's, as in a real run
)
runner.run(PlaybookRun(
    playbook="long_task.yml", inventory=args["inventory"], hosts=(args["host"],),
    known_hosts=folder / "known_hosts", artifacts=folder / "runs", facts=folder / "facts",
    label="long",
))
"""


@pytest.fixture
def delivery(tmp_path: Path, smoke_hosts: list[LabHost]) -> Iterator[Path]:
    """A delivery's folder with the smoke host's pinned key; whatever is left is stopped after."""
    folder = tmp_path / "delivery"
    (folder / "runs").mkdir(parents=True)
    host = smoke_hosts[0]
    (folder / "known_hosts").write_text(f"{host.address} {host.host_key}\n")
    yield folder
    guard.stop([m.pid for m in marked_in(folder)], grace=0.5)


def marked_in(folder: Path) -> list[guard.Marked]:
    """The delivery's processes: those carrying its cookie, and its SSH masters."""
    key = guard.delivery_key(str(folder.resolve()))
    return [m for m in guard.marked() if m.key == key]


def inventory(host: LabHost) -> JsonMap:
    return {"all": {"hosts": {host.name: {"ansible_host": host.address}}}}


def start_orchestrator(folder: Path, host: LabHost, paths: LabPaths) -> subprocess.Popen[bytes]:
    args = {
        "folder": str(folder), "key": str(paths.ssh_key),
        "playbooks": str(PLAYBOOKS), "inventory": inventory(host), "host": host.name,
    }  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(ORCHESTRATOR), json.dumps(args)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def under_way(folder: Path, orchestrator: subprocess.Popen[bytes]) -> list[guard.Marked]:
    """The playbook's processes once its task runs on the host (ssh is up), within a minute."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and orchestrator.poll() is None:
        found = marked_in(folder)
        names = {m.name for m in found}
        if "ansible-playboo" in names and "ssh" in names:  # comm holds 15 characters
            time.sleep(1.0)  # the master detached, the task's command sent
            return marked_in(folder)
        time.sleep(0.1)
    pytest.fail(f"the playbook did not get under way (exit {orchestrator.poll()})")


def gone_after(folder: Path, seconds: float) -> float:
    """Seconds until no process of the delivery is left; fails after ``seconds``."""
    started = time.monotonic()
    while marked_in(folder) and time.monotonic() - started < seconds:
        time.sleep(0.05)
    left = [(m.pid, m.name) for m in marked_in(folder)]
    assert left == [], f"still running {seconds:.0f} s after the kill: {left}"
    return time.monotonic() - started


def test_kill_9_of_the_orchestrator_stops_the_playbook_and_its_ssh(
    delivery: Path, smoke_hosts: list[LabHost], lab_paths: LabPaths
) -> None:
    orchestrator = start_orchestrator(delivery, smoke_hosts[0], lab_paths)
    found = under_way(delivery, orchestrator)
    assert {"ansible-playboo", "ssh"} <= {m.name for m in found}
    assert [m.name for m in found if not m.folder] == ["ssh"]  # the master, known by its socket
    orchestrator.send_signal(signal.SIGKILL)
    orchestrator.wait()
    assert gone_after(delivery, WITHIN) < WITHIN


def test_what_a_killed_orchestrator_and_its_guard_left_the_next_run_stops_and_logs(
    delivery: Path, smoke_hosts: list[LabHost], lab_paths: LabPaths
) -> None:
    """Both killed at once (the way the OOM killer or a ``kill -9`` of the process group may):
    the playbook runs on, orphaned, until the next playbook of the delivery starts."""
    orchestrator = start_orchestrator(delivery, smoke_hosts[0], lab_paths)
    under_way(delivery, orchestrator)
    guards = guarding(orchestrator.pid)
    assert len(guards) == 1
    for pid in (guards[0], orchestrator.pid):
        os.kill(pid, signal.SIGKILL)
    orchestrator.wait()
    time.sleep(1.0)
    orphans = marked_in(delivery)
    assert "ansible-playboo" in {m.name for m in orphans}  # nothing stopped them yet
    assert [m.name for m in orphans if not m.folder] == ["ssh"]  # its SSH master too
    host = smoke_hosts[0]
    runner = AnsibleRunnerPlaybooks(
        AnsibleSettings(SshAccess(key=lab_paths.ssh_key), playbooks=PLAYBOOKS),
        env=tuned_env,
    )
    request = PlaybookRun(
        playbook="quick_task.yml", inventory=inventory(host), hosts=(host.name,),
        known_hosts=delivery / "known_hosts", artifacts=delivery / "runs",
        facts=delivery / "facts", label="quick",
    )  # fmt: skip
    with capture_logs() as logs:
        outcome = runner.run(request)
    assert outcome.status == "successful", outcome.tail
    stopped = [e for e in logs if e["event"] == "leftover_stopped"]
    assert {e["pid"] for e in stopped} >= {m.pid for m in orphans}
    assert {e["started_by"] for e in stopped} == {str(orchestrator.pid)}
    assert not [m for m in marked_in(delivery) if m.owner.startswith(f"{orchestrator.pid}:")]


def guarding(pid: int) -> list[int]:
    """The guards watching process ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(a.endswith(b"guard.py") for a in argv) and str(pid).encode() in argv:
                found.append(int(entry.name))
    return found
