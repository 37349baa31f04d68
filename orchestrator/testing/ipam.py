"""``InMemoryIpam``: the ``Ipam`` port (NetBox) in memory, with scripted faults."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from orchestrator.engine.errors import Exhausted, KeyTaken, Refused
from orchestrator.engine.ports.ipam import STATUS_KINDS, Kind, New, Note, Owned, Ref
from orchestrator.store.records import JsonMap


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
