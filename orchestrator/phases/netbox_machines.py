"""Phase 1, the rest: planned virtual machines with interface and primary IP (existing servers
adopted instead), the load balancer's base configuration, the access list, and hardware to order
(planned devices)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from orchestrator.engine.ports.host_records import RecordRef
from orchestrator.engine.ports.ipam import Ipam, Kind, New, Owned, Ref
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.phases.netbox_steps import (
    NetBoxStep,
    UnrecordedServer,
    _id,
    _journal,
    _spec_part,
    hardware_refs,
)
from orchestrator.phases.reservations import Make, Reservation, changes_for, key_of
from orchestrator.spec import DeliverySpec
from orchestrator.store.records import Json, JsonMap

VM_INTERFACE_TYPE = "virtualization.vminterface"
#: NetBox's object type of a server record, per kind (a service's parent).
PARENT_TYPES = {Kind.VM: "virtualization.virtualmachine", Kind.DEVICE: "dcim.device"}


def _addresses(ctx: StepContext) -> dict[str, dict[str, Json]]:
    """The addresses of the hosts phase 1 makes a VM for (not the existing servers)."""
    hosts = ctx.outputs["network.addresses"]["hosts"]
    if not isinstance(hosts, dict):
        raise TypeError("step network.addresses gave no hosts")
    existing = {host.name for host in ctx.spec.expanded_hosts() if host.existing}
    return {
        name: value
        for name, value in hosts.items()
        if isinstance(value, dict) and name not in existing
    }


def server_of(ipam: Ipam, host: str, address: str) -> RecordRef:
    """The VM or device holding ``address`` in NetBox (an existing server's record);
    ``UnrecordedServer`` when NetBox lacks the address or it is on no server's interface."""
    found = ipam.find(Kind.IP, address)
    if found is None:
        raise UnrecordedServer(host, f"NetBox has no address {address}")
    for kind in (Kind.VM, Kind.DEVICE):
        ident = found.links.get(kind.value)
        if ident is not None:
            return RecordRef(kind, ident)
    raise UnrecordedServer(
        host, f"NetBox address {found.value} (#{found.id}) is on no VM's or device's interface"
    )


def existing_servers(ctx: StepContext) -> dict[str, RecordRef]:
    """The records phase 1 adopted for the existing (``static``) servers, by host."""
    existing = ctx.outputs.get("network.machines", {}).get("existing")
    found = {}
    for host, ref in existing.items() if isinstance(existing, dict) else ():
        if isinstance(ref, dict) and isinstance(ref.get("id"), int):
            found[host] = RecordRef(Kind(str(ref["kind"])), int(ref["id"]))
    return found


def _int(value: Json) -> int:
    if not isinstance(value, int):
        raise TypeError(f"expected a NetBox id, got {value!r}")
    return value


class MachinesStep(NetBoxStep):
    """A planned VM per host with its interface (the site's name) holding its address, set as
    primary IP; in the cluster the site names for the host's machine provider. An existing
    (``static``) server is adopted instead: its address must sit on an interface of its VM or
    device in NetBox, which is recorded (``existing``) and left as it is."""

    def spec_inputs(self, spec: DeliverySpec) -> JsonMap:
        where: dict[str, Json] = {
            "clusters": dict(self.placement.clusters),
            "interface": self.placement.interface,
        }
        return {**_spec_part(spec, "network", "hosts"), "placement": where}

    def _wanted(self, ctx: StepContext, ipam: Ipam | None) -> list[New]:
        spec, delivery = ctx.spec, ctx.delivery.id
        tenant = _id(ctx, "network.tenant", "tenant") if ipam else 0
        site = ipam.reference(Ref.SITE, spec.network.site_slug) if ipam else 0
        wanted = []
        for host in (h for h in spec.expanded_hosts() if not h.existing):
            size = host.group.size
            fields: dict[str, Json] = {
                "name": host.name, "status": "planned", "site": site, "tenant": tenant,
                "vcpus": size.cpus, "memory": size.memory_mb, "disk": size.disk_gb * 1000,
                "description": f"{host.role} ({delivery})",
            }  # fmt: skip
            cluster = self.placement.cluster_for(host.group.provider)
            if cluster is not None and ipam is not None:
                fields["cluster"] = ipam.reference(Ref.CLUSTER, cluster)
            wanted.append(New(key_of(delivery, "vm", host.name), fields))
        return wanted

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        ipam = self.ready(ctx)
        found = ipam.owned(Kind.VM, ctx.delivery.id)
        adopted = [
            Change("adopt", f"server {host}", f"{ref}, left as it is")
            for host, ref in self._servers(ipam, ctx).items()
        ]
        return changes_for(Kind.VM, self._wanted(ctx, None), found) + adopted

    def apply(self, ctx: StepContext) -> Result:
        ipam, delivery = self.ready(ctx), ctx.delivery.id
        servers = self._servers(ipam, ctx)  # refused before anything is made
        found = ipam.owned(Kind.VM, delivery)
        if self._done(ctx, found):
            return Result(outputs=self._outputs(ctx, found, servers))
        make = Reservation(ipam, ctx, Kind.VM, lambda i: ipam.create(Kind.VM, delivery, i), found)
        vms = make(self._wanted(ctx, ipam))
        fresh = len(vms.created) == len(vms.objects)
        interfaces = self._interfaces(ipam, ctx, vms.objects, fresh=fresh)
        self._link(ipam, ctx, vms.objects, interfaces, fresh=fresh)
        prefix = _id(ctx, "network.prefix", "prefix")
        what = f"{len(vms.created)} planned VMs created, addresses assigned as primary IPs"
        _journal(ipam, ctx, (Kind.PREFIX, prefix), what)
        return Result(changed=True, outputs=self._outputs(ctx, vms.objects, servers))

    def _servers(self, ipam: Ipam, ctx: StepContext) -> dict[str, RecordRef]:
        """The NetBox record of each existing server, found by its address (read only)."""
        return {
            host.name: server_of(ipam, host.name, str(host.address))
            for host in ctx.spec.expanded_hosts()
            if host.existing
        }

    def _outputs(
        self, ctx: StepContext, machines: dict[str, Owned], servers: dict[str, RecordRef]
    ) -> JsonMap:
        delivery = ctx.delivery.id
        existing: dict[str, Json] = {
            host: {"kind": ref.kind.value, "id": ref.id} for host, ref in servers.items()
        }
        return {
            "vms": {host: machines[key_of(delivery, "vm", host)].id for host in _addresses(ctx)},
            "existing": existing,
        }

    def _done(self, ctx: StepContext, found: dict[str, Owned]) -> bool:
        """Every VM exists with its address as primary IP (NetBox allows that only when the
        address sits on one of the VM's interfaces)."""
        delivery = ctx.delivery.id
        for host, address in _addresses(ctx).items():
            vm = found.get(key_of(delivery, "vm", host))
            if vm is None or vm.links.get("primary_ip") != address["netbox_id"]:
                return False
        return True

    def _interfaces(
        self, ipam: Ipam, ctx: StepContext, machines: dict[str, Owned], *, fresh: bool
    ) -> dict[str, Owned]:
        delivery = ctx.delivery.id
        found = {} if fresh else ipam.owned(Kind.VM_INTERFACE, delivery)
        name = self.placement.interface
        wanted = [
            New(
                key_of(delivery, "vminterface", host),
                {"virtual_machine": machines[key_of(delivery, "vm", host)].id, "name": name},
            )
            for host in _addresses(ctx)
        ]
        make = Reservation(
            ipam, ctx, Kind.VM_INTERFACE, lambda i: ipam.create(Kind.VM_INTERFACE, delivery, i)
        )
        make.found = found
        return make(wanted).objects

    def _link(
        self,
        ipam: Ipam,
        ctx: StepContext,
        machines: dict[str, Owned],
        interfaces: dict[str, Owned],
        *,
        fresh: bool,
    ) -> None:
        """Assign each address to its VM's interface and make it the VM's primary IP."""
        delivery = ctx.delivery.id
        ips = {} if fresh else ipam.owned(Kind.IP, delivery)
        assign: list[tuple[int, JsonMap]] = []
        primary: list[tuple[int, JsonMap]] = []
        for host, address in _addresses(ctx).items():
            ip = _int(address["netbox_id"])
            interface = interfaces[key_of(delivery, "vminterface", host)].id
            vm = machines[key_of(delivery, "vm", host)]
            current = ips.get(key_of(delivery, "ip", host))
            if current is None or current.links.get("interface") != interface:
                fields: JsonMap = {"assigned_object_type": VM_INTERFACE_TYPE}
                assign.append((ip, {**fields, "assigned_object_id": interface}))
            if fresh or vm.links.get("primary_ip") != ip:
                family = "primary_ip6" if ":" in str(address["address"]) else "primary_ip4"
                primary.append((vm.id, {family: ip}))
        if assign:
            ipam.update(Kind.IP, assign)
        if primary:
            ipam.update(Kind.VM, primary)


class LoadBalancerStep(NetBoxStep):
    """The load balancer's base configuration: a service per backend and port, VIP in notes."""

    def spec_inputs(self, spec: DeliverySpec) -> JsonMap:
        where: dict[str, Json] = {
            "clusters": dict(self.placement.clusters),
            "interface": self.placement.interface,
        }
        return {**_spec_part(spec, "network", "hosts"), "placement": where}

    def _wanted(self, ctx: StepContext) -> list[New]:
        balancer, delivery = ctx.spec.network.load_balancer, ctx.delivery.id
        if balancer is None:
            return []
        addresses = ctx.outputs.get("network.addresses", {})
        vip = addresses.get("vip") if isinstance(addresses, dict) else None
        shown = vip.get("address") if isinstance(vip, dict) else "no VIP"
        wanted = []
        for host in ctx.spec.expanded_hosts():
            if host.role != balancer.backend_role:
                continue
            parent = _parent(ctx, host.name)
            for port in balancer.ports:
                fields: dict[str, Json] = {
                    "parent_object_type": PARENT_TYPES[parent.kind],
                    "parent_object_id": parent.id, "name": f"lb-{port.protocol}-{port.port}",
                    "protocol": port.protocol, "ports": [port.backend_port or port.port],
                    "description": f"behind load balancer VIP {shown} port {port.port}",
                }  # fmt: skip
                key = key_of(delivery, "service", host.name, f"{port.protocol}-{port.port}")
                wanted.append(New(key, fields))
        return wanted

    def _maker(self, ipam: Ipam, delivery: str) -> Make:
        return lambda items: ipam.create(Kind.SERVICE, delivery, items)

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        wanted = self._wanted(ctx)
        if not wanted:
            return []
        return changes_for(
            Kind.SERVICE, wanted, self.ready(ctx).owned(Kind.SERVICE, ctx.delivery.id)
        )

    def apply(self, ctx: StepContext) -> Result:
        wanted = self._wanted(ctx)
        if not wanted:
            return Result(outputs={"services": {}, "vip": None})
        ipam, delivery = self.ready(ctx), ctx.delivery.id
        make = Reservation(
            ipam, ctx, Kind.SERVICE, lambda i: ipam.create(Kind.SERVICE, delivery, i)
        )
        services = make(wanted)
        vip = ctx.outputs["network.addresses"].get("vip")
        if services.created:
            target = (Kind.PREFIX, _id(ctx, "network.prefix", "prefix"))
            if isinstance(vip, dict):
                target = (Kind.IP, _int(vip["netbox_id"]))
            _journal(ipam, ctx, target, f"load balancer: {len(wanted)} backend services")
        outputs: dict[str, Json] = {"services": services.ids(), "vip": vip}
        return Result(changed=bool(services.created), outputs=outputs)


def _parent(ctx: StepContext, host: str) -> RecordRef:
    """The record a backend's services go on: its planned VM, or the existing server (a service
    carries the delivery's key, so a release removes it and leaves the server)."""
    existing = existing_servers(ctx).get(host)
    if existing is not None:
        return existing
    vms = ctx.outputs.get("network.machines", {}).get("vms", {})
    vm = vms.get(host, 0) if isinstance(vms, dict) else 0
    return RecordRef(Kind.VM, vm if isinstance(vm, int) else 0)


def _fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class AccessStep(NetBoxStep):
    """The access list (users, sudo, roles, key fingerprints) as a journal entry on the tenant."""

    def spec_inputs(self, spec: DeliverySpec) -> JsonMap:
        return _spec_part(spec, "access")

    def _users(self, spec: DeliverySpec) -> list[Json]:
        return [
            {
                "name": user.name,
                "sudo": user.sudo,
                "roles": list(user.roles) if user.roles is not None else "all",
                "keys": [_fingerprint(str(key)) for key in user.ssh_keys],
            }
            for user in spec.access.users
        ]

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        users = [user.name for user in ctx.spec.access.users]
        return [Change("record", "access list", ", ".join(users) or "nobody")]

    def apply(self, ctx: StepContext) -> Result:
        ipam, users = self.ready(ctx), self._users(ctx.spec)
        lines = [
            f"{u.name} (sudo: {u.sudo}, roles: {', '.join(u.roles or ['all'])})"
            for u in ctx.spec.access.users
        ]
        text = "access list: " + ("; ".join(lines) or "nobody")
        _journal(ipam, ctx, (Kind.TENANT, _id(ctx, "network.tenant", "tenant")), text)
        return Result(changed=True, outputs={"users": users})


class HardwareStep(NetBoxStep):
    """Hardware to order: planned devices (type, role, site) with a journal entry each."""

    def spec_inputs(self, spec: DeliverySpec) -> JsonMap:
        where: dict[str, Json] = {
            "clusters": dict(self.placement.clusters),
            "interface": self.placement.interface,
        }
        return {**_spec_part(spec, "network", "hosts"), "placement": where}

    def _wanted(self, ctx: StepContext, ipam: Ipam | None) -> list[New]:
        wanted, delivery = [], ctx.delivery.id
        for group in ctx.spec.hosts:
            if group.hardware is None:
                continue
            fields: dict[str, Json] = {"status": "planned", "description": group.hardware.model}
            if ipam is not None:
                fields |= self._references(ipam, ctx, group.hardware.model)
            for n in range(1, group.hardware.quantity + 1):
                name = f"{delivery}-{group.role}-hw{n}"
                wanted.append(
                    New(key_of(delivery, "device", f"{group.role}-{n}"), {**fields, "name": name})
                )
        return wanted

    def _references(self, ipam: Ipam, ctx: StepContext, model: str) -> dict[str, Json]:
        (maker_ref, vendor), (type_ref, slug), (role_ref, role_slug) = hardware_refs(model)
        maker = ipam.reference(maker_ref, vendor, create={"name": model.split(maxsplit=1)[0]})
        kind = ipam.reference(type_ref, slug, create={"model": model, "manufacturer": maker})
        role = ipam.reference(role_ref, role_slug, create={"name": "Server", "color": "2196f3"})
        site = ipam.reference(Ref.SITE, ctx.spec.network.site_slug)
        tenant = _id(ctx, "network.tenant", "tenant")
        return {"device_type": kind, "role": role, "site": site, "tenant": tenant}

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        wanted = self._wanted(ctx, None)
        if not wanted:
            return []
        return changes_for(Kind.DEVICE, wanted, self.ready(ctx).owned(Kind.DEVICE, ctx.delivery.id))

    def apply(self, ctx: StepContext) -> Result:
        wanted = self._wanted(ctx, None)
        if not wanted:
            return Result(outputs={"devices": {}})
        ipam, delivery = self.ready(ctx), ctx.delivery.id
        found = ipam.owned(Kind.DEVICE, delivery)
        if any(item.key not in found for item in wanted):
            wanted = self._wanted(ctx, ipam)
        make = Reservation(ipam, ctx, Kind.DEVICE, lambda i: ipam.create(Kind.DEVICE, delivery, i))
        make.found = found
        devices = make(wanted)
        for key in devices.created:
            target = (Kind.DEVICE, devices.objects[key].id)
            _journal(ipam, ctx, target, "ordered, waiting at gate hardware_delivered")
        return Result(changed=bool(devices.created), outputs={"devices": devices.ids()})
