"""A run as the store recorded it, read back in one piece for ``show``, ``status`` and JUnit."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.engine.errors import BadInput
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import HostRecord, PhaseRecord, RunRecord, StepRecord


@dataclass(frozen=True, slots=True)
class RunReport:
    """One run with its phases, steps and host results."""

    run: RunRecord
    phases: tuple[PhaseRecord, ...]
    steps: tuple[StepRecord, ...]
    hosts: tuple[HostRecord, ...]

    @classmethod
    def load(cls, store: RunStore, run_id: str) -> RunReport:
        """Read run ``run_id``; an unknown id raises ``BadInput``."""
        run = store.get_run(run_id)
        if run is None:
            raise BadInput(f"no run {run_id} in the run store")
        phases, steps = store.list_phases(run_id), store.list_steps(run_id)
        return cls(run, tuple(phases), tuple(steps), tuple(store.list_hosts(run_id)))

    def steps_of(self, phase: int) -> tuple[StepRecord, ...]:
        """The steps of one phase, in the order they ran."""
        return tuple(step for step in self.steps if step.phase == phase)

    def hosts_of(self, step_key: str) -> tuple[HostRecord, ...]:
        """The host results of one step."""
        return tuple(host for host in self.hosts if host.step_key == step_key)
