"""Children that die with the run: nothing a killed orchestrator started keeps running.

Every process an adapter starts for a delivery gets ``guarded(folder)`` in its environment: a
cookie naming the delivery's folder and the orchestrator process (pid and start time), the way
Jenkins' ProcessTreeKiller marks a build's processes. An environment is inherited through fork,
exec, ``setsid`` and daemonising, so the cookie follows the whole tree wherever it reparents:
ansible-playbook, the workers it forks into sessions of their own, ssh, the ControlPersist
masters that detach, rsync.

    env = base | guarded(delivery_folder)     # before starting anything for the delivery
    env = base | owned()                      # a tool that works for no delivery folder
    with inherited(owned()): ...              # a library that starts children with ours

``guarded`` does two things first:

- it makes sure this process has its **guard** (``orchestrator.adapters.guard``): a small
  process that learns of the orchestrator's death at once (``PR_SET_PDEATHSIG``) and stops
  every process carrying its cookie; after a normal end, what is left (the SSH masters).
- it stops the delivery's **leftovers**: processes carrying the delivery's folder whose
  orchestrator is gone (its guard was killed too, or the machine ran out of memory), each one
  logged as ``leftover_stopped``, before anything touches the delivery's hosts again. Processes
  of a live orchestrator (another run, a plan) are left alone.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import structlog

from orchestrator.adapters import guard
from orchestrator.adapters.guard import (
    COOKIE,
    Marked,
    alive,
    delivery_key,
    forget_control_folders,
    marked,
    owner_tag,
    stop,
)

log = structlog.get_logger("orchestrator.children")

GUARD_SCRIPT = Path(guard.__file__)
_LOCK = threading.Lock()
_guards: dict[int, int] = {}  # orchestrator pid -> its guard's pid (a fork starts its own)
_inheriting = 0  # blocks in ``inherited`` under way


def guarded(folder: Path) -> dict[str, str]:
    """The environment entry that marks a child as started for the delivery kept in ``folder``
    by this process; stops the delivery's leftovers and starts this process's guard first."""
    stop_leftovers(folder)
    ensure_guard()
    return {COOKIE: f"{folder.resolve()}:{owner_tag(os.getpid())}"}


def owned() -> dict[str, str]:
    """The environment entry for a child that works for no delivery folder in particular (amtool
    testing routes, weasyprint printing, ansible-inventory reading an inventory): stopped by this
    process's guard when it dies, never taken for a run's leftover (its folder is empty)."""
    ensure_guard()
    return {COOKIE: f":{owner_tag(os.getpid())}"}


@contextmanager
def inherited(entries: Mapping[str, str]) -> Iterator[None]:
    """``entries`` in this process's environment while the block runs, for a vendor library that
    starts children with it and takes no environment of its own (testinfra's ``ssh``). Blocks
    in several threads share them; the last one out takes them away again."""
    global _inheriting  # noqa: PLW0603 - one process environment, so one count
    with _LOCK:
        if _inheriting == 0:
            os.environ.update(entries)
        _inheriting += 1
    try:
        yield
    finally:
        with _LOCK:
            _inheriting -= 1
            if _inheriting == 0:
                for name in entries:
                    os.environ.pop(name, None)


def ensure_guard() -> int:
    """The pid of this process's guard, started if it is not running."""
    me = os.getpid()
    with _LOCK:
        pid = _guards.get(me)
        if pid is None or not _running(pid):
            pid = _guards[me] = _start_guard(owner_tag(me).split(":")[1])
        return pid


def _running(pid: int) -> bool:
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == 0


def _start_guard(started: str) -> int:
    """The guard, in a session of its own (a Ctrl-C for the run is not for it), its output
    nowhere (a reader of ours must see end of file when we end), no cookie in its own
    environment (it would stop itself)."""
    argv = [sys.executable, "-I", "-S", str(GUARD_SCRIPT), str(os.getpid()), started]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    return os.posix_spawn(
        sys.executable,
        argv,
        env,
        file_actions=[(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)],
        setsid=True,
    )


def leftovers(folder: Path) -> list[Marked]:
    """Processes started for the delivery kept in ``folder`` by an orchestrator that is gone
    (its SSH masters among them, known by the delivery's key)."""
    mine = delivery_key(str(folder.resolve()))
    return [m for m in marked() if m.key == mine and not alive(m.owner)]


def stop_leftovers(folder: Path) -> list[Marked]:
    """Stop ``leftovers(folder)`` (SIGTERM, then SIGKILL); log each; the ones stopped."""
    found = leftovers(folder)
    for process in found:
        log.warning("leftover_stopped", pid=process.pid, process=process.name,
                    started_by=process.owner.split(":")[0])  # fmt: skip
    if found:
        stop([m.pid for m in found])
    for owner in {m.owner for m in found}:
        forget_control_folders(owner)
    return found


__all__ = ["COOKIE", "ensure_guard", "guarded", "leftovers", "owned", "stop_leftovers"]
