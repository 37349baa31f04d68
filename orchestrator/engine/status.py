"""The words runs, phases, steps and hosts are described with, and the exit codes.

``Status`` and ``Mode`` are defined with the records (``orchestrator.store.status``), which the
engine may import and the store may not import back; they are re-exported here.
"""

from __future__ import annotations

from enum import IntEnum

from orchestrator.store.status import Mode, Status


class ExitCode(IntEnum):
    """Exit codes of the run commands (docs/cli.md)."""

    DONE = 0
    FAILED = 1
    BAD_INPUT = 2
    WAITING = 3
    LOCKED = 4
    CRASHED = 5

    @classmethod
    def of(cls, status: Status) -> ExitCode:
        """The exit code of a run that ended in ``status``."""
        return _BY_STATUS.get(status, cls.CRASHED)


_BY_STATUS = {
    Status.SUCCEEDED: ExitCode.DONE,
    Status.SKIPPED: ExitCode.DONE,
    Status.FAILED: ExitCode.FAILED,
    Status.WAITING: ExitCode.WAITING,
    Status.CRASHED: ExitCode.CRASHED,
}

__all__ = ["ExitCode", "Mode", "Status"]
