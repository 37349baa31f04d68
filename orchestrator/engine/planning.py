"""Planning: what a run would do, with no side effects — up to date, would change, cannot plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from structlog.contextvars import bound_contextvars

from orchestrator.engine.execution import (
    Execution,
    failure_of,
    log_failure,
    prepare,
    up_to_date,
    worst,
)
from orchestrator.engine.gates import Gate, GateState
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.engine.status import Status
from orchestrator.engine.step import Change, Result, Step
from orchestrator.store.records import RunRecord, StepRecord


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """What a step would do: ``skipped`` (up to date), ``pending`` (would apply ``changes``), or
    ``failed``/``crashed`` when it cannot be planned (``not implemented`` among them)."""

    phase: int
    key: str
    title: str
    status: Status
    changes: tuple[Change, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    """A finished plan run: its record, each step's plan and each gate's state."""

    run: RunRecord
    steps: tuple[PlannedStep, ...]
    gates: tuple[GateState, ...]


class Planning:
    """Plans the selected phases of a run; later steps see the outputs of up-to-date ones."""

    def __init__(self, execution: Execution) -> None:
        self.execution = execution
        self.steps: list[PlannedStep] = []
        self.gates: list[GateState] = []

    def go(self) -> Status:
        """Plan every selected phase; the plan's status is its worst step's."""
        run = self.execution.run
        selected = PhaseRange(run.from_phase, run.through_phase)
        for phase in self.execution.parts.phases:
            self._phase(phase, selected)
        return worst([step.status for step in self.steps])

    def _phase(self, phase: Phase, selected: PhaseRange) -> None:
        if phase.number < selected.first:
            self.gates.extend(self.execution.gate_state(gate) for gate in phase.gates)
        if not selected.covers(phase):
            return
        for entry in phase.entries:
            if isinstance(entry, Gate):
                state = self.execution.gate_state(entry)
                if state.needed:
                    self.gates.append(state)
                continue
            with bound_contextvars(phase=phase.number, step=entry.key):
                self._record(self._plan(phase.number, entry))

    def _plan(self, phase: int, step: Step) -> PlannedStep:
        ctx = self.execution.context(phase)
        try:
            prepared = prepare(step, ctx)
        except Exception as exc:  # noqa: BLE001 - failures are values
            log_failure(exc)
            status, error = failure_of(exc)
            return PlannedStep(phase, step.key, step.title, status, error=error)
        previous = self.execution.parts.store.latest_step(self.execution.delivery.id, step.key)
        settled = self.execution.settled(step, previous)
        if previous is not None and settled and up_to_date(previous, prepared.input_hash):
            self.execution.outputs[step.key] = previous.outputs
            return PlannedStep(phase, step.key, step.title, Status.SKIPPED)
        return _planned(phase, step, self.execution.attempt(step.plan, ctx))

    def _record(self, planned: PlannedStep) -> None:
        self.steps.append(planned)
        now = self.execution.parts.runtime.clock()
        changes = [str(change) for change in planned.changes]
        record = StepRecord(
            self.execution.run.id, planned.phase, planned.key, planned.status, "", now, now,
            {"changes": changes}, planned.error,
        )  # fmt: skip
        self.execution.parts.observers.step_finished(record)


def _planned(phase: int, step: Step, plan: Sequence[Change] | Result) -> PlannedStep:
    if isinstance(plan, Result):
        return PlannedStep(phase, step.key, step.title, plan.status, error=plan.error)
    return PlannedStep(phase, step.key, step.title, Status.PENDING, tuple(plan))
