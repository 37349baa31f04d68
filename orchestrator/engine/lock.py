"""One run per delivery: who this process is, and when someone else's lock may be taken over.

``claim`` takes a delivery's lock for a run or a release: a lock whose holder is gone is taken
over, a live holder's only with ``break_lock``; otherwise ``RunLocked`` names who holds it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.engine.errors import RunLocked
from orchestrator.store.protocol import Locks
from orchestrator.store.records import LockRecord


@dataclass(frozen=True, slots=True)
class LockOwner:
    """The machine and process that takes a lock."""

    host: str
    pid: int

    @classmethod
    def here(cls) -> LockOwner:
        """This process on this machine."""
        return cls(socket.gethostname(), os.getpid())


def holder_alive(lock: LockRecord) -> bool:
    """Whether the process holding ``lock`` may still run.

    Only a process on this machine can be checked; a lock from elsewhere counts as alive, and only
    ``--break-lock`` removes it.
    """
    if lock.host != socket.gethostname():
        return True
    try:
        os.kill(lock.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(
    store: Locks,
    lock: LockRecord,
    alive: Callable[[LockRecord], bool] = holder_alive,
    *,
    break_lock: bool = False,
) -> LockRecord | None:
    """Take ``lock``; the lock it took over (its holder gone, or broken), if any. A live holder
    raises ``RunLocked`` unless ``break_lock``."""
    held = store.acquire_lock(lock)
    if held is None:
        return None
    if not break_lock and alive(held):
        raise RunLocked(held)
    taken_over = held if store.break_lock(held) else None
    held = store.acquire_lock(lock)
    if held is not None:
        raise RunLocked(held)
    return taken_over
