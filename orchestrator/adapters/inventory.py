"""The Ansible inventory of a delivery, built from its records: phase 1's addresses (NetBox),
phase 2's machines, and the spec's software, tuning, access and backups per role.

Pure functions: records in, inventory out. Groups are the host roles; each host's variables say
what the roles in ``orchestrator/playbooks/roles`` do on it. No secret is ever put in an
inventory: secrets are read by the playbooks from the delivery's secrets file.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orchestrator.engine.ports.check_monitoring import systemd_unit
from orchestrator.spec.model import DeliverySpec, ExpandedHost, User
from orchestrator.store.records import Json, JsonMap

NODE_EXPORTER_PORT = 9100
#: Software the phase 3 roles know how to configure, by the Debian package that brings it.
SERVICES_OF = {"nginx": "nginx.service", "haproxy": "haproxy.service",
               "postgresql": "postgresql@15-main.service"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class HostRecord:
    """What the records say about one host: where it is and what provides it."""

    name: str
    role: str
    address: str  # without the prefix length
    owns_kernel: bool = True
    existing: bool = False  # a server that ran before the delivery (``static``): gentler updates


def bare(address: str) -> str:
    """``10.213.128.5`` from ``10.213.128.5/28``."""
    return address.split("/", 1)[0]


def sql_name(text: str) -> str:
    """A PostgreSQL identifier from a slug: ``acme-shop`` -> ``acme_shop``."""
    return text.replace("-", "_")


def users_of(users: Sequence[User], role: str, *, sudo: bool) -> list[Json]:
    """The users with (``sudo=True``) or without sudo who get access to hosts of ``role``."""
    return [
        {"name": u.name, "comment": u.full_name or u.name, "keys": list(u.ssh_keys),
         "sudo": u.sudo}
        for u in users
        if u.sudo == sudo and (u.roles is None or role in u.roles)
    ]  # fmt: skip


def checked_units(spec: DeliverySpec, role: str) -> list[str]:
    """The systemd units that alerting ``process`` checks watch on hosts of ``role``."""
    return [
        systemd_unit(c.process)
        for c in spec.monitoring.checks
        if c.kind == "process" and c.process and c.activate == "build"
        and (c.roles is None or role in c.roles)
    ]  # fmt: skip


def probe_ports(spec: DeliverySpec, role: str) -> list[int]:
    """The ports the monitoring system probes (``tcp`` and ``http`` checks) on hosts of ``role``:
    the firewall baseline opens them to the management networks."""
    ports = {
        c.port
        for c in spec.monitoring.checks
        if c.kind in ("tcp", "http") and c.port is not None
        and (c.roles is None or role in c.roles)
    }  # fmt: skip
    return sorted(ports)


@dataclass(frozen=True, slots=True)
class Topology:
    """Every host's record, the VIP and the prefix phase 1 reserved."""

    records: Sequence[HostRecord]
    vip: str | None
    prefix: str | None


def host_vars(
    spec: DeliverySpec, host: ExpandedHost, record: HostRecord, topology: Topology
) -> dict[str, Json]:
    """Everything the playbooks need to know about ``host``."""
    software = spec.software.get(host.role)
    packages = [p.split("=", 1)[0] for p in (software.packages if software else ())]
    tuning = spec.tuning.get(host.role)
    backup = spec.backups.get(host.role)
    watched = [SERVICES_OF[p] for p in packages if p in SERVICES_OF]
    watched += checked_units(spec, host.role)
    hv: dict[str, Json] = {
        "ansible_host": record.address,
        "role": host.role,
        "owns_kernel": record.owns_kernel,
        "existing_host": record.existing,
        "packages": list(software.packages) if software else [],
        "services": list(software.services) if software else [],
        "watched_services": list(dict.fromkeys(watched)),
        "probe_ports": probe_ports(spec, host.role),
        "admin_users": users_of(spec.access.users, host.role, sudo=True),
        "access_users": users_of(spec.access.users, host.role, sudo=False),
        "sysctl": {k: str(v) for k, v in (tuning.sysctl if tuning else {}).items()},
        "limits": [
            {
                "domain": lim.domain,
                "kind": "-" if lim.kind == "both" else lim.kind,
                "item": lim.item,
                "value": str(lim.value),
            }
            for lim in (tuning.limits if tuning else ())
        ],
        "web": "nginx" in packages,
        "db": _db(spec) if "postgresql" in packages else None,
        "db_clients": [c for c in (topology.prefix,) if c],
        "lb": _lb(spec, topology) if "haproxy" in packages else None,
        "backup": None,
    }
    if backup is not None:
        hv["backup"] = {
            "schedule": backup.schedule,
            "paths": list(backup.paths),
            "keep_days": backup.retention.days,
            "keep_count": backup.retention.count,
        }
    return hv


def _db(spec: DeliverySpec) -> dict[str, Json]:
    name = sql_name(spec.customer.tenant)
    return {"name": name, "user": name}


def _lb(spec: DeliverySpec, topology: Topology) -> dict[str, Json]:
    balancer, vip = spec.network.load_balancer, topology.vip
    if balancer is None or vip is None:
        return {"vip": None, "ports": [], "backends": []}
    return {
        "vip": vip,
        "ports": [
            {"port": p.port, "backend_port": p.backend_port or p.port}
            for p in balancer.ports
            if p.protocol == "tcp"
        ],
        "backends": [
            {"name": r.name, "address": r.address}
            for r in topology.records
            if r.role == balancer.backend_role
        ],
    }


def inventory(
    spec: DeliverySpec, topology: Topology, common: Mapping[str, Json]
) -> dict[str, Json]:
    """The inventory: one group per role, host variables per host, ``common`` for all."""
    by_name = {r.name: r for r in topology.records}
    groups: dict[str, dict[str, dict[str, Json]]] = {}
    for host in spec.expanded_hosts():
        record = by_name.get(host.name)
        if record is None:
            continue
        hv = host_vars(spec, host, record, topology)
        groups.setdefault(host.role, {})[host.name] = hv
    children: dict[str, Json] = {role: {"hosts": hosts} for role, hosts in groups.items()}
    return {"all": {"vars": dict(common), "children": children}}


def vip_of(addresses: JsonMap) -> str | None:
    """The VIP phase 1 reserved, without its prefix length."""
    vip = addresses.get("vip")
    if isinstance(vip, Mapping) and isinstance(vip.get("address"), str):
        return bare(str(vip["address"]))
    return None


def prefix_of(addresses: JsonMap) -> str | None:
    """The delivery's prefix, as a network (``10.213.128.0/28``)."""
    prefix = addresses.get("prefix")
    if not isinstance(prefix, str):
        return None
    return str(ipaddress.ip_network(prefix, strict=False))
