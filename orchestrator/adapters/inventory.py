"""The Ansible inventory of a delivery, built from its records: phase 1's addresses (NetBox),
phase 2's machines, and the spec's software, tuning, access and backups per role.

Pure functions: records in, inventory out. Groups are the host roles; each host's variables say
what the roles in ``orchestrator/playbooks/roles`` do on it. No secret is ever put in an
inventory: secrets are read by the playbooks from the delivery's secrets file.

Backups go to the site's backup host (``BackupTarget``), never to the host itself: each host's
restic repository is ``<base>/<delivery>/<host>`` there. When any host has backups, the inventory
also holds the backup host as ``BACKUP_HOST`` in the group ``BACKUP_GROUP`` (always there, empty
or not), which the plays exclude: phase 3 delegates to it the one task that authorises each
host's key, connecting as the site's SSH user and checking its key against the site's
``host_key`` (``BackupAccess.known_hosts``), never trusting it on first use.
"""

from __future__ import annotations

import ipaddress
import shlex
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engine.ports.check_monitoring import systemd_unit
from orchestrator.spec.model import DeliverySpec, ExpandedHost, GoLiveCheck, User
from orchestrator.store.records import Json, JsonMap

NODE_EXPORTER_PORT = 9100
#: Software the phase 3 roles know how to configure, by the Debian package that brings it.
SERVICES_OF = {"nginx": "nginx.service", "haproxy": "haproxy.service",
               "postgresql": "postgresql@15-main.service",
               "mariadb-server": "mariadb.service"}  # fmt: skip


#: The backup host's name and group in the inventory: no spec host or role can have them (their
#: names have no ``_``). Every play runs on ``all:!backup_host``.
BACKUP_HOST = "backup_target"
BACKUP_GROUP = "backup_host"
#: The name the controller knows the backup host's key by (ssh's ``HostKeyAlias``).
BACKUP_KEY_ALIAS = "orchestrator-backup"


@dataclass(frozen=True, slots=True)
class BackupTarget:
    """The backup host every delivery host sends its restic backups to, over sftp."""

    host: str  # name or address
    user: str  # the account that holds the repositories and may only use sftp
    base: str  # the repositories' folder, without a trailing ``/``
    host_key: str  # ``ssh-ed25519 AAAA...``, as the site gives it
    authorized_keys: str  # the file on the backup host that authorises the hosts' keys
    port: int = 22
    become: bool = False  # the controller's SSH user needs sudo there (the site's ``ssh.become``)

    def path(self, delivery: str, host: str) -> str:
        """The folder of ``host``'s repository on the backup host."""
        return f"{self.base}/{delivery}/{host}"

    def repository(self, delivery: str, host: str) -> str:
        """restic's name of ``host``'s repository: ``sftp:restic@backup.example.net:/srv/...``."""
        name = f"[{self.host}]" if ":" in self.host else self.host
        return f"sftp:{self.user}@{name}:{self.path(delivery, host)}"

    def known_hosts_line(self) -> str:
        """The line of the controller's known_hosts file for the backup host."""
        return f"{BACKUP_KEY_ALIAS} {' '.join(self.host_key.split()[:2])}\n"

    def variables(self) -> dict[str, Json]:
        """What the backups role needs to know about the backup host."""
        return {"host": self.host, "port": self.port, "user": self.user,
                "host_key": self.host_key, "authorized_keys": self.authorized_keys,
                "become": self.become}  # fmt: skip


@dataclass(frozen=True, slots=True)
class BackupAccess:
    """The backup host and the controller's file with its key (``known_hosts_line``)."""

    target: BackupTarget
    known_hosts: Path

    def entry(self) -> dict[str, Json]:
        """``BACKUP_HOST``'s inventory entry: the site's SSH user, the site's key checked."""
        checked = ["-o", f"HostKeyAlias={BACKUP_KEY_ALIAS}",
                   "-o", f"GlobalKnownHostsFile={self.known_hosts}"]  # fmt: skip
        return {
            "ansible_host": self.target.host,
            "ansible_port": self.target.port,
            "ansible_ssh_common_args": shlex.join(checked),
        }


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
    """A PostgreSQL (and MariaDB) identifier from a slug: ``acme-shop`` -> ``acme_shop``."""
    return text.replace("-", "_")


def mysql_hosts(networks: Sequence[str]) -> list[str]:
    """The host parts of MariaDB accounts for IPv4 ``networks``: ``10.0.0.0/255.255.255.0``
    (MariaDB knows no prefix lengths; an IPv6 network is left to the firewall)."""
    found = [ipaddress.ip_network(n, strict=False) for n in networks]
    return [
        f"{n.network_address}/{n.netmask}" for n in found if isinstance(n, ipaddress.IPv4Network)
    ]


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
    """The ports the monitoring system probes (``tcp`` and ``http`` checks, and the go-live
    checks phase 7 probes on the hosts of a role) on hosts of ``role``: the firewall baseline
    opens them to the scraper networks."""
    ports = {
        c.port
        for c in spec.monitoring.checks
        if c.kind in ("tcp", "http") and c.port is not None
        and (c.roles is None or role in c.roles)
    }  # fmt: skip
    go_live = spec.go_live.checks if spec.go_live else ()
    ports |= {port for c in go_live if c.role == role and (port := _go_live_port(c)) is not None}
    return sorted(ports)


def _go_live_port(check: GoLiveCheck) -> int | None:
    """The port a go-live check probes on its role's hosts."""
    if check.kind == "tcp":
        return check.port
    if check.kind == "http" and check.url is not None:
        url = urllib.parse.urlsplit(str(check.url))
        return url.port or (443 if url.scheme == "https" else 80)
    return None


@dataclass(frozen=True, slots=True)
class Topology:
    """Every host's record, the VIP and the prefix phase 1 reserved."""

    records: Sequence[HostRecord]
    vip: str | None
    prefix: str | None


def host_vars(  # noqa: PLR0913 - the facts a host's variables come from
    spec: DeliverySpec,
    host: ExpandedHost,
    record: HostRecord,
    topology: Topology,
    backups: BackupTarget | None = None,
    *,
    management_networks: Sequence[str] = (),
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
        "packages": [
            *(software.packages if software else ()),
            *migration_packages(spec, host),
        ],
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
        "mariadb": _mariadb(spec, topology, management_networks)
        if "mariadb-server" in packages
        else None,
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
            # None: the site has no backup host, and the play refuses (never a local repository)
            "repository": backups.repository(spec.id, host.name) if backups else None,
        }
    return hv


def migration_packages(spec: DeliverySpec, host: ExpandedHost) -> list[str]:
    """What phase 6 needs on ``host`` besides the spec's software: rsync where a
    files data set goes (rsync runs at both ends of a copy), unless the spec installs it."""
    software = spec.software.get(host.role)
    named = {p.split("=", 1)[0] for p in (software.packages if software else ())}
    data_sets = spec.migration.data_sets if spec.migration else ()
    wanted = any(d.kind == "files" and d.target_role == host.role for d in data_sets)
    return ["rsync"] if wanted and "rsync" not in named else []


def _db(spec: DeliverySpec) -> dict[str, Json]:
    name = sql_name(spec.customer.tenant)
    return {"name": name, "user": name}


def _mariadb(
    spec: DeliverySpec, topology: Topology, management_networks: Sequence[str]
) -> dict[str, Json]:
    """The delivery's MariaDB database, and its user's accounts: one per network that may log in
    (the delivery's prefix, the management networks)."""
    name = sql_name(spec.customer.tenant)
    networks = [n for n in (topology.prefix, *management_networks) if n]
    return {"name": name, "user": name, "clients": list(mysql_hosts(networks))}


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
    spec: DeliverySpec,
    topology: Topology,
    common: Mapping[str, Json],
    backups: BackupAccess | None = None,
) -> dict[str, Json]:
    """The inventory: one group per role, host variables per host, ``common`` for all; with the
    backup host (``BACKUP_HOST``, ``backup_server``) when a host has backups."""
    by_name = {r.name: r for r in topology.records}
    target = backups.target if backups else None
    groups: dict[str, dict[str, dict[str, Json]]] = {}
    for host in spec.expanded_hosts():
        record = by_name.get(host.name)
        if record is None:
            continue
        management = common.get("management_networks")
        networks = [str(n) for n in management] if isinstance(management, list) else []
        hv = host_vars(spec, host, record, topology, target, management_networks=networks)
        groups.setdefault(host.role, {})[host.name] = hv
    children: dict[str, Json] = {role: {"hosts": hosts} for role, hosts in groups.items()}
    variables = dict(common)
    backup_hosts: dict[str, Json] = {}
    backed_up = any(hv["backup"] for hosts in groups.values() for hv in hosts.values())
    if backups is not None and backed_up:
        variables["backup_server"] = backups.target.variables()
        backup_hosts[BACKUP_HOST] = backups.entry()
    children[BACKUP_GROUP] = {"hosts": backup_hosts}
    return {"all": {"vars": variables, "children": children}}


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
