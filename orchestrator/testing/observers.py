"""Observers of the engine for tests: ``RecordingObserver`` remembers every event,
``CrashingObserver`` crashes once where it is told."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from orchestrator.engine.delivery import Delivery
from orchestrator.engine.gates import GateState
from orchestrator.store.records import HostRecord, PhaseRecord, RunRecord, StepRecord
from orchestrator.testing.steps import SimulatedCrash


class RecordingObserver:
    """Remembers every event as ``(event, subject)``: ``("step_finished", "network.vlan")``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.records: list[object] = []

    def _saw(self, event: str, subject: str, record: object) -> None:
        self.events.append((event, subject))
        self.records.append(record)

    def run_started(self, run: RunRecord, delivery: Delivery, *, resumed: bool) -> None:
        self._saw("run_resumed" if resumed else "run_started", delivery.id, run)

    def phase_started(self, phase: PhaseRecord) -> None:
        self._saw("phase_started", str(phase.number), phase)

    def gate_checked(self, run: RunRecord, state: GateState) -> None:  # noqa: ARG002 - protocol
        self._saw("gate_checked", state.gate.name, state)

    def step_started(self, step: StepRecord, hosts: Sequence[str]) -> None:  # noqa: ARG002 - the protocol
        self._saw("step_started", step.key, step)

    def host_finished(self, host: HostRecord) -> None:
        self._saw("host_finished", f"{host.step_key}@{host.host}", host)

    def step_finished(self, step: StepRecord) -> None:
        self._saw("step_finished", step.key, step)

    def phase_finished(self, phase: PhaseRecord) -> None:
        self._saw("phase_finished", str(phase.number), phase)

    def run_finished(self, run: RunRecord) -> None:
        self._saw("run_finished", run.id, run)


class CrashingObserver(RecordingObserver):
    """Raises ``SimulatedCrash`` once, right after the engine reports ``event`` for ``subject``."""

    def __init__(self, event: str, subject: str) -> None:
        super().__init__()
        self.at = (event, subject)
        self.crashed = False

    def _saw(self, event: str, subject: str, record: object) -> None:
        super()._saw(event, subject, record)
        if (event, subject) == self.at and not self.crashed:
            self.crashed = True
            raise SimulatedCrash(f"{event} {subject}")


def keys_of(events: Iterable[tuple[str, str]], event: str) -> list[str]:
    """The subjects of one kind of event, in order."""
    return [subject for name, subject in events if name == event]
