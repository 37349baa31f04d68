"""Phase 2, base configuration: machines from the standard images, updates, standard monitoring.

    base.machines       each host up from its image at the address phase 1 reserved (Machines);
                        an existing (``static``) server with the host key NetBox records for it
    base.reachability   each host answers SSH; its host key is pinned on first contact (in the
                        shared state when the site has it: the first pin, by any controller,
                        wins), or must be the one its provider (or, for an existing server,
                        NetBox) reports
    base.netbox_record  each host's platform (its OS) and pinned host key on its NetBox VM; an
                        existing server's record gets a missing platform only
    base.configure      orchestrator/playbooks/phase2_base.yml on every host in one run (Ansible)

The steps get their adapters from an ``AdapterSource`` called when they first need one, so
importing the phases touches nothing: the composition root (``orchestrator.wiring``) builds them
from the site, tests pass fakes (``orchestrator.testing``); the NetBox write-back gets the ``Ipam``
port and a ``HostRecords`` reader the same way. The playbook
step is a ``BatchStep``: one playbook run for all hosts still to do, one result per host; a host
that was unreachable is retried alone, a host whose key changed fails alone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.adapters.ansible import PLAYBOOKS
from orchestrator.adapters.inventory import (
    BackupAccess,
    BackupTarget,
    HostRecord,
    Topology,
    bare,
    inventory,
    prefix_of,
    vip_of,
)
from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.batch import HostOutcomes
from orchestrator.engine.errors import HostKeyChanged, OrchestratorError, Refused, Unreachable
from orchestrator.engine.phase import Phase
from orchestrator.engine.ports.alert_routing import AlertPolicy, AlertRouting
from orchestrator.engine.ports.app_monitoring import AppMonitoring
from orchestrator.engine.ports.app_probe import AppProbe
from orchestrator.engine.ports.check_monitoring import CheckMonitoring
from orchestrator.engine.ports.host_records import (
    HOST_KEY_FIELD,
    MISSING_FIELD,
    HostRecords,
    RecordRef,
)
from orchestrator.engine.ports.ipam import Ipam, Kind, Ref
from orchestrator.engine.ports.machines import MachineRequest, Machines
from orchestrator.engine.ports.monitoring import Monitoring
from orchestrator.engine.ports.monitoring_status import MonitoringStatus
from orchestrator.engine.ports.platform_checks import PlatformChecks
from orchestrator.engine.ports.playbooks import (
    DIFF_MARK,
    HostOutcome,
    PlaybookOutcome,
    PlaybookRun,
    PlaybookRunner,
)
from orchestrator.engine.ports.reachability import ReachabilityProbe, SshTarget, fingerprint
from orchestrator.engine.status import Status
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.phases.netbox_machines import existing_servers
from orchestrator.phases.netbox_steps import IpamSource
from orchestrator.spec.model import ExpandedHost
from orchestrator.store.private import write_private
from orchestrator.store.records import Json, JsonMap, TaskRecord

ADDRESSES = "network.addresses"
MACHINES = "base.machines"
REACHABILITY = "base.reachability"
VMS = "network.machines"


@dataclass(frozen=True, slots=True)
class HostSettings:
    """What every host of the site gets, besides the spec: time, packages, upgrades, the networks
    the monitoring system comes from, and the backup host with the secrets the site keeps."""

    ntp_servers: tuple[str, ...] = ()
    timezone: str = "Etc/UTC"
    apt_sources: tuple[str, ...] = ()  # one-line ``deb`` sources; the image's own when empty
    upgrade_new: str = "all"  # all | security | none, for machines a provider just made
    upgrade_existing: str = "security"  # the same, for servers that already ran (``static``)
    scraper_networks: tuple[str, ...] = ()
    backups: BackupTarget | None = None  # none: a spec's backups are refused, never kept locally
    #: Secrets the site keeps, by the name playbooks read them under, resolved when a playbook
    #: needs them; any other secret a playbook reads is generated per delivery.
    site_secrets: Mapping[str, Callable[[], str]] = field(default_factory=dict)

    def variables(self) -> dict[str, Json]:
        """The playbooks' variables for these settings."""
        return {
            "base_time_ntp_servers": list(self.ntp_servers),
            "base_time_timezone": self.timezone,
            "apt_sources": list(self.apt_sources),
            "upgrade_policy": {"new": self.upgrade_new, "existing": self.upgrade_existing},
            "scraper_networks": list(self.scraper_networks),
        }


@dataclass(frozen=True, slots=True)
class Adapters:
    """What phases 2 to 7 work with."""

    machines: Machines
    probe: ReachabilityProbe
    playbooks: PlaybookRunner
    workspace: Workspace
    monitoring: Monitoring
    management_networks: tuple[str, ...] = ()
    checks: CheckMonitoring | None = None  # runs the spec's monitoring checks (phase 3)
    #: what the monitoring system says (phase 4); ``None``: the site names no Prometheus URL
    monitoring_status: MonitoringStatus | None = None
    settings: HostSettings = field(default_factory=HostSettings)
    platform_checks: PlatformChecks | None = None  # the buddycheck's checks on the hosts (phase 4)
    app_monitoring: AppMonitoring | None = None  # probes and alerts of the go-live checks (phase 7)
    alert_routing: AlertRouting | None = None  # ``None``: the site names no Alertmanager
    alert_policy: AlertPolicy = field(default_factory=AlertPolicy)  # routes per team (phase 7)
    app_probe: AppProbe | None = None  # the application asked by address (phases 6 and 7)


type AdapterSource = Callable[[], Adapters]


# --- what the records say -------------------------------------------------------------------


def outputs_of(ctx: StepContext, key: str) -> JsonMap:
    """The outputs of earlier step ``key``; ``Refused`` when it has not run."""
    outputs = ctx.outputs.get(key)
    if outputs is None:
        raise Refused(f"step {key} has not run for this delivery; run the earlier phases first")
    return outputs


def per_host(ctx: StepContext, key: str, host: str) -> Mapping[str, Json]:
    """Host ``host``'s entry in the ``hosts`` output of step ``key``."""
    hosts = outputs_of(ctx, key).get("hosts")
    entry = hosts.get(host) if isinstance(hosts, Mapping) else None
    if not isinstance(entry, Mapping):
        raise Refused(f"step {key} has no record of host {host}")
    return entry


def expanded(ctx: StepContext) -> dict[str, ExpandedHost]:
    """The spec's hosts by name."""
    return {host.name: host for host in ctx.spec.expanded_hosts()}


def address_of(ctx: StepContext, host: ExpandedHost) -> str:
    """The address phase 1 reserved for ``host`` (in NetBox), without its prefix length."""
    hosts = outputs_of(ctx, ADDRESSES).get("hosts")
    entry = hosts.get(host.name) if isinstance(hosts, Mapping) else None
    if isinstance(entry, Mapping) and isinstance(entry.get("address"), str):
        return bare(str(entry["address"]))
    if host.address is not None:
        return str(host.address)
    raise Refused(f"phase 1 reserved no address for {host.name}")


def balancer_hosts(ctx: StepContext) -> list[str]:
    """Hosts that run the load balancer: those whose role's software includes haproxy."""
    roles = {
        role for role, software in ctx.spec.software.items()
        if any(p.split("=", 1)[0] == "haproxy" for p in software.packages)
    }  # fmt: skip
    return [h.name for h in ctx.spec.expanded_hosts() if h.role in roles]


def machine_request(ctx: StepContext, host: ExpandedHost) -> MachineRequest:
    """What the machine provider is asked for ``host``; the first balancer host holds the VIP."""
    vip = vip_of(outputs_of(ctx, ADDRESSES))
    holders = balancer_hosts(ctx)[:1]
    extra = (vip,) if vip is not None and host.name in holders else ()
    return MachineRequest(
        host.name, host.role, address_of(ctx, host), host.group.image, host.group.provider, extra,
        existing_servers(ctx).get(host.name),
    )  # fmt: skip


def _described(request: MachineRequest) -> JsonMap:
    """A machine request as a step input; an existing server's record only where there is one
    (so the inputs of made machines stay what they were)."""
    described: dict[str, Json] = {
        "address": request.address, "provider": request.provider, "image": request.image,
        "extra": list(request.extra_addresses),
    }  # fmt: skip
    if request.record is not None:
        described["record"] = str(request.record)
    return described


# --- base.machines ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MachinesStep:
    """Bring each host up from its standard image, at its reserved address."""

    adapters: AdapterSource
    key: str = MACHINES
    title: str = "Bring the machines up from the standard images"

    def inputs(self, ctx: StepContext) -> JsonMap:
        if ADDRESSES not in ctx.outputs:  # planning before phase 1 has run
            return {"waiting_for": ADDRESSES}
        requests = (machine_request(ctx, h) for h in ctx.spec.expanded_hosts())
        return {r.name: _described(r) for r in requests}

    def hosts(self, ctx: StepContext) -> Sequence[str]:
        return [h.name for h in ctx.spec.expanded_hosts()]

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        if ADDRESSES not in ctx.outputs:
            return [
                Change("ensure", f"machine {h.name}",
                       f"existing server at {h.address} (host key from NetBox)" if h.existing
                       else f"{h.group.provider} {h.group.image} at the address phase 1 reserves")
                for h in ctx.spec.expanded_hosts()
            ]  # fmt: skip
        requests = (machine_request(ctx, h) for h in ctx.spec.expanded_hosts())
        return [Change("ensure", f"machine {r.name}", _what(r)) for r in requests]

    def apply(self, ctx: StepContext) -> Result:
        host = expanded(ctx)[str(ctx.host)]
        machine = self.adapters().machines.ensure(machine_request(ctx, host))
        if host.existing and machine.host_key is None:  # whatever the provider: never on trust
            raise Refused(f"{host.name} is an existing server and its provider gave no host key")
        return Result(
            changed=machine.created,
            outputs={"address": machine.address, "provider": machine.provider,
                     "host_key": machine.host_key, "owns_kernel": machine.owns_kernel},
        )  # fmt: skip


def _what(request: MachineRequest) -> str:
    """A plan's detail for one machine."""
    if request.record is not None:
        return f"existing server at {request.address} ({request.record}; host key from NetBox)"
    return f"{request.provider} {request.image} at {request.address}"


# --- base.reachability -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReachabilityStep:
    """Reach every host over SSH and pin its host key on first contact."""

    adapters: AdapterSource
    key: str = REACHABILITY
    title: str = "Reach every host over SSH and pin its host key"

    def inputs(self, ctx: StepContext) -> JsonMap:
        return {"machines": (ctx.outputs.get(MACHINES) or {}).get("hosts")}

    def hosts(self, ctx: StepContext) -> Sequence[str]:
        return [h.name for h in ctx.spec.expanded_hosts()]

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        return [
            Change("reach", f"ssh {h.name}", "check the host key NetBox records" if h.existing
                   else "pin the host key on first contact")
            for h in ctx.spec.expanded_hosts()
        ]  # fmt: skip

    def apply(self, ctx: StepContext) -> Result:
        name = str(ctx.host)
        machine = per_host(ctx, MACHINES, name)
        adapters = self.adapters()
        workspace, delivery = adapters.workspace, ctx.delivery.id
        expected = machine.get("host_key")
        target = SshTarget(
            name,
            str(machine["address"]),
            workspace.write_known_hosts(delivery),  # every pin so far, from every controller
            expected if isinstance(expected, str) else None,
        )
        reached = adapters.probe.reach(target)
        pinned = workspace.pin(delivery, target.address, reached.host_key)  # the vault decides
        check_pinned(target, reached.host_key, pinned)
        return Result(
            changed=reached.pinned_now,
            outputs={"address": target.address, "host_key": reached.host_key,
                     "os": reached.os, "owns_kernel": machine.get("owns_kernel", True)},
        )  # fmt: skip


def check_pinned(target: SshTarget, shown: str, pinned: str) -> None:
    """``HostKeyChanged`` unless the key pinned for the target (by this controller or another
    one, first) is the key it showed."""
    if shown.split()[:2] != pinned.split()[:2]:
        raise HostKeyChanged(target.name, target.address, fingerprint(pinned), fingerprint(shown))


# --- base.netbox_record ----------------------------------------------------------------------

type RecordsSource = Callable[[], HostRecords]


@dataclass(frozen=True, slots=True)
class Platform:
    """A NetBox platform named after an operating system: ``Debian 12`` (``debian-12``)."""

    name: str
    slug: str


def platform_of(os_name: str) -> Platform | None:
    """The platform for a ``PRETTY_NAME`` such as ``Debian GNU/Linux 12 (bookworm)``; ``None``
    when the OS is not known."""
    name = " ".join(re.sub(r"\([^)]*\)", " ", os_name).replace("GNU/Linux", " ").split())
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return Platform(name, slug) if slug and slug != "unknown" else None


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What phase 2 learnt about one host, and the NetBox record it belongs on: the VM phase 1
    made, or an existing server's VM or device (``existing``)."""

    host: str
    record: RecordRef
    platform: Platform | None
    host_key: str
    existing: bool = False


@dataclass(frozen=True, slots=True)
class Difference:
    """What one record lacks: its platform, its pinned host key, or both."""

    facts: HostFacts
    platform: bool
    host_key: bool

    def describe(self) -> str:
        """``platform Debian 12, ssh_host_key ssh-ed25519 SHA256:...`` for a plan."""
        platform = self.facts.platform if self.platform else None
        parts = [f"platform {platform.name}"] if platform else []
        if self.host_key:
            parts.append(f"{HOST_KEY_FIELD} {fingerprint(self.facts.host_key)}")
        return ", ".join(parts)


def host_facts(ctx: StepContext) -> list[HostFacts]:
    """Each reached host's OS and pinned key, with the record phase 1 made or adopted for it."""
    vms = outputs_of(ctx, VMS).get("vms")
    servers = existing_servers(ctx)
    reached = outputs_of(ctx, REACHABILITY).get("hosts")
    facts = []
    for host in ctx.spec.expanded_hosts():
        entry = reached.get(host.name) if isinstance(reached, Mapping) else None
        if not isinstance(entry, Mapping) or not isinstance(entry.get("host_key"), str):
            continue  # not reached (yet): nothing learnt
        vm = vms.get(host.name) if isinstance(vms, Mapping) else None
        record = servers.get(host.name) if host.existing else None
        if record is None and not isinstance(vm, int):
            raise Refused(f"step {VMS} recorded no NetBox VM or device for {host.name}")
        platform = platform_of(str(entry.get("os") or ""))
        record = record or RecordRef(Kind.VM, int(str(vm)))
        facts.append(HostFacts(host.name, record, platform, str(entry["host_key"]), host.existing))
    return facts


def _id_of(value: Json) -> int | None:
    """The id of a NetBox link, whether nested (``{"id": 7, ...}``) or bare."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, int) else None


type Current = Mapping[RecordRef, JsonMap]


def checked(facts: Sequence[HostFacts], current: Current) -> Current:
    """``current`` if NetBox holds every host's record and has the host key field; else
    ``Refused``."""
    for fact in facts:
        row = current.get(fact.record)
        if row is None:
            raise Refused(f"NetBox has no {fact.record.what} {fact.record.id} for {fact.host}; "
                          "run phase 1 again")  # fmt: skip
        custom = row.get("custom_fields")
        if not isinstance(custom, Mapping) or HOST_KEY_FIELD not in custom:
            raise Refused(MISSING_FIELD)
    return current


def differences(
    facts: Sequence[HostFacts], current: Current, platforms: Mapping[str, int | None]
) -> list[Difference]:
    """What each record lacks, given what NetBox holds (``current``, ``checked``) and the
    platforms' ids (``None`` for one NetBox does not have yet); records carrying the same values
    are left out. An existing server's record gets a platform only where it has none, and its
    host key (the one the host was checked against) is never written."""
    found = []
    for fact in facts:
        row = current[fact.record]
        custom = row.get("custom_fields")
        key = custom.get(HOST_KEY_FIELD) if isinstance(custom, Mapping) else None
        wanted = platforms.get(fact.platform.slug) if fact.platform else None
        now = _id_of(row.get("platform"))
        platform = fact.platform is not None and (
            now is None if fact.existing else wanted is None or now != wanted
        )
        difference = Difference(fact, platform, not fact.existing and key != fact.host_key)
        if difference.platform or difference.host_key:
            found.append(difference)
    return found


def patch(difference: Difference, platforms: Mapping[str, int | None]) -> JsonMap:
    """The fields to send for one record: only what differs; its status is left alone."""
    fields: dict[str, Json] = {}
    if difference.platform and difference.facts.platform:
        fields["platform"] = platforms[difference.facts.platform.slug]
    if difference.host_key:
        fields["custom_fields"] = {HOST_KEY_FIELD: difference.facts.host_key}
    return fields


def _described_facts(fact: HostFacts, platform: str | None) -> Json:
    described: dict[str, Json] = {fact.record.kind.value: fact.record.id, "platform": platform,
                                  "host_key": fact.host_key}  # fmt: skip
    if fact.existing:
        described["existing"] = True
    return described


@dataclass(frozen=True, slots=True)
class NetBoxRecordStep:
    """Write each reached host's platform and pinned host key onto its NetBox record, in one
    PATCH per kind of record (VMs; devices of existing servers)."""

    ipam: IpamSource
    records: RecordsSource
    key: str = "base.netbox_record"
    title: str = "Record OS and pinned host key in NetBox"

    def inputs(self, ctx: StepContext) -> JsonMap:
        if REACHABILITY not in ctx.outputs:  # planning before the machines are up
            return {"waiting_for": REACHABILITY}
        return {f.host: _described_facts(f, f.platform.slug if f.platform else None)
                for f in host_facts(ctx)}  # fmt: skip

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        if REACHABILITY not in ctx.outputs:
            return [
                Change("record", f"NetBox server {h.name}", "platform if it has none") if h.existing
                else Change("record", f"NetBox VM {h.name}", "platform and pinned host key")
                for h in ctx.spec.expanded_hosts()
            ]  # fmt: skip
        facts = host_facts(ctx)
        ipam = self.ipam()
        platforms = {p.slug: _existing(ipam, p) for p in _platforms(facts)}
        found = differences(facts, self._current(facts), platforms)
        changes = [
            Change("update", f"NetBox {d.facts.record.what} {d.facts.host}", d.describe())
            for d in found
        ]
        return changes or [Change("none", "NetBox VMs", "platforms and host keys are recorded")]

    def apply(self, ctx: StepContext) -> Result:
        facts = host_facts(ctx)
        current = self._current(facts)  # checked before anything is made
        ipam = self.ipam()
        platforms: dict[str, int | None] = {
            p.slug: ipam.reference(Ref.PLATFORM, p.slug, create={"name": p.name})
            for p in _platforms(facts)
        }
        found = differences(facts, current, platforms)
        for kind in (Kind.VM, Kind.DEVICE):
            changes = [(d.facts.record.id, patch(d, platforms))
                       for d in found if d.facts.record.kind is kind]  # fmt: skip
            if changes:
                _update(ipam, kind, changes)
        return Result(
            changed=bool(found),
            outputs={
                "hosts": {f.host: _described_facts(f, f.platform.name if f.platform else None)
                          for f in facts},
                "updated": sorted(d.facts.host for d in found),
            },
        )  # fmt: skip

    def _current(self, facts: Sequence[HostFacts]) -> Current:
        names = ("platform", "custom_fields")
        current: dict[RecordRef, JsonMap] = {}
        for kind in sorted({f.record.kind for f in facts}):
            ids = [f.record.id for f in facts if f.record.kind is kind]
            rows = self.records().fields(kind, ids, names)
            current |= {RecordRef(kind, ident): row for ident, row in rows.items()}
        return checked(facts, current)


def _update(ipam: Ipam, kind: Kind, changes: Sequence[tuple[int, JsonMap]]) -> None:
    try:
        ipam.update(kind, changes)
    except Refused as exc:
        raise (Refused(MISSING_FIELD) if HOST_KEY_FIELD in str(exc) else exc) from exc


def _platforms(facts: Sequence[HostFacts]) -> list[Platform]:
    return sorted({f.platform for f in facts if f.platform}, key=lambda p: p.slug)


def _existing(ipam: Ipam, platform: Platform) -> int | None:
    """The platform's id if NetBox has it (a plan creates nothing)."""
    try:
        return ipam.reference(Ref.PLATFORM, platform.slug)
    except Refused:
        return None


# --- playbooks ---------------------------------------------------------------------------------


def tree_hash(root: Path) -> str:
    """SHA-256 over the playbooks and roles: a changed playbook re-runs its step."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class PlaybookStep:
    """Run one playbook on every host of the delivery, in one ansible-playbook run."""

    adapters: AdapterSource
    key: str
    title: str
    playbook: str
    secrets: tuple[str, ...] = ()  # names of generated secrets the playbook reads

    def hosts(self, ctx: StepContext) -> Sequence[str]:
        return [h.name for h in ctx.spec.expanded_hosts()]

    def inputs(self, ctx: StepContext) -> JsonMap:
        if REACHABILITY not in ctx.outputs:  # planning before the machines are up
            return {"waiting_for": REACHABILITY, "playbooks": tree_hash(PLAYBOOKS)}
        return {
            "inventory": self._inventory(ctx, self.adapters()),
            "pins": {h: per_host(ctx, REACHABILITY, h).get("host_key") for h in self.hosts(ctx)},
            "playbooks": tree_hash(PLAYBOOKS),
        }

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        if REACHABILITY not in ctx.outputs:
            detail = f"on {len(self.hosts(ctx))} hosts (check mode once they are reachable)"
            return [Change("run", f"playbook {self.playbook}", detail)]
        outcome = self._run(ctx, tuple(self.hosts(ctx)), check=True)
        return [
            Change("change", f"{host}: {task.name}", would_change(task))
            for host, result in sorted(outcome.hosts.items())
            for task in result.tasks
            if task.changed
        ] or [Change("none", f"playbook {self.playbook}", "nothing would change")]

    def apply(self, ctx: StepContext) -> Result:
        host = str(ctx.host)
        outcome = self.apply_hosts(ctx, (host,))[host]
        if isinstance(outcome, OrchestratorError):
            raise outcome
        return outcome

    def apply_hosts(self, ctx: StepContext, hosts: Sequence[str]) -> HostOutcomes:
        outcome = self._run(ctx, tuple(hosts), check=False)
        results = {host: host_result(outcome.hosts[host]) for host in hosts}
        if outcome.tail and not any(outcome.hosts[host].tasks for host in hosts):
            return {host: Refused(f"{self.playbook} failed: {outcome.tail}") for host in hosts}
        return results

    def _run(self, ctx: StepContext, hosts: tuple[str, ...], *, check: bool) -> PlaybookOutcome:
        adapters = self.adapters()
        workspace, delivery = adapters.workspace, ctx.delivery.id
        kept = adapters.settings.site_secrets  # the site keeps them (a backup password)
        generated = tuple(name for name in self.secrets if name not in kept)
        secrets_file = workspace.write_secrets(delivery, generated)
        site_values = [kept[name]() for name in self.secrets if name in kept]
        for name, value in zip([n for n in self.secrets if n in kept], site_values, strict=True):
            workspace.keep_secret(delivery, name, value)
        if (target := adapters.settings.backups) is not None:
            write_private(workspace.backup_known_hosts(delivery), target.known_hosts_line())
        request = PlaybookRun(
            playbook=self.playbook,
            inventory=self._inventory(ctx, adapters),
            hosts=hosts,
            known_hosts=workspace.write_known_hosts(delivery),
            artifacts=workspace.runs(delivery),
            facts=workspace.facts(delivery),
            label=f"{ctx.run_id}-{self.key}{'-check' if check else ''}",
            extravars={
                "orchestrator_secrets_file": str(secrets_file),
                "monitoring_targets_dir": str(adapters.monitoring.targets_dir()),
            },
            check=check,
            censor=(*workspace.secret_values(delivery), *site_values),
        )
        return adapters.playbooks.run(request)

    def _inventory(self, ctx: StepContext, adapters: Adapters) -> dict[str, Json]:
        return delivery_inventory(ctx, adapters)


def delivery_inventory(ctx: StepContext, adapters: Adapters) -> dict[str, Json]:
    """The delivery's Ansible inventory, from its records: the hosts phase 2 reached, at the
    addresses phase 1 reserved (the playbooks and the buddycheck's checks reach hosts by it)."""
    reach = outputs_of(ctx, REACHABILITY).get("hosts")
    records = [
        HostRecord(name, h.role, str(per_host(ctx, REACHABILITY, name)["address"]),
                   bool(per_host(ctx, REACHABILITY, name).get("owns_kernel", True)),
                   existing=h.existing)
        for name, h in expanded(ctx).items()
        if isinstance(reach, Mapping) and name in reach
    ]  # fmt: skip
    addresses = outputs_of(ctx, ADDRESSES)
    topology = Topology(records, vip_of(addresses), prefix_of(addresses))
    common: dict[str, Json] = {
        "delivery": ctx.delivery.id,
        "customer": ctx.spec.customer.name,
        "management_networks": list(adapters.management_networks),
        **adapters.settings.variables(),
    }
    target = adapters.settings.backups
    known_hosts = adapters.workspace.backup_known_hosts(ctx.delivery.id)
    access = BackupAccess(target, known_hosts) if target is not None else None
    return inventory(ctx.spec, topology, common, access)


def would_change(task: TaskRecord) -> str:
    """A plan's detail for a task check mode found changing: with its diff when there is one."""
    if task.detail.startswith(DIFF_MARK):
        return "would change:\n" + task.detail.removeprefix(DIFF_MARK)
    return "would change"


def host_result(host: HostOutcome) -> Result | OrchestratorError:
    """One host's outcome as a step result, or the error that says how to treat it."""
    if host.key_changed:
        return Refused(f"host key changed: {host.error}")
    if host.retryable:
        return Unreachable(str(host.error))
    status = Status.SUCCEEDED if host.succeeded else Status.FAILED
    return Result(
        status=status,
        changed=host.changed > 0,
        outputs={"changed_tasks": host.changed, "tasks": len(host.tasks)},
        error=host.error,
        tasks=tuple(host.tasks),
    )


def phase(adapters: AdapterSource, ipam: IpamSource, records: RecordsSource) -> Phase:
    """Phase 2 with its steps working through ``adapters``, writing back through ``ipam``."""
    return Phase(
        number=2,
        name="base",
        title="Base configuration",
        entries=(
            MachinesStep(adapters),
            ReachabilityStep(adapters),
            NetBoxRecordStep(ipam, records),
            PlaybookStep(
                adapters,
                "base.configure",
                "Security updates, time, admins, sshd, firewall, standard monitoring",
                "phase2_base.yml",
            ),
        ),
    )


__all__ = [
    "HOST_KEY_FIELD",
    "AdapterSource",
    "Adapters",
    "HostSettings",
    "NetBoxRecordStep",
    "PlaybookStep",
    "RecordsSource",
    "phase",
]
