"""Detached processes of the lab (NetBox's gunicorn, the mirror server, Prometheus, nspawn).

Started in their own session with output to a log file and their pid in a pid file; found again
through ``/proc``; stopped with their whole process tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from orchestrator.lab.files import write_atomically

_STOP_GRACE = 5.0


def _state(pid: int) -> str:
    """The one-letter state of ``pid`` (``""`` if it is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def process_cmdline(pid: int) -> list[str]:
    """The argument list of ``pid``; empty if it is gone, a zombie or in the middle of exec."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1] if _state(pid) not in ("", "Z") else []


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie child of ours is reaped and counts as gone)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return _state(pid) not in ("", "Z", "X")


def all_processes() -> Iterator[tuple[int, list[str]]]:
    """Every live process with its argument list."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (argv := process_cmdline(int(entry.name))):
            yield int(entry.name), argv


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def stop_tree(pid: int, grace: float = _STOP_GRACE) -> None:
    """SIGTERM ``pid``, wait up to ``grace`` seconds, then SIGKILL it and everything below it."""
    tree = descendants(pid)
    if grace > 0:
        _signal(pid, signal.SIGTERM)
        _wait_gone([pid], grace)
    for member in tree:
        _signal(member, signal.SIGKILL)
    _wait_gone(tree, 10.0)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _wait_gone(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(pid_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def start_detached(
    argv: list[str], log_path: Path, pid_path: Path, env: Mapping[str, str] | None = None
) -> int:
    """Start ``argv`` in its own session, output appended to ``log_path`` (0600); record its pid.
    ``env`` replaces the caller's environment when given.

    ``posix_spawnp`` rather than ``Popen``: the child outlives the call on purpose, and a
    ``Popen`` object would warn when collected while it runs. ``pid_alive`` reaps it when it ends.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    output = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        pid = os.posix_spawnp(
            argv[0],
            argv,
            os.environ if env is None else env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, output, 1),
                (os.POSIX_SPAWN_DUP2, output, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(output)
    write_atomically(pid_path, f"{pid}\n")
    return pid


def read_pid(pid_path: Path) -> int | None:
    """The pid recorded in ``pid_path``, if any."""
    try:
        return int(pid_path.read_text().strip())
    except (OSError, ValueError):
        return None


def port_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a TCP connection to ``host:port`` is accepted."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
