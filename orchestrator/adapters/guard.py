"""The guard: stops every process an orchestrator started once that orchestrator is gone.

Run as its own small process (``python -I -S guard.py PID START``), one per orchestrator process,
started by ``orchestrator.adapters.children``. It learns of its parent's death at once through
``PR_SET_PDEATHSIG`` (and, should the thread that started it end first, by checking its parent's
pid every ``POLL`` seconds), then stops every process whose environment carries its parent's
cookie: ansible-playbook, the workers it forked into sessions of their own, ssh and the
ControlPersist masters that detached from it, rsync. After a normal end it stops what is left
(the masters); after a ``kill -9`` it stops the whole run.

Only the standard library, so the guard starts in milliseconds and ``children`` can share the
``/proc`` reading below without importing anything else.

    ORCHESTRATOR_CHILD_OF=<delivery folder>:<orchestrator pid>:<its start time>

An SSH ControlPersist master is the one process the cookie cannot mark: OpenSSH sets its title
(``ssh: <socket> [mux]``) by writing over its arguments and environment, cookie and all. So a
master is known by its socket's folder instead: each orchestrator process opens its masters in a
folder of its own whose name holds the delivery's key and the process (``control_folder_name``),
and ``marked`` reads it back from the title.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

COOKIE = "ORCHESTRATOR_CHILD_OF"
PR_SET_PDEATHSIG = 1
POLL = 0.5  # seconds between checks of the parent's pid, when no signal came
GRACE = 1.0  # seconds between SIGTERM and SIGKILL
SETTLE = 10.0  # seconds a sweep keeps looking for processes that were still being started
#: A ControlPersist master's title, its socket in a folder named by ``control_folder_name``.
_MASTER = re.compile(
    rb"ssh: \S*/(?P<key>[0-9a-f]{12})-(?P<pid>[0-9]+)-(?P<started>[0-9]+)/\S+ \[mux\]"
)


@dataclass(frozen=True, slots=True)
class Marked:
    """A process carrying a cookie: the folder of the delivery it works for and its owner."""

    pid: int
    folder: str
    owner: str  # ``<pid>:<start time>`` of the orchestrator process that started it
    name: str  # the command's name (``comm``), never its arguments
    key: str = ""  # ``delivery_key`` of the folder ("" for none); all an SSH master shows


def delivery_key(folder: str) -> str:
    """A short name for the delivery kept in ``folder`` (a resolved path)."""
    return hashlib.sha256(folder.encode()).hexdigest()[:12]


def control_folder_name(folder: str, owner: str) -> str:
    """The name of the folder where the SSH masters that ``owner`` (``<pid>:<start time>``)
    opens for the delivery in ``folder`` listen: short, as a socket's path must fit in 108
    bytes."""
    return f"{delivery_key(folder)}-{owner.replace(':', '-')}"


def control_folders(owner: str) -> list[Path]:
    """The folders under ``~/.ansible/cp`` where ``owner``'s masters listened."""
    return list((Path.home() / ".ansible" / "cp").glob(f"*-{owner.replace(':', '-')}"))


def forget_control_folders(owner: str) -> None:
    """Remove ``owner``'s master folders (their masters stopped: a killed one leaves its socket)."""
    for folder in control_folders(owner):
        shutil.rmtree(folder, ignore_errors=True)


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), ``None`` if it is gone or a zombie.
    With the pid it names one process for as long as the machine runs."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in {"Z", "X"} else int(fields[19])


def owner_tag(pid: int) -> str:
    """``<pid>:<start time>`` of a live process (``""`` when it is gone)."""
    started = start_time(pid)
    return "" if started is None else f"{pid}:{started}"


def alive(owner: str) -> bool:
    """Whether the process ``owner`` (``<pid>:<start time>``) still runs."""
    pid, _, started = owner.partition(":")
    return pid.isdigit() and owner_tag(int(pid)) == f"{pid}:{started}"


def cookie_of(pid: int) -> str | None:
    """The cookie in ``pid``'s environment, if it has one (and may be read)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = COOKIE.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def marked() -> Iterator[Marked]:
    """Every live process carrying a cookie, and every SSH master in a folder named by
    ``control_folder_name``, except this process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        found = _marked(int(entry.name))
        if found is not None and start_time(found.pid) is not None:
            yield found


def _marked(pid: int) -> Marked | None:
    cookie = cookie_of(pid)
    if cookie is not None and cookie.count(":") >= 2:
        folder, owner_pid, started = cookie.rsplit(":", 2)
        key = delivery_key(folder) if folder else ""
        return Marked(pid, folder, f"{owner_pid}:{started}", _name(pid), key)
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    master = _MASTER.match(title)
    if master is None:
        return None
    owner = f"{master['pid'].decode()}:{master['started'].decode()}"
    return Marked(pid, "", owner, _name(pid), master["key"].decode())


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def stop(pids: list[int], grace: float = GRACE) -> None:
    """SIGTERM, then SIGKILL for whatever still runs after ``grace`` seconds."""
    started = {pid: start_time(pid) for pid in pids}
    _signal(started, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(start_time(p) == s for p, s in started.items()):
        time.sleep(0.05)
    _signal(started, signal.SIGKILL)


def _signal(processes: dict[int, int | None], number: signal.Signals) -> None:
    for pid, started in processes.items():
        if started is not None and start_time(pid) == started:  # still that very process
            try:
                os.kill(pid, number)
            except (ProcessLookupError, PermissionError):
                continue


def sweep(owner: str, settle: float = SETTLE) -> int:
    """Stop every process ``owner`` started, until two looks in a row find none (a process
    being killed may still have been starting others); how many were stopped."""
    stopped: set[int] = set()
    deadline = time.monotonic() + settle
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        found = [m.pid for m in marked() if m.owner == owner]
        quiet = 0 if found else quiet + 1
        stop(found)
        stopped.update(found)
        time.sleep(0.05)
    return len(stopped)


def watch(owner_pid: int, owner: str) -> None:
    """Wait for the parent to go, then sweep what it started."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    for number in (signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    while os.getppid() == owner_pid and alive(owner):  # after prctl: a death before it counts
        signal.sigtimedwait({signal.SIGTERM}, POLL)
    sweep(owner)
    forget_control_folders(owner)


def main(argv: list[str]) -> int:
    """``guard.py PID START``: watch the orchestrator process ``PID`` that started at ``START``."""
    if len(argv) != 3 or not argv[1].isdigit() or not argv[2].isdigit():
        sys.stderr.write("usage: guard.py PID START\n")
        return 2
    watch(int(argv[1]), f"{argv[1]}:{argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
