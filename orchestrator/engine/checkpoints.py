"""The checkpointer: the observer that writes every run, phase, step and host to the run store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from orchestrator.engine.delivery import Delivery
from orchestrator.engine.gates import GateState
from orchestrator.engine.status import Mode
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import AuditEntry, HostRecord, PhaseRecord, RunRecord, StepRecord


class Checkpointer:
    """Records a run as it goes, so a re-run can skip and a resume can continue."""

    def __init__(self, store: RunStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def run_started(self, run: RunRecord, delivery: Delivery, *, resumed: bool) -> None:
        if run.mode is Mode.APPLY or self._store.get_delivery(delivery.id) is None:
            self._store.save_delivery(delivery.record(self._clock()))
        self._store.save_run(run)
        self._audit(run, "run_resumed" if resumed else "run_started", command=run.command)

    def phase_started(self, phase: PhaseRecord) -> None:
        self._store.save_phase(phase)

    def gate_checked(self, run: RunRecord, state: GateState) -> None:
        """Gates are decided by people (``approve``); nothing to record here."""

    def step_started(self, step: StepRecord, hosts: Sequence[str]) -> None:  # noqa: ARG002 - the protocol
        self._store.save_step(step)

    def host_finished(self, host: HostRecord) -> None:
        self._store.save_host(host)

    def step_finished(self, step: StepRecord) -> None:
        self._store.save_step(step)

    def phase_finished(self, phase: PhaseRecord) -> None:
        self._store.save_phase(phase)

    def run_finished(self, run: RunRecord) -> None:
        self._store.save_run(run)
        self._audit(run, "run_finished", status=run.status.value)

    def _audit(self, run: RunRecord, action: str, **detail: str) -> None:
        entry = AuditEntry(self._clock(), run.who, action, run.delivery_id, run.id, detail)
        self._store.append_audit(entry)
