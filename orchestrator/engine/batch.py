"""Steps that work on several hosts in one go (one playbook run for all of them).

A ``BatchStep`` is a ``Step`` that also has ``apply_hosts(ctx, hosts)``: one call for every host
still to do, returning each host's ``Result`` — or the error for that host. The engine still records
one result per host; hosts whose error is transient are tried again, alone, under the same
``RetryPolicy`` as any other step (retries stay in one place).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from orchestrator.engine.errors import OrchestratorError, TransientError
from orchestrator.engine.status import Status
from orchestrator.engine.step import Result, Step, StepContext

type HostOutcomes = Mapping[str, Result | OrchestratorError]


@runtime_checkable
class BatchStep(Step, Protocol):
    """A step whose hosts are applied together."""

    def apply_hosts(self, ctx: StepContext, hosts: Sequence[str]) -> HostOutcomes:
        """``apply()`` for every host in ``hosts`` at once; a missing host counts as crashed."""
        ...


class Batch:
    """The hosts of one batch step: those settled, and those a retry should try again."""

    def __init__(self, step: BatchStep, hosts: Sequence[str]) -> None:
        self.step = step
        self.pending = list(hosts)
        self.results: dict[str, Result | OrchestratorError] = {}

    def once(self, ctx: StepContext) -> None:
        """Apply the pending hosts; raise the first transient error if some should be retried."""
        outcomes = self.step.apply_hosts(ctx, tuple(self.pending))
        missing = Result(Status.CRASHED, error="the step returned no result for this host")
        self.results.update({host: outcomes.get(host, missing) for host in self.pending})
        again = [h for h in self.pending if isinstance(self.results[h], TransientError)]
        self.pending = again
        if again:
            error = self.results[again[0]]
            raise error if isinstance(error, TransientError) else TransientError(str(error))
