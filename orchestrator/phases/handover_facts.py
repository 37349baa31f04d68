"""What the handover documents say, as typed values assembled from the records (not rendered).

    handover_facts(ctx, settings, items) -> HandoverFacts     the whole handover document
    user_access(ctx, settings)           -> tuple[UserAccess]  one access document per user

Sources, all read from the step context (earlier steps' outputs and the spec) or given by the
composition root: phase 1's addresses, VLAN, prefix and VMs (NetBox), phase 2's reached hosts (OS,
pinned host key), phase 3's monitoring checks, phase 4's check results and evidence hash, the run
store's action items (``items``), and the site's facts (``HandoverSettings``). Nothing here reads
a secret: where one is kept is a sentence (``SecretPlace``), built from names and references only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.adapters.inventory import BackupTarget, bare, sql_name
from orchestrator.engine.errors import Refused
from orchestrator.engine.gates import BUDDYCHECK
from orchestrator.engine.ports.platform_checks import CheckResult, result_from_json
from orchestrator.engine.ports.reachability import fingerprint
from orchestrator.engine.step import StepContext
from orchestrator.phases.base import ADDRESSES, REACHABILITY, VMS, outputs_of
from orchestrator.phases.netbox_machines import existing_servers
from orchestrator.spec.model import DeliverySpec, ExpandedHost, MonitoringCheck, User
from orchestrator.store.records import ActionItem, Json, JsonMap

VERIFY = "buddycheck.verify"
OBSERVED = "buddycheck.observed"
ACTION_ITEMS = "buddycheck.action_items"
CHECKS = "software.monitoring"
#: Kinds of buddycheck result that say a backup exists and a sample file restored.
BACKUP_KINDS = frozenset({"backup_snapshot", "backup_restore"})
#: The kind of the check that restored a sample file and compared its checksum.
RESTORE_KIND = "backup_restore"
RUN_PHASE_4 = "run phase 4 (the buddycheck) first"

type ItemSource = Callable[[str], Sequence[ActionItem]]


# --- the site's part -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Jump:
    """A jump host every login goes through, with its key's fingerprint."""

    host: str
    port: int
    fingerprint: str

    @property
    def address(self) -> str:
        """``host`` or ``host:port`` as ``ssh -J`` takes it."""
        return self.host if self.port == 22 else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class HandoverSettings:
    """What the handover says about the site: how people log in, where alerts and backups go,
    and where the secrets are kept (names and references, never values)."""

    site: str
    netbox_url: str
    ssh_user: str = "root"
    ssh_port: int = 22
    ssh_become: bool = False
    jump_hosts: tuple[Jump, ...] = ()
    prometheus_url: str = ""
    backups: BackupTarget | None = None
    backup_password: str = ""  # the site's reference (``env:RESTIC_PASSWORD``), or "" if generated
    shared_state: bool = False  # generated secrets sealed in the run store, else on one controller


# --- the document's parts --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContactLine:
    role: str
    name: str
    email: str
    phone: str = ""


@dataclass(frozen=True, slots=True)
class HostLine:
    name: str
    role: str
    address: str
    vlan: str
    prefix: str
    vip: str
    os: str
    host_key: str  # ``ssh-ed25519 SHA256:...``
    record: str  # ``NetBox VM #12`` or ``existing NetBox device #3``


@dataclass(frozen=True, slots=True)
class Platform:
    site: str
    netbox_url: str
    tenant: str
    tenant_id: int
    vlan: str
    prefix: str
    gateway: tuple[str, ...]
    vip: str
    balancer: str  # ``ports 80, 443 to the web hosts`` or ""
    roles: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class HostLogin:
    host: str
    address: str
    command: str


@dataclass(frozen=True, slots=True)
class UserAccess:
    name: str
    full_name: str
    sudo: bool
    roles: str  # ``all roles`` or ``web, db``
    keys: tuple[str, ...]  # fingerprints
    logins: tuple[HostLogin, ...]
    jump_hosts: tuple[Jump, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleSoftware:
    role: str
    packages: tuple[str, ...]
    services: tuple[str, ...]
    sysctl: tuple[tuple[str, str], ...]
    limits: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CheckLine:
    name: str
    kind: str
    roles: str
    what: str
    alerting: str


@dataclass(frozen=True, slots=True)
class MonitoringFacts:
    checks: tuple[CheckLine, ...]
    prometheus_url: str
    alerts_to: str


@dataclass(frozen=True, slots=True)
class BackupLine:
    role: str
    schedule: str
    retention: str
    paths: tuple[str, ...]
    repositories: tuple[tuple[str, str], ...]  # (host, restic repository)


@dataclass(frozen=True, slots=True)
class RestoreLine:
    host: str
    check: str
    passed: bool
    found: str
    kind: str = RESTORE_KIND


@dataclass(frozen=True, slots=True)
class BackupFacts:
    target: str  # ``restic@backup.example.net:22`` or ""
    host_key: str
    lines: tuple[BackupLine, ...]
    restores: tuple[RestoreLine, ...]


@dataclass(frozen=True, slots=True)
class ResultLine:
    host: str
    name: str
    kind: str
    expected: str
    found: str


@dataclass(frozen=True, slots=True)
class BuddycheckFacts:
    evidence: str
    total: int
    passed: int
    failed: tuple[ResultLine, ...]


@dataclass(frozen=True, slots=True)
class ItemLine:
    id: str
    title: str
    opened: str
    closed: str
    resolution: str


@dataclass(frozen=True, slots=True)
class SecretPlace:
    what: str
    where: str


@dataclass(frozen=True, slots=True)
class HandoverFacts:
    """Everything the handover document says; ``run_id`` and ``generated`` stamp one rendering
    (left empty in a step's inputs, so the same records give the same inputs)."""

    delivery: str
    title: str
    customer: str
    people: tuple[ContactLine, ...]
    operations: ContactLine
    platform: Platform
    hosts: tuple[HostLine, ...]
    jump_hosts: tuple[Jump, ...]
    operator_login: str  # the command
    operator_note: str  # as whom, with sudo or not, whose keys
    access: tuple[UserAccess, ...]
    software: tuple[RoleSoftware, ...]
    monitoring: MonitoringFacts
    backups: BackupFacts
    buddycheck: BuddycheckFacts
    closed_items: tuple[ItemLine, ...]
    open_items: tuple[ItemLine, ...]
    risks: tuple[str, ...]
    secrets: tuple[SecretPlace, ...]
    run_id: str = ""
    generated: str = ""

    def stamped(self, run_id: str, generated: dt.date) -> HandoverFacts:
        """The same facts, stamped with the run and the day that renders them."""
        return dataclasses.replace(self, run_id=run_id, generated=generated.isoformat())

    def as_json(self) -> JsonMap:
        """The facts as a step input (JSON)."""
        dumped: dict[str, Json] = dataclasses.asdict(self)
        return dumped


# --- assembly --------------------------------------------------------------------------------


def _map(value: Json) -> Mapping[str, Json]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Json) -> str:
    return "" if value is None else str(value)


def people(spec: DeliverySpec) -> tuple[ContactLine, ...]:
    """Delivery manager, lead engineer and the customer's contacts."""
    ours = (
        ContactLine("delivery manager", spec.delivery_manager.name, spec.delivery_manager.email),
        ContactLine("lead engineer", spec.lead_engineer.name, spec.lead_engineer.email),
    )
    return ours + tuple(ContactLine(c.role, c.name, c.email, c.phone or "") for c in spec.contacts)


def operations(spec: DeliverySpec) -> ContactLine:
    """The team that runs the platform after go-live."""
    team = spec.operations
    return ContactLine("operations", team.team, team.email, team.phone or "")


def vlan_of(ctx: StepContext) -> str:
    """The VLAN id phase 1 reserved (``""`` if the records lack it)."""
    vlan = _map(_map(ctx.outputs.get("network.vlan", {}).get("vlan")))
    return _text(vlan.get("vid"))


def vip_of(ctx: StepContext) -> str:
    """The VIP phase 1 reserved or recorded, without its length (``""`` for none)."""
    vip = _map(outputs_of(ctx, ADDRESSES).get("vip"))
    return bare(_text(vip.get("address"))) if vip.get("address") else ""


def prefix_of(ctx: StepContext) -> str:
    """The delivery's prefix (``10.213.128.0/28``)."""
    return _text(outputs_of(ctx, ADDRESSES).get("prefix"))


def _record(ctx: StepContext, host: ExpandedHost) -> str:
    existing = existing_servers(ctx).get(host.name)
    if existing is not None:
        return f"existing NetBox {existing.what} #{existing.id}"
    vm = _map(outputs_of(ctx, VMS).get("vms")).get(host.name)
    return f"NetBox VM #{vm}" if vm is not None else "no NetBox record"


def host_lines(ctx: StepContext) -> tuple[HostLine, ...]:
    """Every host of the spec with what the records say about it; ``Refused`` for one that
    phase 2 did not reach (no OS, no pinned key: the handover would be incomplete)."""
    reached = _map(outputs_of(ctx, REACHABILITY).get("hosts"))
    addresses = _map(outputs_of(ctx, ADDRESSES).get("hosts"))
    vlan, prefix, vip = vlan_of(ctx), prefix_of(ctx), vip_of(ctx)
    lines = []
    for host in ctx.spec.expanded_hosts():
        seen = _map(reached.get(host.name))
        if not isinstance(seen.get("host_key"), str):
            raise Refused(f"phase 2 has not reached {host.name}: no OS or host key to hand over")
        given = str(host.address) if host.address else ""
        address = _text(_map(addresses.get(host.name)).get("address")) or given
        lines.append(HostLine(
            host.name, host.role, bare(address), vlan, prefix, vip, _text(seen.get("os")),
            fingerprint(str(seen["host_key"])), _record(ctx, host),
        ))  # fmt: skip
    return tuple(lines)


def platform(ctx: StepContext, settings: HandoverSettings) -> Platform:
    """The platform at a glance: where it is in NetBox, its network and its roles."""
    spec = ctx.spec
    tenant = _map(ctx.outputs.get("network.tenant", {}).get("tenant"))
    tenant_id = tenant.get("id")
    gateway = outputs_of(ctx, ADDRESSES).get("gateway")
    roles: dict[str, int] = {}
    for host in spec.expanded_hosts():
        roles[host.role] = roles.get(host.role, 0) + 1
    return Platform(
        spec.network.site_slug, settings.netbox_url, spec.customer.tenant,
        tenant_id if isinstance(tenant_id, int) else 0, vlan_of(ctx), prefix_of(ctx),
        tuple(bare(_text(g)) for g in gateway) if isinstance(gateway, list) else (),
        vip_of(ctx), _balancer(spec), tuple(sorted(roles.items())),
    )  # fmt: skip


def _balancer(spec: DeliverySpec) -> str:
    balancer = spec.network.load_balancer
    if balancer is None:
        return ""
    ports = ", ".join(
        f"{p.port}/{p.protocol}" + (f" to {p.backend_port}" if p.backend_port else "")
        for p in balancer.ports
    )
    return f"ports {ports} to the {balancer.backend_role} hosts"


def login_command(user: str, address: str, settings: HandoverSettings) -> str:
    """``ssh [-J jump[,jump]] [-p port] user@address``."""
    parts = ["ssh"]
    if settings.jump_hosts:
        parts += ["-J", ",".join(jump.address for jump in settings.jump_hosts)]
    if settings.ssh_port != 22:
        parts += ["-p", str(settings.ssh_port)]
    return " ".join([*parts, f"{user}@{address}"])


def _may_use(user: User, role: str) -> bool:
    return user.roles is None or role in user.roles


def user_access(ctx: StepContext, settings: HandoverSettings) -> tuple[UserAccess, ...]:
    """Each of the spec's users: the hosts of their roles, how they log in, their keys."""
    hosts = host_lines(ctx)
    return tuple(
        UserAccess(
            user.name, user.full_name or user.name, user.sudo,
            ", ".join(user.roles) if user.roles is not None else "all roles",
            tuple(fingerprint(str(key)) for key in user.ssh_keys),
            tuple(HostLogin(h.name, h.address, login_command(user.name, h.address, settings))
                  for h in hosts if _may_use(user, h.role)),
            settings.jump_hosts,
        )
        for user in ctx.spec.access.users
    )  # fmt: skip


def operator_note(settings: HandoverSettings) -> str:
    """As whom the hosting company (the orchestrator, operations) logs in, and with what."""
    sudo = "root with sudo" if settings.ssh_become else "root"
    return f"{sudo}; keys held by the hosting company, never handed over"


def software(spec: DeliverySpec) -> tuple[RoleSoftware, ...]:
    """Software and tuning per role of the spec's hosts."""
    lines = []
    for role in sorted(spec.roles()):
        sold, tuning = spec.software.get(role), spec.tuning.get(role)
        limits = tuple(f"{lim.domain} {lim.kind} {lim.item} {lim.value}"
                       for lim in (tuning.limits if tuning else ()))  # fmt: skip
        sysctl = tuple((k, str(v)) for k, v in sorted((tuning.sysctl if tuning else {}).items()))
        lines.append(RoleSoftware(
            role, tuple(sold.packages) if sold else (), tuple(sold.services) if sold else (),
            sysctl, limits,
        ))  # fmt: skip
    return tuple(lines)


def _what(check: MonitoringCheck) -> str:
    status, warning, critical = check.expect_status or 200, check.warning, check.critical
    parts = {
        "ping": "host answers ping",
        "tcp": f"port {check.port} accepts connections",
        "http": f"HTTP {check.path or '/'} on port {check.port} answers {status}",
        "disk": f"disk {check.mount or 'every mount'}: warning at {warning or 80:g}%, "
        f"critical at {critical or 90:g}% used",
        "load": f"load per CPU: warning at {warning or 1.5:g}, critical at {critical or 2:g}",
        "process": f"unit {check.process} is active",
    }
    return parts[check.kind]


def monitoring(ctx: StepContext, settings: HandoverSettings) -> MonitoringFacts:
    """The spec's checks, which alert now and which from go-live, and where alerts go."""
    published = ctx.outputs.get(CHECKS, {})
    active = published.get("active")
    active_names = set(active) if isinstance(active, list) else set()
    checks = tuple(
        CheckLine(
            c.name, c.kind, ", ".join(c.roles) if c.roles else "all roles", _what(c),
            "alerting now" if c.name in active_names
            else "from go-live (phase 7)" if c.activate == "go_live" else "not published yet",
        )
        for c in ctx.spec.monitoring.checks
    )  # fmt: skip
    team = operations(ctx.spec)
    phone = f", {team.phone}" if team.phone else ""
    return MonitoringFacts(checks, settings.prometheus_url, f"{team.name} <{team.email}>{phone}")


def _retention(days: int | None, count: int | None) -> str:
    parts = ([f"{days} days"] if days else []) + ([f"{count} snapshots"] if count else [])
    return " and ".join(parts)


def backups(
    ctx: StepContext, settings: HandoverSettings, results: Sequence[CheckResult]
) -> BackupFacts:
    """Schedule, retention and repository per role and host, and the restores the buddycheck
    verified."""
    target, delivery = settings.backups, ctx.delivery.id
    lines = []
    for role, backup in sorted(ctx.spec.backups.items()):
        hosts = [h.name for h in ctx.spec.expanded_hosts() if h.role == role]
        repositories = tuple(
            (h, target.repository(delivery, h) if target else "no backup host") for h in hosts
        )
        lines.append(BackupLine(
            role, backup.schedule, _retention(backup.retention.days, backup.retention.count),
            tuple(backup.paths), repositories,
        ))  # fmt: skip
    restores = tuple(
        RestoreLine(r.check.host, r.check.name, r.passed, r.found, r.check.kind)
        for r in results
        if r.check.kind in BACKUP_KINDS
    )
    where = f"{target.user}@{target.host}:{target.port}" if target else ""
    key = fingerprint(target.host_key) if target else ""
    return BackupFacts(where, key, tuple(lines), restores)


def check_results(ctx: StepContext) -> tuple[CheckResult, ...]:
    """Every result of the buddycheck's steps; ``Refused`` before phase 4 ran."""
    if VERIFY not in ctx.outputs:
        raise Refused(f"the buddycheck's results ({VERIFY}) are not recorded: {RUN_PHASE_4}")
    results: list[CheckResult] = []
    for key in (VERIFY, OBSERVED):
        hosts = _map(ctx.outputs.get(key, {}).get("hosts"))
        for host, entry in sorted(hosts.items()):
            checks = _map(entry).get("checks")
            values = checks if isinstance(checks, list) else []
            results.extend(result_from_json(host, v) for v in values if isinstance(v, Mapping))
    return tuple(results)


def evidence(ctx: StepContext) -> str:
    """The hash of the check results the buddycheck sign-off approved."""
    found = ctx.outputs.get(ACTION_ITEMS, {}).get("evidence")
    if not isinstance(found, str) or not found:
        raise Refused(f"no buddycheck evidence ({ACTION_ITEMS}) is recorded: {RUN_PHASE_4}")
    return found


def buddycheck(ctx: StepContext, results: Sequence[CheckResult]) -> BuddycheckFacts:
    """How many checks ran and passed, and the ones that failed."""
    failed = tuple(
        ResultLine(r.check.host, r.check.name, r.check.kind, r.check.expected, r.found)
        for r in results
        if not r.passed
    )
    return BuddycheckFacts(evidence(ctx), len(results), len(results) - len(failed), failed)


def _when(at: dt.datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else ""


def item_line(item: ActionItem) -> ItemLine:
    """An action item as the document shows it."""
    opened = f"{_when(item.opened_at)} by {item.opened_by}"
    closed = f"{_when(item.closed_at)} by {item.closed_by}" if item.closed_at else ""
    ident = f"#{item.id}" if item.id is not None else ""
    return ItemLine(ident, item.title, opened, closed, item.resolution or "")


def failing(results: Sequence[CheckResult]) -> list[str]:
    """The buddycheck's checks that fail at handover, counted."""
    failed = [r for r in results if not r.passed]
    return [f"{len(failed)} buddycheck checks fail at handover (section 8)"] if failed else []


def restore_risks(ctx: StepContext, restores: Sequence[RestoreLine]) -> list[str]:
    """Backed-up hosts without a restore the buddycheck verified."""
    verified = {r.host for r in restores if r.passed and r.kind == RESTORE_KIND}
    return [f"no verified restore of {h.name}'s backup" for h in ctx.spec.expanded_hosts()
            if h.role in ctx.spec.backups and h.name not in verified]  # fmt: skip


def risks(ctx: StepContext, settings: HandoverSettings, facts: Sequence[ItemLine]) -> list[str]:
    """What is not done or not certain at handover."""
    spec = ctx.spec
    found = [f"action item {item.id} is open: {item.title}" for item in facts]
    found += [f"the {name.replace('_', ' ')} is not signed"
              for name, doc in (("quote", spec.preconditions.quote),
                                ("data_processing_agreement",
                                 spec.preconditions.data_processing_agreement))
              if not doc.signed]  # fmt: skip
    found += [f"hardware ordered in phase 1: {g.hardware.quantity} x {g.hardware.model} for "
              f"role {g.role} (planned devices in NetBox, not made active by the handover)"
              for g in spec.hosts if g.hardware is not None]  # fmt: skip
    found += [f"monitoring check {c.name} alerts only from go-live (phase 7)"
              for c in spec.monitoring.checks if c.activate == "go_live"]  # fmt: skip
    found += [f"go-live check {c.name} ({c.kind}) is verified at go-live (phase 7)"
              for c in spec.go_live.checks]  # fmt: skip
    roles = sorted(spec.roles() - set(spec.backups))
    found += [f"role {role} has no backups (none were sold)" for role in roles]
    held = _map(outputs_of(ctx, ADDRESSES).get("gateway_held"))
    found += [f"gateway address {a} is held by {_text(w)}" for a, w in sorted(held.items())]
    if not settings.shared_state:
        found.append("generated passwords are kept on one controller only (the site has no "
                     "shared_state.key): back up its state folder")  # fmt: skip
    return found


def secret_places(spec: DeliverySpec, settings: HandoverSettings) -> tuple[SecretPlace, ...]:
    """Where each secret of the platform is kept (never its value)."""
    generated = (
        "sealed in the site's shared state (the run store, encrypted with shared_state.key)"
        if settings.shared_state
        else "in the delivery's workspace on the controller (secrets.json, 0600)"
    )
    places = []
    if any("postgresql" in {p.split("=")[0] for p in s.packages} for s in spec.software.values()):
        name = sql_name(spec.customer.tenant)
        places.append(SecretPlace(f"database password of PostgreSQL user {name}", generated))
    if spec.backups:
        kept = (f"the site's backups.password ({settings.backup_password})"
                if settings.backup_password else generated)  # fmt: skip
        places.append(SecretPlace("backup repository password (restic)",
                                  f"{kept}; on each backed-up host in /etc/restic/password "
                                  "(root only)"))  # fmt: skip
        places.append(
            SecretPlace(
                "each host's SSH key for the backup host",
                "on the host only, /etc/restic/id_ed25519 (root only)",
            )
        )
    places.append(SecretPlace("users' SSH private keys",
                              "with the users themselves; only their public keys are on the "
                              "hosts"))  # fmt: skip
    places.append(SecretPlace("hosts' SSH private host keys",
                              "on each host; their fingerprints are in this document and in "
                              "NetBox (custom field ssh_host_key)"))  # fmt: skip
    return tuple(places)


@dataclass(frozen=True, slots=True)
class Items:
    """The delivery's action items, closed and open."""

    closed: tuple[ItemLine, ...] = field(default=())
    open: tuple[ItemLine, ...] = field(default=())


def items_of(found: Sequence[ActionItem]) -> Items:
    """The buddycheck's action items (``BUDDYCHECK.owns``; later phases' findings are not the
    handover's), closed and open, oldest first."""
    ours = [item for item in found if BUDDYCHECK.owns(item)]
    ordered = sorted(ours, key=lambda item: (item.opened_at, item.id or 0))
    return Items(
        tuple(item_line(i) for i in ordered if not i.open),
        tuple(item_line(i) for i in ordered if i.open),
    )


def handover_facts(
    ctx: StepContext, settings: HandoverSettings, found: Sequence[ActionItem]
) -> HandoverFacts:
    """The handover document's facts, from the records (unstamped: see ``stamped``)."""
    spec, results = ctx.spec, check_results(ctx)
    items = items_of(found)
    saved = backups(ctx, settings, results)
    return HandoverFacts(
        delivery=ctx.delivery.id,
        title=spec.title or spec.id,
        customer=spec.customer.name,
        people=people(spec),
        operations=operations(spec),
        platform=platform(ctx, settings),
        hosts=host_lines(ctx),
        jump_hosts=settings.jump_hosts,
        operator_login=login_command(settings.ssh_user, "HOST", settings),
        operator_note=operator_note(settings),
        access=user_access(ctx, settings),
        software=software(spec),
        monitoring=monitoring(ctx, settings),
        backups=saved,
        buddycheck=buddycheck(ctx, results),
        closed_items=items.closed,
        open_items=items.open,
        risks=(
            *risks(ctx, settings, items.open),
            *restore_risks(ctx, saved.restores),
            *failing(results),
        ),
        secrets=secret_places(spec, settings),
    )
