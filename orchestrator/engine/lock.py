"""One run per delivery: who this process is, and when someone else's lock may be taken over."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

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
