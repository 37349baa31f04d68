"""Children die with the orchestrator; a later run stops what an earlier one left (real processes).

Each test starts ``sleep``s carrying a cookie, as an adapter would start ssh or ansible-playbook,
and looks in ``/proc`` for what is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import testinfra
from structlog.testing import capture_logs

from orchestrator.adapters import guard
from orchestrator.adapters.children import (
    COOKIE,
    ensure_guard,
    guarded,
    inherited,
    owned,
    stop_leftovers,
)
from orchestrator.adapters.testinfra_checks import inventory_env
from orchestrator.adapters.weasyprint import environment as weasyprint_env

ROOT = Path(__file__).parents[2]
ENV = {"PATH": "/usr/bin:/bin"}


def marked_in(folder: Path) -> list[guard.Marked]:
    return [m for m in guard.marked() if m.folder == str(folder.resolve())]


def gone_within(folder: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while marked_in(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not marked_in(folder)


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    made = tmp_path / "acme"
    made.mkdir()
    yield made
    guard.stop([m.pid for m in marked_in(made)], grace=0.2)


def start(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sh", "-c", command], env=env)


def start_orchestrator(script: str) -> subprocess.Popen[bytes]:
    """``script`` in a Python process of its own, standing in for the orchestrator; output piped."""
    return subprocess.Popen(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
    )


def test_a_child_carries_the_delivery_folder_and_this_process(folder: Path) -> None:
    marks = guarded(folder)
    child = start("exec sleep 60", ENV | marks)
    try:
        deadline = time.monotonic() + 5
        while not marked_in(folder) and time.monotonic() < deadline:
            time.sleep(0.02)
        (found,) = marked_in(folder)
        assert found.owner == guard.owner_tag(os.getpid())
        assert marks[COOKIE] == f"{folder.resolve()}:{found.owner}"
    finally:
        child.kill()
        child.wait()


def test_children_of_a_live_orchestrator_are_not_leftovers(folder: Path) -> None:
    child = start("exec sleep 60", ENV | guarded(folder))
    try:
        with capture_logs() as logs:
            assert stop_leftovers(folder) == []
        assert child.poll() is None
        assert logs == []
    finally:
        child.kill()
        child.wait()


def test_leftovers_of_an_orchestrator_that_is_gone_are_stopped_and_logged(folder: Path) -> None:
    """A cookie naming a process that no longer runs (pid 1 with another start time): its
    processes are leftovers, however they detached (``setsid``, the way ssh masters do)."""
    dead = {COOKIE: f"{folder.resolve()}:1:0"}
    child = start("setsid sleep 61 & exec sleep 62", ENV | dead)
    deadline = time.monotonic() + 5
    while len(marked_in(folder)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    with capture_logs() as logs:
        stopped = stop_leftovers(folder)
    child.wait(timeout=5)
    assert sorted(m.name for m in stopped) == ["sleep", "sleep"]
    assert [e["event"] for e in logs] == ["leftover_stopped", "leftover_stopped"]
    assert {e["started_by"] for e in logs} == {"1"}
    assert gone_within(folder, 3)
    assert child.returncode == -signal.SIGTERM


def test_killing_the_orchestrator_stops_all_it_started_even_what_detached(folder: Path) -> None:
    script = textwrap.dedent(f"""
        import subprocess, sys, time
        from pathlib import Path
        from orchestrator.adapters.children import guarded
        env = {ENV!r} | guarded(Path({str(folder)!r}))
        subprocess.Popen(["sh", "-c", "setsid sleep 63 & sleep 64"], env=env)
        print("started", flush=True)
        time.sleep(120)
    """)
    orchestrator = start_orchestrator(script)
    assert orchestrator.stdout is not None
    assert orchestrator.stdout.readline() == b"started\n"
    deadline = time.monotonic() + 5
    while len(marked_in(folder)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(marked_in(folder)) == 3
    orchestrator.kill()
    orchestrator.wait()
    assert gone_within(folder, 5), marked_in(folder)
    assert orchestrator.stdout.read() == b""  # the guard does not hold the output open
    orchestrator.stdout.close()


def test_a_normal_end_stops_what_is_left_too(folder: Path) -> None:
    """An SSH master persists after its playbook; it stops when the orchestrator ends."""
    script = textwrap.dedent(f"""
        import subprocess
        from pathlib import Path
        from orchestrator.adapters.children import guarded
        env = {ENV!r} | guarded(Path({str(folder)!r}))
        print(subprocess.Popen(["setsid", "sleep", "65"], env=env).pid)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True, capture_output=True,
    )  # fmt: skip
    master = int(done.stdout)
    deadline = time.monotonic() + 5
    while guard.start_time(master) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert guard.start_time(master) is None


def test_a_tool_for_no_delivery_dies_with_the_orchestrator_and_is_no_ones_leftover(
    folder: Path,
) -> None:
    """amtool, weasyprint and ansible-inventory carry ``owned()``: an empty folder, this process."""
    script = textwrap.dedent(f"""
        import subprocess, time
        from orchestrator.adapters.children import owned
        print(subprocess.Popen(["sleep", "66"], env={ENV!r} | owned()).pid, flush=True)
        time.sleep(120)
    """)
    orchestrator = start_orchestrator(script)
    assert orchestrator.stdout is not None
    tool = int(orchestrator.stdout.readline())
    deadline = time.monotonic() + 5
    while guard.cookie_of(tool) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert guard.cookie_of(tool) == f":{guard.owner_tag(orchestrator.pid)}"
    orchestrator.kill()
    orchestrator.wait()
    orchestrator.stdout.close()
    assert stop_leftovers(folder) == []  # no delivery's leftover; its guard stops it
    deadline = time.monotonic() + 5
    while guard.start_time(tool) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert guard.start_time(tool) is None


def test_tools_for_no_delivery_carry_this_process_mark() -> None:
    mark = owned()[COOKIE]
    assert mark == f":{guard.owner_tag(os.getpid())}"
    assert inventory_env()[COOKIE] == mark
    assert weasyprint_env()[COOKIE] == mark


def test_a_library_that_starts_children_with_our_environment_gives_them_the_mark() -> None:
    """testinfra's ``ssh`` (here its local backend, the same ``run_local``) inherits the mark
    while checks run; afterwards this process's environment is as it was."""
    mark = owned()[COOKIE]
    local = testinfra.get_host("local://")
    with inherited(owned()), inherited(owned()):  # two threads' checks at once
        assert local.run(f"printenv {COOKIE}").stdout.strip() == mark
    assert COOKIE not in os.environ
    assert local.run(f"printenv {COOKIE}").rc == 1


def test_one_guard_per_process() -> None:
    first = ensure_guard()
    assert ensure_guard() == first
    assert guard.cookie_of(first) is None  # it would stop itself


def test_the_guard_refuses_bad_arguments() -> None:
    assert guard.main(["guard.py", "not-a-pid", "1"]) == 2


def start_master(title: str) -> subprocess.Popen[bytes]:
    """A process titled as an OpenSSH ControlPersist master is (its environment gone)."""
    return subprocess.Popen(["bash", "-c", f'exec -a "{title}" sleep 66'], env=ENV)


def masters_of(folder: Path) -> list[guard.Marked]:
    key = guard.delivery_key(str(folder.resolve()))
    return [m for m in guard.marked() if m.key == key and m.folder == ""]


def test_an_ssh_master_is_known_by_its_socket_folder_and_a_dead_owners_is_stopped(
    folder: Path,
) -> None:
    dead = guard.control_folder_name(str(folder.resolve()), "1:0")  # pid 1, another start time
    live = guard.control_folder_name(str(folder.resolve()), guard.owner_tag(os.getpid()))
    left = start_master(f"ssh: /root/.ansible/cp/{dead}/0c524a344b [mux]")
    ours = start_master(f"ssh: /root/.ansible/cp/{live}/48b26848a6 [mux]")
    try:
        deadline = time.monotonic() + 5
        while len(masters_of(folder)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert {(m.owner, m.name) for m in masters_of(folder)} == {
            ("1:0", "sleep"), (guard.owner_tag(os.getpid()), "sleep"),
        }  # fmt: skip
        with capture_logs() as logs:
            stopped = stop_leftovers(folder)
        assert [m.pid for m in stopped] == [left.pid]
        assert [e["event"] for e in logs] == ["leftover_stopped"]
        assert left.wait(timeout=5) == -signal.SIGTERM
        assert ours.poll() is None  # the master of a live orchestrator is left alone
    finally:
        ours.kill()
        ours.wait()


def test_a_normal_end_stops_the_ssh_masters_and_removes_their_folder(folder: Path) -> None:
    script = textwrap.dedent(f"""
        import os, subprocess
        from pathlib import Path
        from orchestrator.adapters.children import ensure_guard
        from orchestrator.adapters.guard import control_folder_name, owner_tag
        ensure_guard()
        name = control_folder_name({str(folder.resolve())!r}, owner_tag(os.getpid()))
        sockets = Path.home() / ".ansible" / "cp" / name
        sockets.mkdir(parents=True)
        (sockets / "0c524a344b").touch()  # what a killed master leaves
        title = f"ssh: {{sockets}}/0c524a344b [mux]"
        master = subprocess.Popen(["setsid", "bash", "-c", f'exec -a "{{title}}" sleep 67'],
                                  env={ENV!r})
        print(master.pid, sockets, flush=True)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    pid, sockets = done.stdout.split()
    deadline = time.monotonic() + 10
    while (guard.start_time(int(pid)) or Path(sockets).exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert guard.start_time(int(pid)) is None
    assert not Path(sockets).exists()
