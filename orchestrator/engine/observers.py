"""Observers of a run: the run store, the logs and the progress display all watch the engine.

The engine calls every observer, in order, from the thread that runs it; an observer that raises
crashes the run (the checkpointer is one, and a run that cannot be recorded must not go on).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog

from orchestrator.engine.delivery import Delivery
from orchestrator.engine.gates import GateState
from orchestrator.engine.status import Status
from orchestrator.store.records import HostRecord, PhaseRecord, RunRecord, StepRecord

log = structlog.get_logger("orchestrator.engine")


class RunObserver(Protocol):
    """Told what a run does, as it does it."""

    def run_started(self, run: RunRecord, delivery: Delivery, *, resumed: bool) -> None: ...
    def phase_started(self, phase: PhaseRecord) -> None: ...
    def gate_checked(self, run: RunRecord, state: GateState) -> None: ...
    def step_started(self, step: StepRecord, hosts: Sequence[str]) -> None:
        """``step`` begins its work on ``hosts`` (none for a delivery-wide step); the hosts
        already done with the same inputs are among them and finish first, as skipped."""
        ...

    def host_finished(self, host: HostRecord) -> None: ...
    def step_finished(self, step: StepRecord) -> None: ...
    def phase_finished(self, phase: PhaseRecord) -> None: ...
    def run_finished(self, run: RunRecord) -> None: ...


class Observers:
    """Fan one event out to every observer, in order."""

    def __init__(self, observers: Sequence[RunObserver]) -> None:
        self._observers = tuple(observers)

    def run_started(self, run: RunRecord, delivery: Delivery, *, resumed: bool) -> None:
        for observer in self._observers:
            observer.run_started(run, delivery, resumed=resumed)

    def phase_started(self, phase: PhaseRecord) -> None:
        for observer in self._observers:
            observer.phase_started(phase)

    def gate_checked(self, run: RunRecord, state: GateState) -> None:
        for observer in self._observers:
            observer.gate_checked(run, state)

    def step_started(self, step: StepRecord, hosts: Sequence[str]) -> None:
        for observer in self._observers:
            observer.step_started(step, hosts)

    def host_finished(self, host: HostRecord) -> None:
        for observer in self._observers:
            observer.host_finished(host)

    def step_finished(self, step: StepRecord) -> None:
        for observer in self._observers:
            observer.step_finished(step)

    def phase_finished(self, phase: PhaseRecord) -> None:
        for observer in self._observers:
            observer.phase_finished(phase)

    def run_finished(self, run: RunRecord) -> None:
        for observer in self._observers:
            observer.run_finished(run)


_VERBS = {
    Status.PENDING: "planned",
    Status.RUNNING: "started",
    Status.SUCCEEDED: "succeeded",
    Status.FAILED: "failed",
    Status.CRASHED: "crashed",
    Status.SKIPPED: "skipped",
    Status.WAITING: "paused",
}
_LEVELS = {Status.FAILED: "error", Status.CRASHED: "error", Status.WAITING: "warning"}


def event_name(subject: str, status: Status) -> str:
    """``step`` + ``failed`` -> ``step_failed``: log events are past tense."""
    return f"{subject}_{_VERBS[status]}"


#: Every event ``LoggingObserver`` logs: what a progress display shows in its own way.
LIFECYCLE_EVENTS = frozenset(
    {"run_started", "run_resumed", "gate_passed", "gate_closed"}
    | {
        event_name(subject, status)
        for subject in ("run", "phase", "step", "host")
        for status in Status
    }
)


class LoggingObserver:
    """Logs every event of a run; the engine binds delivery, run, phase, step and host."""

    def run_started(self, run: RunRecord, delivery: Delivery, *, resumed: bool) -> None:  # noqa: ARG002 - the protocol
        log.info(
            "run_resumed" if resumed else "run_started",
            mode=run.mode.value,
            who=run.who,
            phases=f"{run.from_phase}..{run.through_phase}",
            spec_hash=run.spec_hash,
        )

    def phase_started(self, phase: PhaseRecord) -> None:
        log.info("phase_started", name=phase.name)

    def gate_checked(self, run: RunRecord, state: GateState) -> None:  # noqa: ARG002 - the protocol
        if state.passed and state.approval is not None:
            log.info("gate_passed", gate=state.gate.name, approved_by=state.approval.by)
        else:
            log.warning("gate_closed", gate=state.gate.name, blockers=list(state.blockers))

    def step_started(self, step: StepRecord, hosts: Sequence[str]) -> None:
        log.info("step_started", input_hash=step.input_hash[:12], hosts=len(hosts))

    def host_finished(self, host: HostRecord) -> None:
        _log(event_name("host", host.status), host.status, changed=host.changed, error=host.error)

    def step_finished(self, step: StepRecord) -> None:
        _log(event_name("step", step.status), step.status, error=step.error)

    def phase_finished(self, phase: PhaseRecord) -> None:
        _log(event_name("phase", phase.status), phase.status, name=phase.name)

    def run_finished(self, run: RunRecord) -> None:
        _log(event_name("run", run.status), run.status, reason=run.reason)


def _log(event: str, status: Status, **fields: object) -> None:
    present = {name: value for name, value in fields.items() if value is not None}
    getattr(log, _LEVELS.get(status, "info"))(event, **present)
