"""Releasing a delivery: everything it made, and its reservations in NetBox.

``release_delivery`` is what ``orchestrator release DELIVERY`` does: it reads what the delivery
holds (``holdings``), plans the removals (``orchestrator.phases.release_plan``) and carries them
out kind by kind, recording each one in the run store's audit log as it goes
(``release_progress``), so that a release killed half-way is run again and finishes, and says
what an earlier one removed already. A finished release is recorded as ``delivery_released``;
the delivery's runs, decisions and audit log stay (``status`` says it was released).

``release`` removes only the NetBox objects carrying the delivery's key, in reverse order,
nothing else: ``release_delivery`` uses it, and so does a failed phase 1 unless
``--keep-on-failure`` is given (``release_after_failure``). An object NetBox refuses to delete
(a tenant another delivery still uses) is kept and reported. The release is written to the audit
log; the phase-1 steps include the number of releases in their inputs, so a later run redoes them.

Given the delivery's ``Workspace``, ``release`` also forgets its pinned host keys and generated
passwords (the shared state in the run store, and the local files). A failed phase 1 does not:
its rollback undoes reservations, and the passwords hosts may already use are kept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import structlog
from pydantic import ValidationError

from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.errors import Refused
from orchestrator.engine.ports.ipam import RELEASE_ORDER, Ipam, Kind, Owned
from orchestrator.engine.ports.machines import Holding, MachineRef, MachineRelease
from orchestrator.engine.ports.monitoring import MonitoringRegistrations
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.status import Mode, Status
from orchestrator.phases.release_plan import Holdings, Removal, What, by_kind
from orchestrator.phases.reservations import RELEASED, has_intents
from orchestrator.spec import DeliverySpec
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import AuditEntry, Json, RunRecord

log = structlog.get_logger("orchestrator.phases.release")


@dataclass(frozen=True, slots=True)
class Released:
    """What a release removed and what NetBox would not let go, per kind."""

    removed: dict[Kind, list[Owned]] = field(default_factory=dict)
    kept: dict[Kind, str] = field(default_factory=dict)
    forgotten: int = 0  # pins and generated passwords forgotten with the delivery

    def counts(self) -> dict[str, Json]:
        """Kind to number removed, for the audit log."""
        return {kind.value: len(items) for kind, items in self.removed.items() if items}


def owned_by(ipam: Ipam, delivery: str) -> dict[Kind, list[Owned]]:
    """Every object carrying the delivery's key, per kind, in release order."""
    return {kind: list(ipam.owned(kind, delivery).values()) for kind in RELEASE_ORDER}


#: Transient NetBox errors during a release are retried (a bulk delete of VMs can be slow).
RELEASE_RETRY = RetryPolicy(attempts=5, initial_backoff=1.0, jitter=1.0, deadline=300.0)


def release(  # noqa: PLR0913 - the release's collaborators
    ipam: Ipam,
    store: RunStore,
    delivery: str,
    who: str,
    run_id: str | None = None,
    *,
    retry: RetryPolicy = RELEASE_RETRY,
    workspace: Workspace | None = None,
) -> Released:
    """Remove the delivery's keyed objects, newest kind first, and, given its ``workspace``, its
    pins and generated passwords; record it in the audit log."""
    result = Released()
    for kind in RELEASE_ORDER:  # read just before deleting: NetBox cascades (VM -> its addresses)
        retry.call(functools.partial(_release_kind, ipam, kind, delivery, result))
    kept: dict[str, Json] = {kind.value: why for kind, why in result.kept.items()}
    detail: dict[str, Json] = {"removed": result.counts(), "kept": kept}
    if workspace is not None:
        result = replace(result, forgotten=workspace.forget(delivery))
        detail["state_forgotten"] = result.forgotten
    store.append_audit(AuditEntry(datetime.now(UTC), who, RELEASED, delivery, run_id, detail))
    log.info("reservations_released", delivery=delivery, **detail)
    return result


def _release_kind(ipam: Ipam, kind: Kind, delivery: str, result: Released) -> None:
    _remove(ipam, kind, list(ipam.owned(kind, delivery).values()), result)


def _remove(ipam: Ipam, kind: Kind, items: Sequence[Owned], result: Released) -> None:
    if not items:
        return
    try:
        ipam.delete(kind, [item.id for item in items])
    except Refused as exc:
        result.kept[kind] = str(exc)
        return
    result.removed[kind] = list(items)


def phase1_failed(store: RunStore, run: RunRecord) -> bool:
    """Whether phase 1 ended ``failed`` (the target said no) in ``run``."""
    return any(p.number == 1 and p.status is Status.FAILED for p in store.list_phases(run.id))


def release_after_failure(
    ipam: Callable[[], Ipam], store: RunStore, run: RunRecord
) -> Released | None:
    """Release the delivery's reservations if phase 1 failed in ``run`` and reserved anything."""
    if not phase1_failed(store, run) or not has_intents(store.list_audit(run.delivery_id)):
        return None
    return release(ipam(), store, run.delivery_id, run.who, run.id)


# --- a whole delivery ----------------------------------------------------------------------------

PROGRESS = "release_progress"
DELIVERY_RELEASED = "delivery_released"
ADDRESSES_STEP = "network.addresses"


@dataclass(frozen=True)
class ReleaseParts:
    """What a release works through; the composition root builds it from the site."""

    ipam: Callable[[], Ipam]  # made (its token resolved) when first asked
    machines: MachineRelease
    monitoring: MonitoringRegistrations
    workspace: Workspace


@dataclass(frozen=True, slots=True)
class DeliveryReleased:
    """What ``release_delivery`` did: per kind, the names removed; what NetBox kept, and why."""

    removed: dict[What, list[str]] = field(default_factory=dict)
    kept: dict[Kind, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """Whether everything went (nothing kept)."""
        return not self.kept


def machines_of(store: RunStore, delivery: str) -> tuple[MachineRef, ...]:
    """The delivery's machines: the hosts phase 1 gave an address, with the provider its spec
    (as last run) names; none before phase 1 reserved addresses."""
    step, record = store.latest_step(delivery, ADDRESSES_STEP), store.get_delivery(delivery)
    if step is None or record is None:
        return ()
    try:
        spec = DeliverySpec.model_validate(record.spec)
    except ValidationError:
        raise Refused(
            f"the run store's spec of {delivery} cannot be read by this version: its machines "
            "cannot be named; release them by hand"
        ) from None
    providers = {host.name: host.group.provider for host in spec.expanded_hosts()}
    hosts = step.outputs.get("hosts")
    if not isinstance(hosts, Mapping):
        return ()
    return tuple(
        MachineRef(name, providers.get(name, "unknown"), _bare(entry))
        for name, entry in hosts.items()
    )


def _bare(entry: Json) -> str:
    address = entry.get("address") if isinstance(entry, Mapping) else None
    return str(address).split("/", 1)[0]


def _since_latest_run(store: RunStore, delivery: str, action: str) -> list[AuditEntry]:
    """The delivery's audit entries of ``action`` since its latest run began, oldest first."""
    runs = [r for r in store.list_runs(delivery) if r.mode is Mode.APPLY]
    since = runs[0].started_at if runs else None
    return [
        entry for entry in store.list_audit(delivery)
        if entry.action == action and (since is None or entry.at >= since)
    ]  # fmt: skip


def progress(store: RunStore, delivery: str) -> list[AuditEntry]:
    """What releases removed since the delivery's latest run began, oldest first."""
    return _since_latest_run(store, delivery, PROGRESS)


def holdings(parts: ReleaseParts, store: RunStore, delivery: str) -> Holdings:
    """Everything ``delivery`` holds now, each kind read where it lives; changes nothing."""
    machines = machines_of(store, delivery)
    pins, secrets = parts.workspace.held(delivery)
    return Holdings(
        delivery=delivery,
        monitoring=parts.monitoring.registrations(delivery),
        machines=tuple((m, parts.machines.holding(m)) for m in machines),
        netbox={
            kind: tuple(item.key for item in items)
            for kind, items in owned_by(parts.ipam(), delivery).items()
            if items
        },
        pins=pins,
        secrets=secrets,
        workspace=parts.workspace.exists(delivery),
        forgotten=frozenset(_forgotten(progress(store, delivery))),
    )


def _forgotten(entries: Sequence[AuditEntry]) -> list[str]:
    return [
        str(name) for e in entries
        if e.detail.get("what") == What.MACHINE and e.detail.get("how") == Holding.CUSTOMERS
        for name in _names(e)
    ]  # fmt: skip


def _names(entry: AuditEntry) -> list[Json]:
    removed = entry.detail.get("removed")
    return list(removed) if isinstance(removed, list) else []


def earlier(store: RunStore, delivery: str) -> dict[What, list[str]]:
    """What earlier releases removed since the latest run, per kind (a killed one's part)."""
    done: dict[What, list[str]] = {}
    for entry in progress(store, delivery):
        what = What(str(entry.detail.get("what")))
        done.setdefault(what, []).extend(str(n) for n in _names(entry))
    return done


@dataclass(frozen=True)
class _Release:
    parts: ReleaseParts
    store: RunStore
    delivery: str
    who: str
    run_id: str

    def done(self, what: What, names: Sequence[str], how: str = "") -> None:
        detail: dict[str, Json] = {"what": what.value, "removed": list(names)}
        if how:
            detail["how"] = how
        entry = AuditEntry(
            datetime.now(UTC), self.who, PROGRESS, self.delivery, self.run_id, detail
        )
        self.store.append_audit(entry)
        log.info("release_progressed", delivery=self.delivery, **detail)

    def monitoring(self, _plan: Sequence[Removal], result: DeliveryReleased) -> None:
        removed = list(self.parts.monitoring.unregister(self.delivery))
        self.done(What.MONITORING, removed)
        result.removed[What.MONITORING] = removed

    def machines(self, plan: Sequence[Removal], result: DeliveryReleased) -> None:
        refs = {m.name: m for m in machines_of(self.store, self.delivery)}
        for removal in plan:
            found = self.parts.machines.release(refs[removal.name])
            if found is Holding.OTHERS:  # another's since the plan was made: left alone
                log.warning("machine_left_alone", delivery=self.delivery, machine=removal.name)
                continue
            self.done(What.MACHINE, [removal.name], found.value)  # each one: a kill loses none
            result.removed.setdefault(What.MACHINE, []).append(removal.name)

    def netbox(self, _plan: Sequence[Removal], result: DeliveryReleased) -> None:
        done = release(self.parts.ipam(), self.store, self.delivery, self.who, self.run_id)
        keys = [item.key for items in done.removed.values() for item in items]
        self.done(What.NETBOX, keys)
        result.removed[What.NETBOX] = keys
        result.kept.update(done.kept)

    def state(self, plan: Sequence[Removal], result: DeliveryReleased) -> None:
        """Pins and secrets go together: the vault forgets a delivery's state at once."""
        self.parts.workspace.forget(self.delivery)
        for what in (What.PIN, What.SECRET):
            names = [r.name for r in plan if r.what is what]
            if names:
                self.done(what, names)
                result.removed[what] = names

    def workspace(self, _plan: Sequence[Removal], result: DeliveryReleased) -> None:
        self.parts.workspace.remove(self.delivery)
        self.done(What.WORKSPACE, [self.delivery])
        result.removed[What.WORKSPACE] = [self.delivery]


def release_delivery(  # noqa: PLR0913 - the release's collaborators
    parts: ReleaseParts,
    store: RunStore,
    delivery: str,
    who: str,
    run_id: str,
    *,
    plan: Sequence[Removal],
) -> DeliveryReleased:
    """Carry out ``plan`` (``plan_release`` of the delivery's ``holdings``), kind by kind,
    recording each step; then record the delivery as released if NetBox kept nothing."""
    step = _Release(parts, store, delivery, who, run_id)
    actions = {What.MONITORING: step.monitoring, What.MACHINE: step.machines,
               What.NETBOX: step.netbox, What.PIN: step.state, What.SECRET: step.state,
               What.WORKSPACE: step.workspace}  # fmt: skip
    result = DeliveryReleased()
    groups = by_kind(tuple(plan))
    if What.PIN in groups and What.SECRET in groups:
        groups[What.PIN] = (*groups[What.PIN], *groups.pop(What.SECRET))
    for what, removals in groups.items():
        actions[what](removals, result)
    if result.finished:
        counts: dict[str, Json] = {what.value: len(names) for what, names in result.removed.items()}
        store.append_audit(
            AuditEntry(datetime.now(UTC), who, DELIVERY_RELEASED, delivery, run_id, counts)
        )
        log.info("delivery_released", delivery=delivery, **counts)
    return result


def released(store: RunStore, delivery: str) -> AuditEntry | None:
    """The release that finished after the delivery's latest run began, if any."""
    finished = _since_latest_run(store, delivery, DELIVERY_RELEASED)
    return finished[-1] if finished else None
