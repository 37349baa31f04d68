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
- ``InMemoryIpam``: the ``Ipam`` port (NetBox) in memory, with scripted faults; servers recorded
  before any delivery (``existing_server``, ``existing_address``).
- ``InMemoryHostRecords``: the ``HostRecords`` port over an ``InMemoryIpam``'s rows.
- ``ScriptedMonitoringStatus``: the ``MonitoringStatus`` port, saying what a test tells it.
- ``ScriptedChecks``: the ``PlatformChecks`` port (phase 4's checks on the hosts), scripted
  (``orchestrator.testing_checks``); ``fake_adapters`` hands one out.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal, Never

from orchestrator.engine.approvals import evidence_now
from orchestrator.engine.delivery import Delivery, Person
from orchestrator.engine.engine import Engine
from orchestrator.engine.errors import Exhausted, KeyTaken, Refused
from orchestrator.engine.execution import Runtime
from orchestrator.engine.gates import (
    GATES,
    Gate,
    GateState,
    People,
    check_approver,
    operations_team,
)
from orchestrator.engine.lock import LockOwner
from orchestrator.engine.observers import RunObserver
from orchestrator.engine.phase import Entry, Phase
from orchestrator.engine.ports.app_probe import MAX_BODY, HttpAnswer, HttpProbe
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD
from orchestrator.engine.ports.identity import Approver, Authenticator, KnownPerson
from orchestrator.engine.ports.ipam import STATUS_KINDS, Ipam, Kind, New, Note, Owned, Ref
from orchestrator.engine.retry import NO_RETRY, RetryPolicy
from orchestrator.engine.runners import HostRunner, SerialRunner
from orchestrator.engine.status import Mode
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.phases import all_phases
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import (
    ActionItem,
    AuditEntry,
    CheckIn,
    DeliveryRecord,
    EvaluationNote,
    GateDecision,
    HostRecord,
    Json,
    JsonMap,
    LockRecord,
    PhaseRecord,
    RunRecord,
    StateKind,
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
        self.checkins: list[CheckIn] = []
        self.audit: list[AuditEntry] = []
        self.logs: dict[str, list[str]] = {}
        self.locks: dict[str, LockRecord] = {}
        self.state: dict[tuple[str, StateKind, str], str] = {}
        self._state_lock = threading.Lock()  # threaded runners share one store

    def close(self) -> None:
        """Nothing to close."""

    def save_delivery(self, delivery: DeliveryRecord) -> None:
        self.deliveries[delivery.id] = replace(delivery, spec=_copy(delivery.spec))

    def get_delivery(self, delivery_id: str) -> DeliveryRecord | None:
        return self.deliveries.get(delivery_id)

    def list_deliveries(self) -> list[DeliveryRecord]:
        return sorted(self.deliveries.values(), key=lambda d: (-d.updated_at.timestamp(), d.id))

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

    def add_checkin(self, checkin: CheckIn) -> None:
        self.checkins.append(checkin)

    def list_checkins(self, delivery_id: str) -> list[CheckIn]:
        return [c for c in self.checkins if c.delivery_id == delivery_id]

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

    def claim_state(self, delivery_id: str, kind: StateKind, name: str, value: str) -> str:
        with self._state_lock:
            return self.state.setdefault((delivery_id, kind, name), value)

    def list_state(self, delivery_id: str, kind: StateKind) -> dict[str, str]:
        with self._state_lock:
            held = [(n, v) for (d, k, n), v in self.state.items() if (d, k) == (delivery_id, kind)]
        return dict(sorted(held))

    def forget_state(self, delivery_id: str) -> int:
        with self._state_lock:
            gone = [key for key in self.state if key[0] == delivery_id]
            for key in gone:
                del self.state[key]
        return len(gone)


def _number(phase: PhaseRecord) -> int:
    return phase.number


def _applied_to(run: RunRecord, delivery_id: str) -> bool:
    return run.delivery_id == delivery_id and run.mode is Mode.APPLY


def _same_lock(held: LockRecord, lock: LockRecord) -> bool:
    return (held.run_id, held.host, held.pid) == (lock.run_id, lock.host, lock.pid)


# deliveries, time and the runtime

T0 = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
#: The operations team a test delivery names (the spec's ``operations``).
OPERATIONS: JsonMap = {"team": "Ops Nights", "email": "ops@hosting.example.com"}


def make_delivery(
    delivery_id: str = "acme-webshop",
    *,
    spec_hash: str = "spec-1",
    unsigned: tuple[str, ...] = (),
) -> Delivery:
    """A delivery led by Alice Lead and managed by Dana Manager, handed over to the operations
    team Ops Nights, without a spec file."""
    return Delivery(
        id=delivery_id,
        lead_engineer=Person("Alice Lead", "alice@hosting.example.com"),
        delivery_manager=Person("Dana Manager", "dana@hosting.example.com"),
        spec_hash=spec_hash,
        snapshot={"id": delivery_id, "hash": spec_hash, "operations": OPERATIONS},
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


def known_person(name: str, email: str, *roles: str, login: str | None = None) -> KnownPerson:
    """A person the site knows, with ``roles``; their login is their first name, lower case."""
    return KnownPerson(login or name.split(maxsplit=1)[0].lower(), name, email, frozenset(roles))


#: A second engineer, who may sign off any buddycheck where they are not the lead engineer.
BOB_BUDDY = known_person("Bob Buddy", "bob@hosting.example.com", "engineer")
#: Someone of the operations team, who may accept any delivery for operations.
OLGA_OPS = known_person("Olga Ops", "olga@hosting.example.com", "operations")


def site_people(delivery: Delivery) -> dict[str, KnownPerson]:
    """The site's people for a test delivery: its lead engineer and delivery manager with their
    roles, Bob Buddy (engineer), Olga Ops (operations) and a CI account (``ci``)."""
    lead, manager = delivery.lead_engineer, delivery.delivery_manager
    people = (
        known_person(lead.name, lead.email, "lead_engineer", "engineer"),
        known_person(manager.name, manager.email, "delivery_manager"),
        BOB_BUDDY,
        OLGA_OPS,
        known_person("CI", "ci@hosting.example.com", "ci", login="ci"),
    )
    return {person.login: person for person in people}


@dataclass(frozen=True, slots=True)
class FixedIdentity:
    """An ``Authenticator`` that is always the given person (``method`` ``test``); the rules
    are the same as for ``LoginIdentity`` (held by tests/unit/test_identity.py)."""

    person: KnownPerson

    def authenticate(self, statement: str) -> Approver:  # noqa: ARG002 - nothing is signed
        return Approver(self.person, "test", self.person.login)


def approve_gates(store: RunStore, delivery: Delivery, *names: str) -> None:
    """Record approvals of ``names`` (all gates when none are named) by allowed people, each
    signing the gate's evidence as the store has it now."""
    people = People(
        delivery.lead_engineer, delivery.delivery_manager, operations_team(delivery.snapshot)
    )
    manager = site_people(delivery)[delivery.delivery_manager.name.split()[0].lower()]
    by_gate = {"buddycheck": BOB_BUDDY, "ops_acceptance": OLGA_OPS, "write_freeze": BOB_BUDDY}
    for gate in (GATES[name] for name in names or GATES):
        approver = FixedIdentity(by_gate.get(gate.name, manager))
        who = approver.authenticate("")
        role = check_approver(gate, who, people)
        evidence = evidence_now(store, delivery.id, gate)
        decision = GateDecision(delivery.id, gate.name, who.name, role.value, "ok", T0, evidence)
        store.record_decision(decision)


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


def unwired() -> Never:
    """An adapter source for phases whose steps a test replaces: using it is a test bug."""
    raise AssertionError("this test did not wire the adapter a step asked for")


def catalogue() -> tuple[Phase, ...]:
    """Phases 1-7 with no adapters behind them, for tests of their shape (keys, gates)."""
    return all_phases(unwired, unwired, unwired)


@dataclass(frozen=True, slots=True)
class FixedComposition:
    """A ``Composition`` for CLI tests: given phases and NetBox, whatever the site."""

    fixed_phases: Sequence[Phase] = field(default_factory=catalogue)
    fixed_ipam: Ipam | None = None
    fixed_workspace: Workspace | None = None
    fixed_identity: Authenticator | None = None

    def authenticator(self, sign_with: Path | None = None) -> Authenticator:  # noqa: ARG002
        if self.fixed_identity is None:
            unwired()
        return self.fixed_identity

    @property
    def ipam(self) -> Ipam:
        if self.fixed_ipam is None:
            unwired()
        return self.fixed_ipam

    @property
    def workspace(self) -> Workspace:
        if self.fixed_workspace is None:
            unwired()
        return self.fixed_workspace

    def phases(self) -> Sequence[Phase]:
        return self.fixed_phases

    def using(self, _store: RunStore) -> FixedComposition:
        """The same: what it holds was given, whatever the store."""
        return self

    def complete(self, delivery: Delivery) -> Delivery:
        """The same: a test's spec says where it lands."""
        return delivery

    def __call__(self, _site: str | None, _state: Path, _spec_site: str | None) -> FixedComposition:
        return self


def scripted_phases(
    hosts: tuple[str, ...] = (),
) -> tuple[tuple[Phase, ...], dict[str, ScriptedStep]]:
    """The seven phases with their gates, each step replaced by a ``ScriptedStep``."""
    steps: dict[str, ScriptedStep] = {}
    phases = tuple(
        replace(phase, entries=tuple(_scripted(entry, steps, hosts) for entry in phase.entries))
        for phase in catalogue()
    )
    return phases, steps


def _scripted(entry: Entry, steps: dict[str, ScriptedStep], hosts: tuple[str, ...]) -> Entry:
    """Every step (placeholder or real) becomes a ``ScriptedStep``; gates stay."""
    if isinstance(entry, Gate):
        return entry
    evidence_steps = {gate.evidence_step for gate in GATES.values()}
    gives: dict[str, Json] = {}
    if entry.key in evidence_steps:
        gives["evidence"] = f"evidence of {entry.key}"
    if entry.key == "handover.contract_effective":
        gives["contract_start"] = T0.date().isoformat()
    steps[entry.key] = ScriptedStep(entry.key, entry.title, gives, host_names=hosts)
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


# IPAM


@dataclass
class _Row:
    key: str
    delivery: str
    value: str
    fields: dict[str, object]
    links: dict[str, int | None] = field(default_factory=dict)


_LINK_FIELDS = {
    "assigned_object_id": "interface",
    "primary_ip4": "primary_ip",
    "primary_ip6": "primary_ip",
    "virtual_machine": "vm",
}
#: IP address roles NetBox exempts from its duplicate-address check.
_SHARED_ROLES = {"anycast", "vip", "vrrp", "hsrp", "glbp", "carp"}
_VALUE_FIELDS = {"tenant": "slug", "contact": "email", "vm": "name", "vminterface": "name"}
#: An address's links when it is on no interface (``Owned.links``, as ``NetBoxIpam`` gives them).
_IP_LINKS: dict[str, int | None] = {"interface": None, "vm": None, "device": None}


class InMemoryIpam:
    """The ``Ipam`` port in memory, held honest by the contract test against ``NetBoxIpam``.

    Seeded like the lab: site ``lab``, VLAN group ``lab-vlans`` (100-3999), container prefix
    ``10.213.128.0/17``, cluster ``lab-cluster``. ``faults`` lists errors the next calls raise
    before doing anything; ``lost`` lists errors the next writes raise *after* committing (a
    response lost on the way back). ``calls`` counts every call, like requests.
    """

    def __init__(self, vlan_range: tuple[int, int] = (100, 3999)) -> None:

        self.rows: dict[Kind, dict[int, _Row]] = {kind: {} for kind in Kind}
        self.refs: dict[tuple[Ref, str], int] = {
            (Ref.SITE, "lab"): 1, (Ref.VLAN_GROUP, "lab-vlans"): 1,
            (Ref.PREFIX, "10.213.128.0/17"): 1, (Ref.CLUSTER, "lab-cluster"): 1,
        }  # fmt: skip
        self.vlan_range = vlan_range
        self.containers = {1: "10.213.128.0/17"}
        self.assignments: set[tuple[int, int, int]] = set()
        self.journal: list[tuple[str, int, str]] = []
        self.journal_keys: set[str] = set()
        self.keyed_notes: dict[str, Note] = {}
        self.faults: list[Exception] = []
        self.lost: list[Exception] = []
        self.calls: list[str] = []
        self._next_id = 1000

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.faults:
            raise self.faults.pop(0)

    def _committed(self) -> None:
        if self.lost:
            raise self.lost.pop(0)

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def prepare(self, delivery: str, refs: Sequence[tuple[Ref, str]] = ()) -> None:  # noqa: ARG002
        """Nothing to read ahead: every call reads the rows themselves."""
        self._call("prepare")

    def reference(self, ref: Ref, value: str, *, create: JsonMap | None = None) -> int:

        self._call(f"reference {ref}")
        kind = {Ref.TENANT: Kind.TENANT, Ref.PREFIX: Kind.PREFIX}.get(ref)
        rows = self.rows[kind].items() if kind is not None else ()
        made = next((ident for ident, row in rows if row.value == value), None)
        if made is not None:
            return made
        if (ref, value) not in self.refs:
            if create is None:
                raise Refused(f"NetBox has no {ref.replace('_', ' ')} {value!r}")
            self.refs[ref, value] = self._id()
        return self.refs[ref, value]

    def owned(self, kind: Kind, delivery: str) -> dict[str, Owned]:
        self._call(f"owned {kind}")
        return {
            row.key: self._owned(kind, ident, row)
            for ident, row in self.rows[kind].items()
            if row.delivery == delivery and row.key.startswith(f"{delivery}/")
        }

    def _owned(self, kind: Kind, ident: int, row: _Row) -> Owned:
        links = {**_IP_LINKS, **row.links} if kind is Kind.IP else dict(row.links)
        status = str(row.fields.get("status") or "active") if kind in STATUS_KINDS else ""
        return Owned(kind, row.key, ident, row.value, links, status)

    def find(self, kind: Kind, value: str) -> Owned | None:
        """By value; an IP address given without a length matches whatever length it has (as
        NetBox's ``address`` filter does)."""
        self._call(f"find {kind}")
        for ident, row in self.rows[kind].items():
            if row.value == value or (kind is Kind.IP and row.value.split("/")[0] == value):
                return self._owned(kind, ident, row)
        return None

    def existing_server(
        self, kind: Kind, name: str, address: str | None = None, custom: JsonMap | None = None
    ) -> int:
        """A VM or device recorded before any delivery (no key), with an interface holding
        ``address`` (``192.0.2.20/24``) if given and custom fields ``custom``; its id."""
        ident = self._id()
        fields: dict[str, object] = {"name": name, "custom_fields": dict(custom or {})}
        self.rows[kind][ident] = _Row("", "", name, fields)
        if address is not None:
            self.existing_address(address, (kind, ident))
        return ident

    def existing_address(self, address: str, holder: tuple[Kind, int] | None = None) -> int:
        """An address recorded before any delivery (no key), on an interface of ``holder`` (a VM
        or a device) if given, else on nothing; its id."""
        links: dict[str, int | None] = {}
        if holder is not None:
            kind, server = holder
            interface = self._id()
            if kind is Kind.VM:
                row = _Row("", "", "eth0", {"virtual_machine": server}, {"vm": server})
                self.rows[Kind.VM_INTERFACE][interface] = row
            links = {"interface": interface, kind.value: server}
        ident = self._id()
        self.rows[Kind.IP][ident] = _Row("", "", address, {"address": address}, links)
        return ident

    def tenant_named(self, name: str) -> Owned | None:
        self._call("tenant_named")
        return self._named(name)

    def _named(self, name: str) -> Owned | None:
        for ident, row in self.rows[Kind.TENANT].items():
            if row.fields.get("name") == name and row.fields.get("group") is None:
                return self._owned(Kind.TENANT, ident, row)
        return None

    def free(self, kind: Kind, pool: int, count: int, length: int | None = None) -> list[str]:
        self._call(f"free {kind}")
        return self._free(kind, pool, count, length)

    def _free(self, kind: Kind, pool: int, count: int, length: int | None) -> list[str]:

        if kind is Kind.VLAN:
            used = {row.value for row in self.rows[Kind.VLAN].values()}
            vids = range(self.vlan_range[0], self.vlan_range[1] + 1)
            return [str(vid) for vid in vids if str(vid) not in used][:count]
        if kind is Kind.PREFIX:
            return self._free_prefixes(pool, count, length or 32)
        return self._free_addresses(pool, count)

    def _free_prefixes(self, pool: int, count: int, length: int) -> list[str]:

        parent = ipaddress.ip_network(self.containers[pool])
        taken = [ipaddress.ip_network(row.value) for row in self.rows[Kind.PREFIX].values()]
        free: list[str] = []
        for net in parent.subnets(new_prefix=length):
            if not any(net.overlaps(other) for other in taken):
                free.append(str(net))
            if len(free) >= count:
                break
        return free

    def _free_addresses(self, pool: int, count: int) -> list[str]:

        prefix = ipaddress.ip_network(self.rows[Kind.PREFIX][pool].value)
        used = {row.value.split("/")[0] for row in self.rows[Kind.IP].values()}
        free = [f"{host}/{prefix.prefixlen}" for host in prefix.hosts() if str(host) not in used]
        return free[:count]

    def allocate(self, kind: Kind, pool: int, delivery: str, items: Sequence[New]) -> list[Owned]:

        self._call(f"allocate {kind}")
        self._check_keys(kind, items)
        lengths = {int(str(item.fields.get("prefix_length", 32))) for item in items}
        free = self._free(kind, pool, len(items), min(lengths) if kind is Kind.PREFIX else None)
        if len(free) < len(items):
            raise Exhausted("NetBox has no room: Insufficient resources")
        made = [
            self._add(kind, delivery, item, value) for item, value in zip(items, free, strict=False)
        ]
        self._committed()
        return made

    def create(self, kind: Kind, delivery: str, items: Sequence[New]) -> list[Owned]:
        self._call(f"create {kind}")
        self._check_keys(kind, items)
        if kind is Kind.TENANT:
            self._check_names(items)
        if kind is Kind.IP:
            self._check_addresses(items)
        field_name = _VALUE_FIELDS.get(kind.value, "name")
        made = [
            self._add(
                kind,
                delivery,
                item,
                str(item.fields.get(field_name, item.fields.get("address", ""))),
            )
            for item in items
        ]
        self._committed()
        return made

    def _check_keys(self, kind: Kind, items: Sequence[New]) -> None:

        keys = {row.key for row in self.rows[kind].values()}
        taken = [item.key for item in items if item.key in keys]
        if taken:
            raise KeyTaken(f"Custom field 'orchestrator_key' must have a unique value: {taken}")

    def _check_names(self, tenants: Sequence[New]) -> None:
        """Refuse like NetBox: tenants outside any group have unique names."""
        names = [
            str(item.fields["name"])
            for item in tenants
            if "name" in item.fields and item.fields.get("group") is None
        ]
        taken = [name for name in names if self._named(name) is not None]
        if taken or len(set(names)) < len(names):
            raise Refused(f"NetBox said 400: Tenant name must be unique per group: {taken}")

    def _check_addresses(self, items: Sequence[New]) -> None:
        """Refuse like NetBox (``ENFORCE_GLOBAL_UNIQUE``, its default): an address whose host
        another address holds, unless both have a role NetBox lets share one (VIP, anycast, ...)."""
        held = {
            row.value.split("/")[0]: row.fields.get("role") for row in self.rows[Kind.IP].values()
        }
        for item in items:
            host = str(item.fields.get("address", "")).split("/")[0]
            shared = {item.fields.get("role"), held.get(host)} <= _SHARED_ROLES
            if host in held and not shared:
                what = f"Duplicate IP address found in global table: {host}"
                raise Refused(f"NetBox said 400: {what}")

    def _add(self, kind: Kind, delivery: str, item: New, value: str) -> Owned:
        ident = self._id()
        links: dict[str, int | None] = {
            name: None for field_name, name in _LINK_FIELDS.items() if field_name in item.fields
        }
        if "virtual_machine" in item.fields:
            links["vm"] = int(str(item.fields["virtual_machine"]))
        self.rows[kind][ident] = _Row(item.key, delivery, value, dict(item.fields), links)
        return self._owned(kind, ident, self.rows[kind][ident])

    def update(self, kind: Kind, changes: Sequence[tuple[int, JsonMap]]) -> None:
        self._call(f"update {kind}")
        for ident, fields in changes:
            row = self.rows[kind][ident]
            row.fields.update(fields)
            for field_name, name in _LINK_FIELDS.items():
                value = fields.get(field_name)
                if isinstance(value, int):
                    row.links[name] = value
            if kind is Kind.IP and isinstance(fields.get("assigned_object_id"), int):
                row.links |= self._holder(row.links["interface"])
        self._committed()

    def _holder(self, interface: int | None) -> dict[str, int | None]:
        """The VM whose interface is ``interface`` (the only interfaces this fake makes)."""
        found = self.rows[Kind.VM_INTERFACE].get(interface or 0)
        return {"vm": found.links.get("vm") if found else None, "device": None}

    def delete(self, kind: Kind, ids: Sequence[int]) -> None:

        self._call(f"delete {kind}")
        for ident in ids:
            del self.rows[kind][ident]
            if kind is Kind.VM:
                interfaces = self.rows[Kind.VM_INTERFACE]
                gone = [i for i, row in interfaces.items() if row.links.get("vm") == ident]
                self._drop(Kind.VM_INTERFACE, gone)
            if kind is Kind.VM_INTERFACE:
                self._drop(Kind.VM_INTERFACE, [ident])
        if kind is Kind.CONTACT:
            self.assignments = {a for a in self.assignments if a[1] not in ids}
        dropped = {(kind, ident) for ident in ids}  # NetBox deletes an object's journal with it
        kept = self.keyed_notes.items()
        self.keyed_notes = {k: note for k, note in kept if (note.kind, note.id) not in dropped}
        self._committed()

    def _drop(self, kind: Kind, ids: Sequence[int]) -> None:
        """Cascade like NetBox: an interface takes its addresses with it."""
        for ident in ids:
            self.rows[kind].pop(ident, None)
            addresses = self.rows[Kind.IP]
            for gone in [i for i, row in addresses.items() if row.links.get("interface") == ident]:
                del addresses[gone]

    def assign_contacts(self, tenant: int, pairs: Sequence[tuple[int, str]]) -> int:
        self._call("assign_contacts")
        have = {contact for _tenant, contact, _role in self.assignments}
        new = {
            (tenant, contact, self._role(role)) for contact, role in pairs if contact not in have
        }
        self.assignments |= new
        return len(new)

    def _role(self, slug: str) -> int:
        if (Ref.CONTACT_ROLE, slug) not in self.refs:
            self.refs[Ref.CONTACT_ROLE, slug] = self._id()
        return self.refs[Ref.CONTACT_ROLE, slug]

    def note(self, entries: Sequence[Note]) -> None:
        self._call("note")
        fresh = [entry for entry in entries if not entry.key or entry.key not in self.journal_keys]
        self.journal.extend((entry.kind.value, entry.id, entry.text) for entry in fresh)
        self.journal_keys.update(entry.key for entry in fresh if entry.key)
        self.keyed_notes |= {entry.key: entry for entry in fresh if entry.key}
        self._committed()

    def notes(self, delivery: str) -> dict[str, Note]:
        self._call("notes")
        prefix = f"{delivery}/"
        return {key: note for key, note in self.keyed_notes.items() if key.startswith(prefix)}


class InMemoryHostRecords:
    """The ``HostRecords`` port over an ``InMemoryIpam``'s rows, answering like NetBox: every
    custom field in ``defined`` is present (``None`` until set), a platform is ``{"id": ...}``;
    ``reads`` counts the calls. Held honest by the contract test against ``NetBoxHostRecords``."""

    def __init__(self, ipam: InMemoryIpam, defined: Sequence[str] = (HOST_KEY_FIELD,)) -> None:
        self.ipam = ipam
        self.defined = tuple(defined)
        self.reads = 0

    def fields(self, kind: Kind, ids: Sequence[int], names: Sequence[str]) -> dict[int, JsonMap]:
        self.reads += 1
        rows = self.ipam.rows[kind]
        return {i: self._row(rows[i].fields, names) for i in ids if i in rows}

    def _row(self, fields: Mapping[str, object], names: Sequence[str]) -> JsonMap:
        held = fields.get("custom_fields")
        custom: dict[str, Json] = dict.fromkeys(self.defined)
        if isinstance(held, Mapping):
            custom |= {k: v for k, v in held.items() if k in self.defined}
        row: dict[str, Json] = {"custom_fields": custom, "platform": self._platform(fields)}
        for family in ("primary_ip4", "primary_ip6"):
            row[family] = self._address(fields.get(family))
        return {name: row.get(name) for name in names}

    def _platform(self, fields: Mapping[str, object]) -> Json:
        """``{"id": ..., "slug": ...}`` as NetBox nests a platform (the slug it was made with)."""
        platform = fields.get("platform")
        if not isinstance(platform, int):
            return None
        refs = self.ipam.refs.items()
        slug = next((v for (ref, v), i in refs if ref is Ref.PLATFORM and i == platform), None)
        return {"id": platform, "slug": slug}

    def _address(self, ident: object) -> Json:
        """``{"id": ..., "address": "192.0.2.20/24"}`` as NetBox nests a primary IP."""
        row = self.ipam.rows[Kind.IP].get(ident) if isinstance(ident, int) else None
        return {"id": int(str(ident)), "address": row.value} if row is not None else None


# --- phases 2-3: machines, reachability, playbooks (fakes of orchestrator.engine.ports) --------

# Imported here, not at the top, so that this section is one self-contained addition.
from pathlib import Path  # noqa: E402

from orchestrator.adapters.workspace import (  # noqa: E402
    Workspace,
    known_hosts_text,
    read_pins,
)
from orchestrator.engine.errors import HostKeyChanged  # noqa: E402
from orchestrator.engine.ports.machines import Machine, MachineRequest  # noqa: E402
from orchestrator.engine.ports.monitoring_status import Observed  # noqa: E402
from orchestrator.engine.ports.playbooks import HostOutcome, PlaybookOutcome, PlaybookRun  # noqa: E402
from orchestrator.engine.ports.printer import Printed  # noqa: E402
from orchestrator.engine.ports.reachability import Reached, SshTarget, fingerprint  # noqa: E402
from orchestrator.engine.ports.vault import DeliveryVault  # noqa: E402
from orchestrator.engine.status import Status  # noqa: E402
from orchestrator.phases.base import Adapters  # noqa: E402
from orchestrator.store.private import write_private  # noqa: E402
from orchestrator.store.records import TaskRecord  # noqa: E402
from orchestrator.testing_checks import ScriptedChecks as ScriptedChecks  # noqa: E402, PLC0414 - re-exported


class InMemoryMachines:
    """The ``Machines`` port in memory: every request is remembered; a machine exists once asked."""

    def __init__(self, fail: Mapping[str, Exception] | None = None) -> None:
        self.requests: list[MachineRequest] = []
        self.existing: set[str] = set()
        self.fail = dict(fail or {})

    def ensure(self, request: MachineRequest) -> Machine:
        self.requests.append(request)
        if request.name in self.fail:
            raise self.fail[request.name]
        created = request.name not in self.existing
        self.existing.add(request.name)
        return Machine(request.name, request.address, request.provider, created=created,
                       host_key=f"ssh-ed25519 KEY-{request.name}")  # fmt: skip


class ScriptedProbe:
    """The ``ReachabilityProbe`` port: each host shows ``keys[name]`` (default: its provider's
    key), which must be the expected key and the pinned one where there are such; errors scripted
    per host are raised once each, in order."""

    def __init__(
        self,
        keys: Mapping[str, str] | None = None,
        errors: Mapping[str, Sequence[Exception]] | None = None,
    ) -> None:
        self.keys = dict(keys or {})
        self.errors = {host: list(errs) for host, errs in (errors or {}).items()}
        self.pins: dict[str, str] = {}
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def reach(self, target: SshTarget) -> Reached:
        self.calls.append(target.name)
        if self.errors.get(target.name):
            raise self.errors[target.name].pop(0)
        shown = self.keys.get(target.name) or target.expected_key or f"ssh-ed25519 {target.name}"
        with self._lock:
            pinned = self.pins.get(target.address) or self._file_pin(target)
            for key, expected in ((target.expected_key, True), (pinned, False)):
                if key is not None and key != shown:
                    keys = fingerprint(key), fingerprint(shown)
                    raise HostKeyChanged(target.name, target.address, *keys, expected=expected)
            self.pins.setdefault(target.address, shown)
            self._file_pin(target, shown)
        return Reached(shown, pinned is None, "Debian GNU/Linux 12 (bookworm)", 0.0)

    @staticmethod
    def _file_pin(target: SshTarget, key: str | None = None) -> str | None:
        """The pin in the target's known_hosts (``key`` added first if there is none), as
        ``ParamikoProbe`` reads and writes it."""
        pins = read_pins(target.known_hosts)
        if key is not None and target.address not in pins:
            pins[target.address] = key
            write_private(target.known_hosts, known_hosts_text(pins))
        return pins.get(target.address)


type HostScript = Callable[[PlaybookRun, str], HostOutcome]


def all_ok(request: PlaybookRun, host: str) -> HostOutcome:  # noqa: ARG001 - a HostScript
    """A host on which every task of the playbook succeeded, one of them changing something."""
    task = TaskRecord("configure", Status.SUCCEEDED, changed=True)
    return HostOutcome(changed=1, tasks=[task])


class ScriptedPlaybooks:
    """The ``PlaybookRunner`` port: each host's outcome comes from ``script`` (or ``scripts``
    per host, consumed in order); every request is remembered."""

    def __init__(
        self, script: HostScript = all_ok, scripts: Mapping[str, Sequence[HostScript]] | None = None
    ) -> None:
        self.script = script
        self.scripts = {host: list(s) for host, s in (scripts or {}).items()}
        self.requests: list[PlaybookRun] = []

    def run(self, request: PlaybookRun) -> PlaybookOutcome:
        self.requests.append(request)
        hosts = {host: self._next(host)(request, host) for host in request.hosts}
        status = "successful" if all(h.succeeded for h in hosts.values()) else "failed"
        return PlaybookOutcome(status, 0 if status == "successful" else 2, hosts,
                               request.artifacts, 0.0)  # fmt: skip

    def _next(self, host: str) -> HostScript:
        queued = self.scripts.get(host)
        return queued.pop(0) if queued else self.script


@dataclass(frozen=True, slots=True)
class FolderMonitoring:
    """A ``Monitoring`` that is just a folder."""

    folder: Path

    def targets_dir(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder


class ScriptedMonitoringStatus:
    """The ``MonitoringStatus`` port: what the monitoring system sees, per delivery, as a test
    sets it in ``observed`` (nothing for a delivery it does not know, as Prometheus); ``faults``
    are raised by the next calls, in order; ``asked`` lists the deliveries asked about. Held
    honest by the contract test against ``PrometheusApi``."""

    def __init__(
        self, observed: Mapping[str, Observed] | None = None, faults: Sequence[Exception] = ()
    ) -> None:
        self.observed = dict(observed or {})
        self.faults = list(faults)
        self.asked: list[str] = []

    def observe(self, delivery: str) -> Observed:
        self.asked.append(delivery)
        if self.faults:
            raise self.faults.pop(0)
        return self.observed.get(delivery, Observed())


# the application, asked by address


@dataclass
class ScriptedAppProbe:
    """The ``AppProbe`` port as a script: ``pages`` maps ``(address, port)`` to what a server
    there answers for each ``Host`` (``(status, body)``; ``"*"`` for any host); ``closed``
    lists ports that refuse connections; anything else gives no answer (timed out). Held to
    ``SocketProbe``'s contract (tests/integration/test_app_probe_contract.py)."""

    pages: dict[tuple[str, int], dict[str, tuple[int, str]]] = field(default_factory=dict)
    closed: set[tuple[str, int]] = field(default_factory=set)
    asked: list[HttpProbe | tuple[str, int]] = field(default_factory=list)

    def serve(self, address: str, port: int, body: str, status: int = 200, host: str = "*") -> None:
        """A server at ``address:port`` answers ``status`` and ``body`` for ``host``."""
        self.closed.discard((address, port))
        self.pages.setdefault((address, port), {})[host] = (status, body)

    def stop(self, address: str, port: int) -> None:
        """The server at ``address:port`` stops: the port refuses connections."""
        self.pages.pop((address, port), None)
        self.closed.add((address, port))

    def http(self, probe: HttpProbe) -> HttpAnswer:
        self.asked.append(probe)
        where = (probe.address, probe.port)
        if where in self.closed:
            return HttpAnswer(error="connection refused")
        if where not in self.pages:
            return HttpAnswer(error="no answer (timed out)")
        answers = self.pages[where]
        status, body = answers.get(probe.host) or answers.get("*") or (404, "not found\n")
        return HttpAnswer(status, body[:MAX_BODY])

    def tcp(self, address: str, port: int) -> str | None:
        self.asked.append((address, port))
        if (address, port) in self.closed:
            return "connection refused"
        return None if (address, port) in self.pages else "no answer (timed out)"


def fake_adapters(  # noqa: PLR0913 - one optional fake per port
    root: Path,
    *,
    machines: InMemoryMachines | None = None,
    probe: ScriptedProbe | None = None,
    playbooks: ScriptedPlaybooks | None = None,
    vault: DeliveryVault | None = None,
    platform_checks: ScriptedChecks | None = None,
    app_probe: ScriptedAppProbe | None = None,
) -> Adapters:
    """Phase 2-4 adapters with fakes, files under ``root``; pins and secrets in ``vault`` (as
    when the site shares its state) or only in the files."""
    return Adapters(
        machines=machines or InMemoryMachines(),
        probe=probe or ScriptedProbe(),
        playbooks=playbooks or ScriptedPlaybooks(),
        workspace=Workspace(root / "deliveries", vault),
        monitoring=FolderMonitoring(root / "targets"),
        management_networks=("10.213.0.1/32",),
        platform_checks=platform_checks or ScriptedChecks(),
        app_probe=app_probe or ScriptedAppProbe(),
    )


# PDF printer


@dataclass
class ScriptedPrinter:
    """The ``Printer`` port: writes a stand-in PDF (the HTML's bytes behind a PDF header), or,
    with ``note``, none and says why; ``printed`` lists the HTML files it was given."""

    note: str = ""
    printed: list[Path] = field(default_factory=list)

    def pdf(self, html: Path, pdf: Path) -> Printed:
        self.printed.append(html)
        if self.note:
            return Printed(None, self.note)
        write_private(pdf, "%PDF-stand-in\n" + html.read_text())
        return Printed(pdf)
