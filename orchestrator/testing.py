"""Fakes and helpers for testing code that uses the orchestrator; shipped with the package.

- ``InMemoryRunStore``: the ``RunStore`` port in memory, held honest by the store contract tests.
- ``make_delivery``: a ``Delivery`` without a spec file.
- ``ScriptedStep``: a step whose results, failures and crashes are scripted; it records its calls.
- ``scripted_phases``: the real seven phases and gates, every step a ``ScriptedStep``.
- ``SimulatedCrash``: raised where the process would die; nothing in the engine catches it.
- ``CrashingObserver``, ``RecordingObserver``: observers that crash once, or remember everything.
- ``FakeClock``, ``fake_runtime``: a clock that ticks a second per reading; a runtime that never
  sleeps.
- ``EngineBench``: an in-memory store and a clock shared by the engines of one test.
- ``approve_gates``: record the approvals a delivery needs, by the people allowed to give them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from orchestrator.engine.delivery import Delivery, Person
from orchestrator.engine.engine import Engine
from orchestrator.engine.execution import Runtime
from orchestrator.engine.gates import GATES, GateState, People, check_approver
from orchestrator.engine.lock import LockOwner
from orchestrator.engine.observers import RunObserver
from orchestrator.engine.phase import Phase
from orchestrator.engine.retry import NO_RETRY, RetryPolicy
from orchestrator.engine.runners import HostRunner, SerialRunner
from orchestrator.engine.status import Mode
from orchestrator.engine.step import Change, Placeholder, Result, StepContext
from orchestrator.phases import default_phases
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import (
    ActionItem,
    AuditEntry,
    DeliveryRecord,
    EvaluationNote,
    GateDecision,
    HostRecord,
    JsonMap,
    LockRecord,
    PhaseRecord,
    RunRecord,
    StepRecord,
)


def _copy(value: JsonMap) -> JsonMap:
    """What a JSON column gives back: a fresh copy, tuples turned into lists."""
    copied: JsonMap = json.loads(json.dumps(value))
    return copied


class InMemoryRunStore:
    """The run store in memory: same behaviour as ``SqlRunStore``, no database."""

    def __init__(self) -> None:
        self.deliveries: dict[str, DeliveryRecord] = {}
        self.runs: dict[str, RunRecord] = {}
        self.phases: dict[tuple[str, int], PhaseRecord] = {}
        self.steps: dict[tuple[str, str], StepRecord] = {}
        self.hosts: dict[tuple[str, str, str], HostRecord] = {}
        self.decisions: list[GateDecision] = []
        self.action_items: dict[int, ActionItem] = {}
        self.notes: list[EvaluationNote] = []
        self.audit: list[AuditEntry] = []
        self.logs: dict[str, list[str]] = {}
        self.locks: dict[str, LockRecord] = {}

    def close(self) -> None:
        """Nothing to close."""

    def save_delivery(self, delivery: DeliveryRecord) -> None:
        self.deliveries[delivery.id] = replace(delivery, spec=_copy(delivery.spec))

    def get_delivery(self, delivery_id: str) -> DeliveryRecord | None:
        return self.deliveries.get(delivery_id)

    def save_run(self, run: RunRecord) -> None:
        self.runs[run.id] = run

    def get_run(self, run_id: str) -> RunRecord | None:
        return self.runs.get(run_id)

    def list_runs(self, delivery_id: str | None = None, limit: int = 50) -> list[RunRecord]:
        found = [r for r in self.runs.values() if delivery_id in {None, r.delivery_id}]
        return sorted(found, key=lambda r: (r.started_at, r.id), reverse=True)[:limit]

    def save_phase(self, phase: PhaseRecord) -> None:
        self.phases[phase.run_id, phase.number] = phase

    def list_phases(self, run_id: str) -> list[PhaseRecord]:
        return sorted((p for p in self.phases.values() if p.run_id == run_id), key=_number)

    def save_step(self, step: StepRecord) -> None:
        self.steps[step.run_id, step.key] = replace(step, outputs=_copy(step.outputs))

    def list_steps(self, run_id: str) -> list[StepRecord]:
        return [s for s in self.steps.values() if s.run_id == run_id]

    def latest_step(self, delivery_id: str, key: str) -> StepRecord | None:
        applied = {r.id for r in self.runs.values() if _applied_to(r, delivery_id)}
        found = [s for s in self.steps.values() if s.key == key and s.run_id in applied]
        return found[-1] if found else None

    def save_host(self, host: HostRecord) -> None:
        self.hosts[host.run_id, host.step_key, host.host] = replace(
            host, outputs=_copy(host.outputs)
        )

    def list_hosts(self, run_id: str, step_key: str | None = None) -> list[HostRecord]:
        hosts = [h for h in self.hosts.values() if h.run_id == run_id]
        return [h for h in hosts if step_key in {None, h.step_key}]

    def record_decision(self, decision: GateDecision) -> None:
        self.decisions.append(decision)

    def list_decisions(self, delivery_id: str) -> list[GateDecision]:
        return [d for d in self.decisions if d.delivery_id == delivery_id]

    def open_action_item(self, item: ActionItem) -> ActionItem:
        opened = replace(item, id=len(self.action_items) + 1)
        self.action_items[len(self.action_items) + 1] = opened
        return opened

    def close_action_item(self, item_id: int, by: str, resolution: str) -> ActionItem:
        item = self.action_items[item_id]
        if item.open:
            item = replace(item, closed_by=by, closed_at=datetime.now(UTC), resolution=resolution)
            self.action_items[item_id] = item
        return item

    def list_action_items(self, delivery_id: str) -> list[ActionItem]:
        return [i for i in self.action_items.values() if i.delivery_id == delivery_id]

    def add_evaluation_note(self, note: EvaluationNote) -> None:
        self.notes.append(note)

    def list_evaluation_notes(self, delivery_id: str) -> list[EvaluationNote]:
        return [n for n in self.notes if n.delivery_id == delivery_id]

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        appended = replace(entry, id=len(self.audit) + 1, detail=_copy(entry.detail))
        self.audit.append(appended)
        return appended

    def list_audit(self, delivery_id: str | None = None) -> list[AuditEntry]:
        return [e for e in self.audit if delivery_id in {None, e.delivery_id}]

    def append_log_lines(self, run_id: str, lines: Sequence[str]) -> None:
        self.logs.setdefault(run_id, []).extend(lines)

    def read_log_lines(self, run_id: str) -> list[str]:
        return list(self.logs.get(run_id, []))

    def acquire_lock(self, lock: LockRecord) -> LockRecord | None:
        held = self.locks.setdefault(lock.delivery_id, lock)
        return None if held is lock else held

    def release_lock(self, delivery_id: str, run_id: str) -> bool:
        held = self.locks.get(delivery_id)
        return held is not None and held.run_id == run_id and self._unlock(delivery_id)

    def break_lock(self, lock: LockRecord) -> bool:
        held = self.locks.get(lock.delivery_id)
        return held is not None and _same_lock(held, lock) and self._unlock(lock.delivery_id)

    def get_lock(self, delivery_id: str) -> LockRecord | None:
        return self.locks.get(delivery_id)

    def _unlock(self, delivery_id: str) -> bool:
        del self.locks[delivery_id]
        return True


def _number(phase: PhaseRecord) -> int:
    return phase.number


def _applied_to(run: RunRecord, delivery_id: str) -> bool:
    return run.delivery_id == delivery_id and run.mode is Mode.APPLY


def _same_lock(held: LockRecord, lock: LockRecord) -> bool:
    return (held.run_id, held.host, held.pid) == (lock.run_id, lock.host, lock.pid)


# deliveries, time and the runtime

T0 = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)


def make_delivery(
    delivery_id: str = "acme-webshop",
    *,
    spec_hash: str = "spec-1",
    unsigned: tuple[str, ...] = (),
) -> Delivery:
    """A delivery led by Alice Lead and managed by Dana Manager, without a spec file."""
    return Delivery(
        id=delivery_id,
        lead_engineer=Person("Alice Lead", "alice@hosting.example.com"),
        delivery_manager=Person("Dana Manager", "dana@hosting.example.com"),
        spec_hash=spec_hash,
        snapshot={"id": delivery_id, "hash": spec_hash},
        unsigned=unsigned,
    )


class FakeClock:
    """A clock that starts at ``T0`` and moves one second every time it is read."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def fake_runtime(
    clock: FakeClock | None = None,
    *,
    pid: int = 1001,
    alive: Callable[[LockRecord], bool] = lambda _lock: True,
) -> Runtime:
    """A runtime on host ``test-host`` as process ``pid``, with run ids from the clock, no sleep."""
    return Runtime(
        clock=clock or FakeClock(),
        run_id=lambda now: f"run-{now:%H%M%S}",
        owner=LockOwner("test-host", pid),
        holder_alive=alive,
        sleep=lambda _seconds: None,
    )


@dataclass
class EngineBench:
    """An in-memory store and a clock shared by the engines of one test (so run ids differ)."""

    store: InMemoryRunStore = field(default_factory=InMemoryRunStore)
    clock: FakeClock = field(default_factory=FakeClock)

    def engine(  # noqa: PLR0913 - the engine's seams, each optional
        self,
        phases: Sequence[Phase],
        *,
        observers: Sequence[RunObserver] = (),
        retry: RetryPolicy = NO_RETRY,
        runner: HostRunner | None = None,
        pid: int = 1001,
        alive: Callable[[LockRecord], bool] = lambda _lock: True,
    ) -> Engine:
        """An engine on this bench's store and clock, running as process ``pid``."""
        runtime = fake_runtime(self.clock, pid=pid, alive=alive)
        return Engine(
            self.store,
            phases,
            observers=observers,
            retry=retry,
            runner=runner or SerialRunner(),
            runtime=runtime,
        )


def approve_gates(store: RunStore, delivery: Delivery, *names: str) -> None:
    """Record approvals of ``names`` (all gates when none are named) by allowed people."""
    people = People(delivery.lead_engineer, delivery.delivery_manager)
    for gate in (GATES[name] for name in names or GATES):
        who = "Bob Buddy" if gate.name == "buddycheck" else delivery.delivery_manager.name
        role = check_approver(gate, who, people)
        store.record_decision(GateDecision(delivery.id, gate.name, who, role.value, "ok", T0))


# steps


class SimulatedCrash(BaseException):
    """The process dies here: not an ``Exception``, so the engine records nothing more."""


type CrashPoint = Literal["before", "after"]


@dataclass(eq=False)
class ScriptedStep:
    """A step that does what it is told and remembers every call.

    ``outcomes[host]`` (``""`` for a delivery-wide step) lists what successive ``apply()`` calls
    return or raise; once used up, calls succeed. ``crashes`` lists where the next applies die:
    ``"before"`` the step's effect, or ``"after"`` it (before the engine records it).
    """

    key: str
    title: str = "scripted step"
    depends_on: JsonMap = field(default_factory=dict)
    uses: tuple[str, ...] = ()
    host_names: tuple[str, ...] = ()
    outcomes: dict[str, list[Result | Exception]] = field(default_factory=dict)
    crashes: list[CrashPoint] = field(default_factory=list)
    changes: tuple[Change, ...] = (Change("create", "thing"),)
    applied: list[str] = field(default_factory=list)
    attempts: int = 0

    def inputs(self, ctx: StepContext) -> JsonMap:
        upstream = {key: ctx.outputs.get(key) for key in self.uses}
        return {"depends_on": self.depends_on, "upstream": upstream}

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return self.host_names

    def plan(self, ctx: StepContext) -> Sequence[Change]:  # noqa: ARG002 - the Step protocol
        return self.changes

    def apply(self, ctx: StepContext) -> Result:
        host = ctx.host or ""
        self.attempts += 1
        self._maybe_crash("before")
        outcome = self._next(host)
        if isinstance(outcome, Exception):
            raise outcome
        self.applied.append(host)
        self._maybe_crash("after")
        return outcome

    def _next(self, host: str) -> Result | Exception:
        scripted = self.outcomes.get(host)
        if scripted:
            return scripted.pop(0)
        return Result(changed=True, outputs={"by": self.key, "host": host, **self.depends_on})

    def _maybe_crash(self, point: CrashPoint) -> None:
        if self.crashes and self.crashes[0] == point:
            self.crashes.pop(0)
            raise SimulatedCrash(f"{point} {self.key}")


def scripted_phases(
    hosts: tuple[str, ...] = (),
) -> tuple[tuple[Phase, ...], dict[str, ScriptedStep]]:
    """The seven phases with their gates, each placeholder replaced by a ``ScriptedStep``."""
    steps: dict[str, ScriptedStep] = {}
    phases = tuple(
        replace(phase, entries=tuple(_scripted(entry, steps, hosts) for entry in phase.entries))
        for phase in default_phases()
    )
    return phases, steps


def _scripted[E](
    entry: E, steps: dict[str, ScriptedStep], hosts: tuple[str, ...]
) -> E | ScriptedStep:
    if not isinstance(entry, Placeholder):
        return entry
    steps[entry.key] = ScriptedStep(entry.key, entry.title, host_names=hosts)
    return steps[entry.key]


# observers


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

    def step_started(self, step: StepRecord) -> None:
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
