"""The words runs, phases, steps and hosts are described with, as the store keeps them.

The engine decides these and re-exports them from ``orchestrator.engine.status``; they live on the
store's side because the records are made of them and the store imports no engine module.
"""

from __future__ import annotations

from enum import StrEnum


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
