"""Carrying out one run: phases in order, gates checked, steps skipped, applied or carried over.

Every decision here is made from the store's checkpoints and the steps' inputs; every effect is a
step's ``apply()`` or an observer. Failures are values: a step's exception becomes its status
(``failure_of``) and the run stops after the first phase that did not succeed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType

import structlog
from structlog.contextvars import bound_contextvars

from orchestrator.engine.batch import Batch, BatchStep
from orchestrator.engine.delivery import Delivery
from orchestrator.engine.errors import OrchestratorError, PermanentError, TransientError
from orchestrator.engine.findings import failing, results_in
from orchestrator.engine.gates import (
    GATES,
    Gate,
    GateState,
    People,
    gate_state,
    operations_team,
)
from orchestrator.engine.interrupts import RunInterrupted
from orchestrator.engine.lock import LockOwner, holder_alive
from orchestrator.engine.observers import Observers
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.runners import HostRunner
from orchestrator.engine.status import Status
from orchestrator.engine.step import Rechecking, Result, Step, StepContext, input_hash
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import (
    HostRecord,
    JsonMap,
    LockRecord,
    PhaseRecord,
    RunRecord,
    StepRecord,
)

log = structlog.get_logger("orchestrator.engine")


def utc_now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def new_run_id(now: datetime) -> str:
    """A run id that sorts by time and is unique enough: ``20250110-090000-3fa2c1``."""
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the engine takes from the world: time, ids, identity, process liveness, sleeping."""

    clock: Callable[[], datetime] = utc_now
    run_id: Callable[[datetime], str] = new_run_id
    owner: LockOwner = field(default_factory=LockOwner.here)
    holder_alive: Callable[[LockRecord], bool] = holder_alive
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True, slots=True)
class Parts:
    """Everything a run is carried out with."""

    store: RunStore
    phases: tuple[Phase, ...]
    observers: Observers
    retry: RetryPolicy
    runner: HostRunner
    runtime: Runtime


@dataclass(frozen=True, slots=True)
class Ending:
    """How a run (or the part of it done so far) ended."""

    status: Status
    reason: str | None = None
    gate: GateState | None = None


DONE = Ending(Status.SUCCEEDED)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A step's fingerprint and hosts, worked out before deciding whether to run it."""

    input_hash: str
    hosts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Timed:
    """A host's result and when it was worked on."""

    result: Result
    started: datetime
    finished: datetime


def failure_of(exc: Exception) -> tuple[Status, str]:
    """The status and message an exception from a step stands for."""
    if isinstance(exc, PermanentError):
        return Status.FAILED, str(exc)
    if isinstance(exc, TransientError):
        return Status.CRASHED, f"gave up after retrying: {exc}"
    return Status.CRASHED, f"{type(exc).__name__}: {exc}"


def up_to_date(previous: StepRecord | None, fingerprint: str) -> bool:
    """Whether a step's last checkpoint is done with the same inputs."""
    return previous is not None and previous.status.done and previous.input_hash == fingerprint


def worst(statuses: Sequence[Status]) -> Status:
    """The status of a whole made of parts: crashed over failed over done."""
    for status in (Status.CRASHED, Status.FAILED):
        if status in statuses:
            return status
    return Status.SUCCEEDED


def prepare(step: Step, ctx: StepContext) -> Prepared:
    """Work out a step's hosts and input fingerprint (may raise: the step's own code)."""
    hosts = tuple(step.hosts(ctx))
    return Prepared(input_hash(step.key, step.inputs(ctx), hosts), hosts)


def log_failure(exc: Exception) -> None:
    """Put a bug's traceback in the run log; expected errors need no traceback."""
    if not isinstance(exc, OrchestratorError):
        log.error("step_raised", exc_info=exc)


class Execution:
    """One run being carried out, from its first selected phase to where it stops."""

    def __init__(self, parts: Parts, run: RunRecord, delivery: Delivery) -> None:
        self.parts = parts
        self.run = run
        self.delivery = delivery
        self.outputs: dict[str, JsonMap] = {}
        self.people = People(
            delivery.lead_engineer, delivery.delivery_manager, operations_team(delivery.snapshot)
        )

    def go(self, earlier_outputs: dict[str, JsonMap]) -> Ending:
        """Carry out the run; never raises for a step's or the store's failure."""
        self.outputs.update(earlier_outputs)
        try:
            return self._phases()
        except RunInterrupted as exc:
            return Ending(Status.CRASHED, f"interrupted by {exc.signal_name}; resume continues")
        except Exception as exc:  # our side broke: the run crashed and says why
            log.exception("run_raised")
            return Ending(Status.CRASHED, f"{type(exc).__name__}: {exc}")

    def _now(self) -> datetime:
        return self.parts.runtime.clock()

    def _phases(self) -> Ending:
        selected = PhaseRange(self.run.from_phase, self.run.through_phase)
        ending = self._earlier_gates(selected.first)
        for phase in (phase for phase in self.parts.phases if selected.covers(phase)):
            if not ending.status.done:
                break
            ending = self._phase(phase)
        return ending

    def _earlier_gates(self, first: int) -> Ending:
        for phase in self.parts.phases[: first - 1]:
            for gate in phase.gates:
                ending = self._gate(gate)
                if not ending.status.done:
                    return ending
        return DONE

    def _phase(self, phase: Phase) -> Ending:
        record = PhaseRecord(self.run.id, phase.number, phase.name, Status.RUNNING, self._now())
        with bound_contextvars(phase=phase.number):
            self.parts.observers.phase_started(record)
            try:
                ending = self._entries(phase)
            except RunInterrupted:
                self._phase_finished(record, Status.CRASHED)
                raise
            self._phase_finished(record, ending.status)
        return ending

    def _phase_finished(self, record: PhaseRecord, status: Status) -> None:
        self.parts.observers.phase_finished(replace(record, status=status, finished_at=self._now()))

    def _entries(self, phase: Phase) -> Ending:
        for entry in phase.entries:
            if isinstance(entry, Gate):
                ending = self._gate(entry)
            else:
                ending = self._step(phase.number, entry)
            if not ending.status.done:
                return ending
        return DONE

    def _gate(self, gate: Gate) -> Ending:
        state = self.gate_state(gate)
        self.parts.observers.gate_checked(self.run, state)
        if state.passed:
            return DONE
        return Ending(Status.WAITING, state.explain(self.people), state)

    def gate_state(self, gate: Gate) -> GateState:
        """Where ``gate`` stands for this delivery, from the store."""
        store, delivery_id = self.parts.store, self.delivery.id
        open_items = [item for item in store.list_action_items(delivery_id) if item.open]
        decisions = store.list_decisions(delivery_id)
        needed = gate.applies(self.delivery.snapshot)
        return gate_state(
            gate, decisions, open_items, self.delivery.unsigned, needed=needed,
            evidence=self._evidence(gate),
        )  # fmt: skip

    def _evidence(self, gate: Gate) -> str:
        """The evidence a gate's approval must have signed: its evidence step's, as this run has
        it (done or carried over), else as the store last recorded it."""
        if gate.evidence_step is None:
            return ""
        outputs = self.outputs.get(gate.evidence_step)
        if outputs is None:
            step = self.parts.store.latest_step(self.delivery.id, gate.evidence_step)
            outputs = step.outputs if step is not None and step.status.done else {}
        return str(outputs.get("evidence") or "")

    def context(self, phase: int) -> StepContext:
        """A step's context: the outputs of the steps done so far."""
        outputs = MappingProxyType(dict(self.outputs))
        return StepContext(self.delivery, self.run.id, phase, outputs, audit=self.parts.store)

    def _step(self, phase: int, step: Step) -> Ending:
        with bound_contextvars(step=step.key):
            ctx = self.context(phase)
            try:
                prepared = prepare(step, ctx)
            except Exception as exc:  # noqa: BLE001 - failures are values
                return self._unprepared(phase, step, exc)
            previous = self.parts.store.latest_step(self.delivery.id, step.key)
            if not self.settled(step, previous):
                previous = None  # nothing of an earlier run stands in: look again, every host
            if previous is not None and up_to_date(previous, prepared.input_hash):
                return self._skip(phase, previous)
            return self._apply(step, ctx, prepared, previous)

    def settled(self, step: Step, previous: StepRecord | None) -> bool:
        """Whether a checkpoint may stand for ``step``: always, unless the step looks at the
        platform again on every run (``Rechecking``) and its gate has no current approval."""
        if not isinstance(step, Rechecking) or previous is None:
            return True
        return previous.run_id == self.run.id or self.gate_state(GATES[step.settled_by]).passed

    def _unprepared(self, phase: int, step: Step, exc: Exception) -> Ending:
        log_failure(exc)
        status, error = failure_of(exc)
        now = self._now()
        record = StepRecord(self.run.id, phase, step.key, status, "", now, now, error=error)
        self.parts.observers.step_finished(record)
        return Ending(status, f"step {step.key} {status}: {error}")

    def _skip(self, phase: int, previous: StepRecord) -> Ending:
        self.outputs[previous.key] = previous.outputs
        if previous.run_id != self.run.id:
            now = self._now()
            skipped = StepRecord(
                self.run.id, phase, previous.key, Status.SKIPPED, previous.input_hash, now, now,
                previous.outputs,
            )  # fmt: skip
            self.parts.observers.step_finished(skipped)
        return Ending(Status.SKIPPED)

    def _apply(
        self, step: Step, ctx: StepContext, prepared: Prepared, previous: StepRecord | None
    ) -> Ending:
        running = StepRecord(
            self.run.id, ctx.phase, step.key, Status.RUNNING, prepared.input_hash, self._now()
        )
        self.parts.observers.step_started(running, prepared.hosts)
        try:
            result = self._perform(step, ctx, prepared, previous)
        except RunInterrupted as exc:
            self._step_finished(running, Result(Status.CRASHED, error=f"interrupted by {exc}"))
            raise
        finished = self._step_finished(running, result)
        if finished.status.done:
            self.outputs[step.key] = finished.outputs
        return Ending(finished.status, f"step {step.key} {finished.status}: {finished.error}")

    def _step_finished(self, running: StepRecord, result: Result) -> StepRecord:
        finished = replace(
            running,
            status=_settled(result.status),
            finished_at=self._now(),
            outputs=result.outputs,
            error=result.error if result.status in _SETTLED else f"step said {result.status}",
        )
        self.parts.observers.step_finished(finished)
        return finished

    def _perform(
        self, step: Step, ctx: StepContext, prepared: Prepared, previous: StepRecord | None
    ) -> Result:
        if not prepared.hosts:
            return self._accepted(self.attempt(step.apply, ctx), None)
        return self._fan_out(step, ctx, prepared, previous)

    def _accepted(self, result: Result, host: str | None) -> Result:
        """A result that failed only on checks people accepted (``orchestrator.engine.findings``)
        succeeds: the finding stays on record, closed by hand, and no longer holds the run."""
        if result.status is not Status.FAILED:
            return result
        results = results_in({"hosts": {host: result.outputs}} if host else result.outputs)
        failed = [r for r in results if not r.passed]
        items = self.parts.store.list_action_items(self.delivery.id) if failed else []
        if not failed or failing(failed, items):
            return result
        return replace(result, status=Status.SUCCEEDED, error=None)

    def attempt[T](self, call: Callable[[StepContext], T], ctx: StepContext) -> T | Result:
        """``call(ctx)`` under the retry policy; an exception becomes a failed or crashed result."""
        try:
            return self.parts.retry.call(lambda: call(ctx), self.parts.runtime.sleep)
        except Exception as exc:  # noqa: BLE001 - failures are values
            log_failure(exc)
            status, error = failure_of(exc)
            return Result(status, error=error)

    def _fan_out(
        self, step: Step, ctx: StepContext, prepared: Prepared, previous: StepRecord | None
    ) -> Result:
        carried = self._carried_hosts(step.key, prepared, previous)
        records = [self._carry(record) for record in carried.values()]
        todo = [host for host in prepared.hosts if host not in carried]
        if isinstance(step, BatchStep):
            finished: Iterable[tuple[str, Timed]] = self._batched(step, ctx, todo)
        else:
            finished = self.parts.runner.run(todo, lambda h: self._timed(step, ctx, h))
        for host, timed in finished:
            records.append(self._host_finished(step.key, prepared.input_hash, host, timed))
        return aggregate(records)

    def _batched(
        self, step: BatchStep, ctx: StepContext, hosts: Sequence[str]
    ) -> list[tuple[str, Timed]]:
        """All ``hosts`` in one ``apply_hosts`` call; hosts with a transient error are retried."""
        if not hosts:
            return []
        batch, started = Batch(step, hosts), self._now()
        gave_up = self.attempt(batch.once, ctx)
        finished = self._now()
        results = {host: _host_result(batch, host, gave_up) for host in hosts}
        return [(host, Timed(results[host], started, finished)) for host in hosts]

    def _carried_hosts(
        self, key: str, prepared: Prepared, previous: StepRecord | None
    ) -> dict[str, HostRecord]:
        """Hosts already done with the same inputs: a resume retries only the others."""
        if previous is None or previous.input_hash != prepared.input_hash:
            return {}
        hosts = self.parts.store.list_hosts(previous.run_id, key)
        return {h.host: h for h in hosts if h.status.done and h.host in prepared.hosts}

    def _carry(self, record: HostRecord) -> HostRecord:
        if record.run_id == self.run.id:
            return record
        now = self._now()
        carried = replace(
            record, run_id=self.run.id, status=Status.SKIPPED, started_at=now, finished_at=now,
            changed=False, tasks=(),
        )  # fmt: skip
        with bound_contextvars(host=record.host):
            self.parts.observers.host_finished(carried)
        return carried

    def _timed(self, step: Step, ctx: StepContext, host: str) -> Timed:
        with bound_contextvars(host=host):
            started = self._now()
            result = self.attempt(step.apply, ctx.for_host(host))
            return Timed(result, started, self._now())

    def _host_finished(self, key: str, fingerprint: str, host: str, timed: Timed) -> HostRecord:
        result = self._accepted(timed.result, host)
        record = HostRecord(
            self.run.id, key, host, _settled(result.status), fingerprint, timed.started,
            timed.finished, result.changed, result.outputs, result.error, result.tasks,
        )  # fmt: skip
        with bound_contextvars(host=host):
            self.parts.observers.host_finished(record)
        return record


def _host_result(batch: Batch, host: str, gave_up: Result | None) -> Result:
    """A host's result in a batch: its own, or how the batch ended for the hosts still pending."""
    outcome = batch.results.get(host)
    if gave_up is not None and (outcome is None or host in batch.pending):
        return gave_up
    if isinstance(outcome, Result):
        return outcome
    status, error = failure_of(outcome) if outcome else (Status.CRASHED, "no result")
    return Result(status, error=error)


_SETTLED = {Status.SUCCEEDED, Status.SKIPPED, Status.FAILED, Status.CRASHED}


def _settled(status: Status) -> Status:
    """A step may only end succeeded, skipped, failed or crashed; anything else is a bug."""
    return status if status in _SETTLED else Status.CRASHED


def aggregate(hosts: Sequence[HostRecord]) -> Result:
    """One result for a step from its hosts' results: one failed host fails the step."""
    errors = [f"{h.host}: {h.error}" for h in hosts if not h.status.done]
    return Result(
        status=worst([h.status for h in hosts]),
        changed=any(h.changed for h in hosts),
        outputs={"hosts": {h.host: h.outputs for h in hosts}},
        error="; ".join(errors) or None,
    )
