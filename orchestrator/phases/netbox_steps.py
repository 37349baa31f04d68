"""The steps of phase 1: tenant and contacts, VLAN, prefix, addresses, machines, load balancer,
access list and hardware — each a keyed ``Reservation`` in NetBox through the ``Ipam`` port.

Steps are delivery-wide (no hosts): each sends one bulk request per kind for every host that
needs it. The first step reads the delivery's objects of every kind and the reference data with one
query (``Ipam.prepare``); later steps answer from it. Each records the NetBox ids it created or
adopted in its outputs, and a journal entry naming the delivery and the run when it changed
something: recorded in the run store's audit log first, then written to NetBox by the phase's last
step (``JournalStep``) in one request for the whole phase.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.engine.errors import Exhausted, Refused
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD
from orchestrator.engine.ports.ipam import Ipam, Kind, New, Note, Owned, Ref
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.phases.gateway import (
    GATEWAY_ADDRESSES,
    Held,
    gateway_key,
    gateway_maker,
    held_by_delivery,
    held_elsewhere,
    held_reports,
    holder_of,
    host_of,
    report_held,
    room_problem,
    wanted_gateway,
)
from orchestrator.phases.reservations import (
    JOURNAL,
    JOURNALED,
    RELEASED,
    Reservation,
    Reserved,
    changes_for,
    exhausted_message,
    key_of,
    record,
    releases,
)
from orchestrator.spec import DeliverySpec
from orchestrator.store.records import AuditEntry, Json, JsonMap

type IpamSource = Callable[[], Ipam]


def _spec_part(spec: DeliverySpec, *names: str) -> JsonMap:
    dumped = spec.model_dump(mode="json")
    return {name: dumped.get(name) for name in names}


def _journal(ipam: Ipam, ctx: StepContext, target: tuple[Kind, int], what: str) -> None:
    """A journal entry on ``target``: recorded for ``JournalStep`` (written now if no store)."""
    text = f"{what} — orchestrator delivery {ctx.delivery.id}, run {ctx.run_id}"
    if ctx.audit is None:
        ipam.note([Note(target[0], target[1], text)])
        return
    key = key_of(ctx.delivery.id, "journal", uuid.uuid4().hex)
    record(ctx, JOURNAL, {"kind": target[0].value, "id": target[1], "text": text, "key": key})


def hardware_refs(model: str) -> tuple[tuple[Ref, str], tuple[Ref, str], tuple[Ref, str]]:
    """Manufacturer, device type and device role of ordered hardware ``model``."""
    vendor = model.split(maxsplit=1)[0]
    slug = "".join(c if c.isalnum() else "-" for c in model.lower()).strip("-")
    return (Ref.MANUFACTURER, vendor.lower()), (Ref.DEVICE_TYPE, slug), (Ref.DEVICE_ROLE, "server")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the site puts a delivery's VMs in NetBox: a cluster per machine provider (none when
    the site names none for it) and the name of each VM's interface."""

    clusters: Mapping[str, str] = field(default_factory=dict)
    interface: str = "eth0"

    def cluster_for(self, provider: str) -> str | None:
        """The cluster VMs of ``provider`` go in, if any."""
        return self.clusters.get(provider)


def references(spec: DeliverySpec, placement: Placement) -> list[tuple[Ref, str]]:
    """The shared NetBox data phase 1 of ``spec`` refers to."""
    net = spec.network
    refs = [
        (Ref.SITE, net.site_slug), (Ref.VLAN_GROUP, net.vlan_group_slug),
        (Ref.PREFIX, str(net.parent)), (Ref.TENANT, spec.customer.tenant),
        *((Ref.CONTACT_ROLE, role) for role, _new in _people(spec, spec.id)),
    ]  # fmt: skip
    clusters = {placement.cluster_for(group.provider) for group in spec.hosts}
    refs.extend((Ref.CLUSTER, cluster) for cluster in sorted(c for c in clusters if c))
    for group in spec.hosts:
        if group.hardware is not None:
            refs.extend(hardware_refs(group.hardware.model))
    return refs


def _id(ctx: StepContext, step: str, name: str) -> int:
    value = ctx.outputs[step][name]
    if not isinstance(value, dict) or not isinstance(value.get("id"), int):
        raise TypeError(f"step {step} gave no {name} id")
    ident: int = value["id"]
    return ident


def _summary(kind: Kind, reserved: Reserved) -> str:
    return f"{kind}: {len(reserved.created)} created, {len(reserved.adopted)} adopted"


@dataclass(frozen=True, slots=True)
class NetBoxStep:
    """What every phase-1 step shares: its key, title, the IPAM it talks to, delivery-wide."""

    key: str
    title: str
    ipam: IpamSource
    placement: Placement = field(default_factory=Placement)

    def spec_inputs(self, spec: DeliverySpec) -> JsonMap:
        """The parts of the spec the step depends on."""
        return _spec_part(spec, "customer", "network")

    def inputs(self, ctx: StepContext) -> JsonMap:
        return {"spec": self.spec_inputs(ctx.spec), "releases": releases(ctx)}

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def ready(self, ctx: StepContext) -> Ipam:
        """The IPAM, with the delivery's objects and references read (once per run)."""
        ipam = self.ipam()
        ipam.prepare(ctx.delivery.id, references(ctx.spec, self.placement))
        return ipam


# tenant and contacts


def _people(spec: DeliverySpec, delivery: str) -> list[tuple[str, New]]:
    """(contact role slug, contact) for the delivery manager, lead engineer and contacts."""
    people = [
        ("delivery-manager", spec.delivery_manager.name, spec.delivery_manager.email, None),
        ("lead-engineer", spec.lead_engineer.name, spec.lead_engineer.email, None),
        *((c.role, c.name, c.email, c.phone) for c in spec.contacts),
    ]
    return [
        (
            role,
            New(
                key_of(delivery, "contact", role, email),
                {"name": name, "email": email, "phone": phone or "", "description": role},
            ),
        )
        for role, name, email, phone in people
    ]


class TenantNameTaken(Refused):
    """The spec's ``customer.name`` is the name of a NetBox tenant with another slug: NetBox would
    refuse the tenant phase 1 was about to create (tenant names are unique)."""

    def __init__(self, name: str, tenant: Owned) -> None:
        super().__init__(
            f"customer.name {name!r} is already NetBox tenant #{tenant.id} (slug "
            f"{tenant.value!r}); set customer.tenant: {tenant.value} to deliver for that tenant, "
            "or give the customer another name"
        )
        self.tenant = tenant


class TenantStep(NetBoxStep):
    """The customer as a NetBox tenant (adopted if it exists), and contacts assigned to it."""

    def spec_inputs(self, spec: DeliverySpec) -> JsonMap:
        return _spec_part(spec, "customer", "delivery_manager", "lead_engineer", "contacts")

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        ipam, spec = self.ready(ctx), ctx.spec
        tenant = self._existing(ipam, ctx)
        lines = [
            Change("adopt", f"tenant {spec.customer.tenant}", f"#{tenant.id}")
            if tenant
            else Change("create", f"tenant {spec.customer.tenant}", spec.customer.name)
        ]
        wanted = [new for _role, new in _people(spec, ctx.delivery.id)]
        return lines + changes_for(Kind.CONTACT, wanted, ipam.owned(Kind.CONTACT, ctx.delivery.id))

    def apply(self, ctx: StepContext) -> Result:
        ipam, spec, delivery = self.ready(ctx), ctx.spec, ctx.delivery.id
        tenant, made = self._tenant(ipam, ctx)
        people = _people(spec, delivery)
        make = Reservation(
            ipam, ctx, Kind.CONTACT, lambda i: ipam.create(Kind.CONTACT, delivery, i)
        )
        contacts = make([new for _role, new in people])
        pairs = [(contacts.objects[new.key].id, role) for role, new in people]
        assigned = ipam.assign_contacts(tenant.id, pairs)
        changed = made or bool(contacts.created) or assigned > 0
        if changed:
            _journal(ipam, ctx, (Kind.TENANT, tenant.id), _summary(Kind.CONTACT, contacts))
        outputs: dict[str, Json] = {
            "tenant": {"id": tenant.id, "slug": tenant.value, "owned": bool(tenant.key)},
            "contacts": contacts.ids(),
        }
        return Result(changed=changed, outputs=outputs)

    def _existing(self, ipam: Ipam, ctx: StepContext) -> Owned | None:
        """The tenant to adopt (ours, else the one with the spec's slug), or ``None`` to make one;
        ``TenantNameTaken`` if another tenant has the customer's name (looked up only then)."""
        customer = ctx.spec.customer
        ours = ipam.owned(Kind.TENANT, ctx.delivery.id).get(key_of(ctx.delivery.id, "tenant"))
        found = ours or ipam.find(Kind.TENANT, customer.tenant)
        if found is None and (other := ipam.tenant_named(customer.name)) is not None:
            raise TenantNameTaken(customer.name, other)
        return found

    def _tenant(self, ipam: Ipam, ctx: StepContext) -> tuple[Owned, bool]:
        existing = self._existing(ipam, ctx)
        if existing is not None:
            return existing, False
        customer, delivery = ctx.spec.customer, ctx.delivery.id
        new = New(key_of(delivery, "tenant"), {"name": customer.name, "slug": customer.tenant})
        make = Reservation(ipam, ctx, Kind.TENANT, lambda i: ipam.create(Kind.TENANT, delivery, i))
        return make([new]).objects[new.key], True


# VLAN and prefix


class VlanStep(NetBoxStep):
    """A VLAN from the spec's VLAN group, through ``available-vlans``."""

    def _wanted(self, ctx: StepContext) -> New:
        tenant = _id(ctx, "network.tenant", "tenant")
        fields: dict[str, Json] = {"name": ctx.delivery.id, "tenant": tenant, "status": "active"}
        return New(key_of(ctx.delivery.id, "vlan"), fields)

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        ipam, group = self.ready(ctx), ctx.spec.network.vlan_group_slug
        key = key_of(ctx.delivery.id, "vlan")
        found = ipam.owned(Kind.VLAN, ctx.delivery.id)
        free = (
            [] if key in found else ipam.free(Kind.VLAN, ipam.reference(Ref.VLAN_GROUP, group), 1)
        )
        return changes_for(Kind.VLAN, [New(key)], found, [f"vid {vid} in {group}" for vid in free])

    def apply(self, ctx: StepContext) -> Result:
        ipam, delivery, group = self.ready(ctx), ctx.delivery.id, ctx.spec.network.vlan_group_slug

        def allocate(items: Sequence[New]) -> list[Owned]:
            pool = ipam.reference(Ref.VLAN_GROUP, group)
            try:
                return ipam.allocate(Kind.VLAN, pool, delivery, items)
            except Exhausted as exc:
                free = ipam.free(Kind.VLAN, pool, 1)
                raise Exhausted(exhausted_message(f"VLAN from {group}", 1, free)) from exc

        reserved = Reservation(ipam, ctx, Kind.VLAN, allocate)([self._wanted(ctx)])
        vlan = next(iter(reserved.objects.values()))
        if reserved.created:
            _journal(ipam, ctx, (Kind.VLAN, vlan.id), f"VLAN {vlan.value} reserved")
        outputs: dict[str, Json] = {"vlan": {"id": vlan.id, "vid": int(vlan.value)}}
        return Result(changed=bool(reserved.created), outputs=outputs)


@dataclass(frozen=True, slots=True)
class GatewayKeepingStep(NetBoxStep):
    """A step that keeps the first ``gateway_addresses`` usable addresses of the delivery's prefix
    for the gateway (the site's setting; 0 keeps none)."""

    gateway_addresses: int = GATEWAY_ADDRESSES

    def __post_init__(self) -> None:
        if self.gateway_addresses < 0:
            raise ValueError(f"gateway_addresses must be 0 or more, not {self.gateway_addresses}")


def _check_room(spec: DeliverySpec, gateway: int) -> None:
    """Refuse a new prefix too small for the gateway address(es), the hosts and the VIP."""
    problem = room_problem(spec, gateway)
    if problem is not None:
        raise Refused(problem)


class PrefixStep(GatewayKeepingStep):
    """A prefix of the spec's length from the parent prefix, bound to VLAN, tenant and site; one
    that would not hold the gateway address(es), hosts and VIP is refused before it is made."""

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        ipam, net = self.ready(ctx), ctx.spec.network
        key = key_of(ctx.delivery.id, "prefix")
        found = ipam.owned(Kind.PREFIX, ctx.delivery.id)
        free = []
        if key not in found:
            _check_room(ctx.spec, self.gateway_addresses)
            parent = ipam.reference(Ref.PREFIX, str(net.parent))
            free = ipam.free(Kind.PREFIX, parent, 1, net.prefix_length)
        return changes_for(Kind.PREFIX, [New(key)], found, free)

    def apply(self, ctx: StepContext) -> Result:
        ipam, delivery, net = self.ready(ctx), ctx.delivery.id, ctx.spec.network

        def allocate(items: Sequence[New]) -> list[Owned]:
            parent = ipam.reference(Ref.PREFIX, str(net.parent))
            site = ipam.reference(Ref.SITE, net.site_slug)
            fields: dict[str, Json] = {"scope_type": "dcim.site", "scope_id": site}
            items = [New(item.key, {**item.fields, **fields}) for item in items]
            try:
                return ipam.allocate(Kind.PREFIX, parent, delivery, items)
            except Exhausted as exc:
                free = ipam.free(Kind.PREFIX, parent, 5, net.prefix_length)
                what = f"/{net.prefix_length} prefix from {net.parent}"
                raise Exhausted(exhausted_message(what, 1, free)) from exc

        fields: dict[str, Json] = {
            "prefix_length": net.prefix_length,
            "vlan": _id(ctx, "network.vlan", "vlan"),
            "tenant": _id(ctx, "network.tenant", "tenant"),
            "status": "active",
            "description": f"delivery {delivery}",
        }
        key, found = key_of(delivery, "prefix"), ipam.owned(Kind.PREFIX, delivery)
        if key not in found:
            _check_room(ctx.spec, self.gateway_addresses)
        reserved = Reservation(ipam, ctx, Kind.PREFIX, allocate, found)([New(key, fields)])
        prefix = next(iter(reserved.objects.values()))
        if reserved.created:
            _journal(ipam, ctx, (Kind.PREFIX, prefix.id), f"prefix {prefix.value} reserved")
        outputs: dict[str, Json] = {"prefix": {"id": prefix.id, "prefix": prefix.value}}
        return Result(changed=bool(reserved.created), outputs=outputs)


# addresses

RECORD_IT = (
    "phase 1 adopts an existing server, it never records one: record it in NetBox first (its VM "
    "or device, an interface holding its address with the network's prefix length, and in the "
    f"custom field {HOST_KEY_FIELD} its SSH host key, verified out of band), then run again"
)


class UnrecordedServer(Refused):
    """A ``static`` host's server is not in NetBox as phase 1 needs it: its address on an
    interface of its VM or device."""

    def __init__(self, host: str, problem: str) -> None:
        super().__init__(f"static host {host}: {problem}; {RECORD_IT}")
        self.host = host


@dataclass(frozen=True, slots=True)
class Wanted:
    """The addresses a delivery needs: allocated from its prefix, or existing ones to adopt
    (``static`` hosts', whose keys ``servers`` maps to the host) or record (a given VIP)."""

    allocated: list[New]
    existing: list[tuple[New, str]]
    roles: dict[str, str]
    servers: dict[str, str] = field(default_factory=dict)


def _with_length(address: str) -> str:
    parsed = ipaddress.ip_address(address)
    return f"{address}/{parsed.max_prefixlen}"


def _wanted_addresses(spec: DeliverySpec, delivery: str, tenant: int) -> Wanted:
    base: dict[str, Json] = {"status": "active", "tenant": tenant}
    wanted = Wanted([], [], {})
    for host in spec.expanded_hosts():
        new = New(key_of(delivery, "ip", host.name), {**base, "description": host.name})
        wanted.roles[host.name] = host.role
        if host.address is None:
            wanted.allocated.append(new)
        else:
            wanted.existing.append((new, _with_length(str(host.address))))
            wanted.servers[new.key] = host.name
    balancer = spec.network.load_balancer
    if balancer is not None and balancer.vip is not False:
        vip = New(key_of(delivery, "ip", "vip"), {**base, "role": "vip", "description": "VIP"})
        if balancer.vip is True:
            wanted.allocated.append(vip)
        else:
            wanted.existing.append((vip, _with_length(str(balancer.vip))))
    return wanted


def _prefix(ctx: StepContext) -> tuple[int, str] | None:
    """The delivery's prefix (id, ``10.213.128.0/28``) from the prefix step, once it ran."""
    prefix = ctx.outputs.get("network.prefix", {}).get("prefix")
    if not isinstance(prefix, dict):
        return None
    ident, value = prefix.get("id"), prefix.get("prefix")
    return (ident, value) if isinstance(ident, int) and isinstance(value, str) else None


class AddressesStep(GatewayKeepingStep):
    """The gateway address(es) at the start of the prefix, recorded first so that NetBox never
    hands them out; then an address per host and for the VIP in one bulk ``available-ips`` call."""

    def spec_inputs(self, spec: DeliverySpec) -> JsonMap:
        return _spec_part(spec, "network", "hosts")

    def inputs(self, ctx: StepContext) -> JsonMap:
        gateway = {"gateway_addresses": self.gateway_addresses, "held": held_reports(ctx)}
        return {**super().inputs(ctx), "gateway": gateway}

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        ipam, delivery, prefix = self.ready(ctx), ctx.delivery.id, _prefix(ctx)
        wanted = _wanted_addresses(ctx.spec, delivery, 0)
        found = ipam.owned(Kind.IP, delivery)
        lines, taking = self._plan_gateway(ipam, ctx, found, prefix)
        missing = [item for item in wanted.allocated if item.key not in found]
        free: list[str] = []
        if missing and prefix is not None:
            free = ipam.free(Kind.IP, prefix[0], len(missing) + len(taking))
            free = [address for address in free if host_of(address) not in taking]
        lines += changes_for(Kind.IP, wanted.allocated, found, free)
        there = {**found, **self._adopted(ipam, wanted, found)}
        return lines + changes_for(Kind.IP, [new for new, _a in wanted.existing], there)

    def _plan_gateway(
        self, ipam: Ipam, ctx: StepContext, found: dict[str, Owned], prefix: tuple[int, str] | None
    ) -> tuple[list[Change], set[str]]:
        """The plan's gateway lines, and the hosts of the gateway addresses it would record."""
        delivery, count = ctx.delivery.id, self.gateway_addresses
        if prefix is None:
            where = "gateway: usable address {} of the prefix"
            keys = [gateway_key(delivery, n) for n in range(1, count + 1)]
            return [Change("create", f"{Kind.IP} {key}", where.format(n))
                    for n, key in enumerate(keys, start=1)], set()  # fmt: skip
        wanted = wanted_gateway(delivery, prefix[1], count, 0)
        held = held_by_delivery(wanted, found)
        seen = {one.key for one in held} | set(found)
        held += held_elsewhere(ipam, [item for item in wanted if item.key not in seen])
        skipped = {one.key for one in held}
        todo = [item for item in wanted if item.key not in found and item.key not in skipped]
        lines = changes_for(Kind.IP, [item for item in wanted if item.key in found], found)
        lines += [Change("skip", f"{Kind.IP} {one.key}", str(one)) for one in held]
        lines += [
            Change("create", f"{Kind.IP} {item.key}", f"gateway {item.fields['address']}")
            for item in todo
        ]
        return lines, {host_of(str(item.fields["address"])) for item in todo}

    def apply(self, ctx: StepContext) -> Result:
        ipam, delivery = self.ready(ctx), ctx.delivery.id
        wanted = _wanted_addresses(ctx.spec, delivery, _id(ctx, "network.tenant", "tenant"))
        prefix = _id(ctx, "network.prefix", "prefix")
        found = ipam.owned(Kind.IP, delivery)
        adopted = self._adopted(ipam, wanted, found)  # refused before anything is reserved
        gateway, held = self._gateway(ipam, ctx, found)
        found = {**found, **gateway.objects}
        allocated = Reservation(ipam, ctx, Kind.IP, self._allocator(ipam, ctx, prefix), found)(
            wanted.allocated
        )
        recorded = self._existing(ipam, ctx, wanted.existing, {**found, **adopted})
        objects = {**allocated.objects, **recorded.objects}
        created = allocated.created + recorded.created
        if created or gateway.created:
            shown = ", ".join(gateway.objects[key].value for key in gateway.created)
            what = [f"{len(created)} addresses reserved" if created else ""]
            what += [f"gateway {shown} recorded" if shown else ""]
            _journal(ipam, ctx, (Kind.PREFIX, prefix), ", ".join(part for part in what if part))
        outputs = self._outputs(ctx, wanted, objects, gateway, held)
        return Result(changed=bool(created or gateway.created), outputs=outputs)

    def _gateway(
        self, ipam: Ipam, ctx: StepContext, found: dict[str, Owned]
    ) -> tuple[Reserved, list[Held]]:
        """Record the gateway address(es) of the prefix, keeping (and reporting) held ones."""
        delivery, prefix = ctx.delivery.id, _prefix(ctx)
        if prefix is None:
            raise TypeError("step network.prefix gave no prefix")
        tenant = _id(ctx, "network.tenant", "tenant")
        wanted = wanted_gateway(delivery, prefix[1], self.gateway_addresses, tenant)
        held = held_by_delivery(wanted, found)
        skipped = {one.key for one in held}
        make = Reservation(ipam, ctx, Kind.IP, gateway_maker(ipam, delivery, held), found)
        reserved = make([item for item in wanted if item.key not in skipped])
        report_held(ctx, held, prefix[1])
        return reserved, held

    def _allocator(
        self, ipam: Ipam, ctx: StepContext, prefix: int
    ) -> Callable[[Sequence[New]], list[Owned]]:
        def allocate(items: Sequence[New]) -> list[Owned]:
            try:
                return ipam.allocate(Kind.IP, prefix, ctx.delivery.id, items)
            except Exhausted as exc:
                free = ipam.free(Kind.IP, prefix, len(items))
                where = ctx.outputs["network.prefix"]["prefix"]
                shown = where.get("prefix") if isinstance(where, dict) else where
                what = f"addresses from {shown}"
                raise Exhausted(exhausted_message(what, len(items), free)) from exc

        return allocate

    def _adopted(self, ipam: Ipam, wanted: Wanted, found: dict[str, Owned]) -> dict[str, Owned]:
        """The existing addresses NetBox holds (whatever their length there), by key; a static
        host's address that NetBox lacks is ``UnrecordedServer`` (a given VIP is recorded)."""
        adopted: dict[str, Owned] = {}
        for new, address in wanted.existing:
            there = None if new.key in found else ipam.find(Kind.IP, address.split("/")[0])
            if there is not None:
                adopted[new.key] = there
            elif new.key in wanted.servers and new.key not in found:
                shown = address.split("/")[0]
                raise UnrecordedServer(wanted.servers[new.key], f"NetBox has no address {shown}")
        return adopted

    def _existing(
        self, ipam: Ipam, ctx: StepContext, wanted: list[tuple[New, str]], found: dict[str, Owned]
    ) -> Reserved:
        """Existing addresses (static hosts, a given VIP): adopted (in ``found``), else recorded."""
        todo = [New(new.key, {**new.fields, "address": a}) for new, a in wanted]
        make = Reservation(ipam, ctx, Kind.IP, lambda i: ipam.create(Kind.IP, ctx.delivery.id, i))
        make.found = found
        return make(todo)

    def _outputs(
        self,
        ctx: StepContext,
        wanted: Wanted,
        objects: dict[str, Owned],
        gateway: Reserved,
        held: list[Held],
    ) -> JsonMap:
        delivery = ctx.delivery.id
        hosts: dict[str, Json] = {}
        for host, role in wanted.roles.items():
            item = objects[key_of(delivery, "ip", host)]
            hosts[host] = {"address": item.value, "netbox_id": item.id, "role": role}
        vip = objects.get(key_of(delivery, "ip", "vip"))
        prefix = _prefix(ctx)
        values = (item.value for item in gateway.objects.values())
        gateways = sorted(values, key=lambda value: ipaddress.ip_interface(value).ip)
        return {
            "hosts": hosts,
            "vip": {"address": vip.value, "netbox_id": vip.id} if vip else None,
            "prefix": prefix[1] if prefix else None,
            "gateway": list(gateways),
            "gateway_held": {one.address: holder_of(one) for one in held},
        }


# journal


def unwritten(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """Journal entries recorded since the delivery's last release and not written to NetBox."""
    pending: list[AuditEntry] = []
    written: set[Json] = set()
    for entry in entries:
        if entry.action == RELEASED:
            pending = []
        elif entry.action == JOURNAL:
            pending.append(entry)
        elif entry.action == JOURNALED and isinstance(ids := entry.detail.get("entries"), list):
            written.update(ids)
    return [entry for entry in pending if entry.id not in written]


def _note(entry: AuditEntry) -> Note:
    detail = entry.detail
    kind, ident = Kind(str(detail["kind"])), int(str(detail["id"]))
    return Note(kind, ident, str(detail["text"]), str(detail.get("key") or ""))


class JournalStep(NetBoxStep):
    """The journal entries the phase's steps recorded, written to NetBox in one request."""

    def _pending(self, ctx: StepContext) -> list[AuditEntry]:
        return unwritten(ctx.audit.list_audit(ctx.delivery.id)) if ctx.audit else []

    def inputs(self, ctx: StepContext) -> JsonMap:
        return {"entries": [entry.id for entry in self._pending(ctx)]}

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        pending = self._pending(ctx)
        return [Change("write", "journal entries", str(len(pending)))] if pending else []

    def apply(self, ctx: StepContext) -> Result:
        pending = self._pending(ctx)
        if not pending:
            return Result(outputs={"written": 0})
        self.ipam().note([_note(entry) for entry in pending])
        record(ctx, JOURNALED, {"entries": [entry.id for entry in pending]})
        return Result(changed=True, outputs={"written": len(pending)})
