"""The words runs, phases, steps and hosts are described with, and the exit codes."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Status(StrEnum):
    """Where a run, phase, step or host is.

    ``failed`` means the target said no (a playbook failed, a pool is exhausted); ``crashed`` means
    our side broke (a target unreachable after the retries, a bug, an interruption); ``waiting``
    means a gate needs a person; ``skipped`` means already done with the same inputs.
    """

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CRASHED = "crashed"
    SKIPPED = "skipped"
    WAITING = "waiting"

    @property
    def done(self) -> bool:
        """Whether the work is done (and later work may go on)."""
        return self in {Status.SUCCEEDED, Status.SKIPPED}


class Mode(StrEnum):
    """Whether a run only planned (no side effects) or applied."""

    PLAN = "plan"
    APPLY = "apply"


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
