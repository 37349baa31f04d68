"""The buddycheck's checks: one per sold item, per host, from the spec and the delivery's records.

    checks_for(spec, delivered) -> tuple[Check, ...]     pure: spec and records in, checks out

What each host gets (``kind``: what the executor does; names are stable and unique per host):

    every host      package nftables, prometheus-node-exporter; service nftables,
                    prometheus-node-exporter; port tcp/9100 (base_firewall, base_monitoring);
                    firewall input policy (drop), firewall ssh (only from the management networks)
    per user        user NAME, user NAME key N (each of its keys), user NAME sudo (yes or no as
                    sold), for each user (admin or not) whose ``roles`` take the host
    per software    package NAME for each package of the role; service NAME for each service of
                    the role and each one the phase 3 roles run (nginx, haproxy, PostgreSQL,
                    MariaDB)
    web (nginx)     port tcp/80
    db (postgresql) port tcp/5432; database DB user USER (log in with the delivery's password,
                    from the delivery's prefix and the management networks)
    mariadb-server  port tcp/3306
    lb (haproxy)    on the host holding the VIP: port tcp/VIP:PORT and vip tcp/PORT (every
                    backend's page seen through the VIP; a TCP connection where no page is known)
    tuning          sysctl NAME (live where the host owns its kernel, else the file the role
                    writes), limit DOMAIN TYPE ITEM (the line the role writes)
    backups         package restic; backup snapshot (one exists on the backup host), backup
                    restore (the sample file restores with the same sha256)

The paths below are the phase 3 roles' (``orchestrator/playbooks/roles``); a unit test holds them
to the roles' files. ``params`` never hold a secret: the database check names the secret
(``DB_SECRET``) the executor compares against without sending it anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orchestrator.adapters.inventory import NODE_EXPORTER_PORT, SERVICES_OF, sql_name
from orchestrator.engine.ports.platform_checks import Check
from orchestrator.engine.ports.reachability import fingerprint
from orchestrator.spec.model import DeliverySpec, ExpandedHost, Limit, User
from orchestrator.store.records import Json

#: The generated secret the database check compares the role's password verifier with.
DB_SECRET = "db_password"  # noqa: S105 - the name of a secret, not its value
SYSCTL_FILE = "/etc/sysctl.d/90-orchestrator.conf"  # roles/tuning
LIMITS_FILE = "/etc/security/limits.d/90-orchestrator.conf"  # roles/tuning
RESTIC_COMMAND = "/usr/local/sbin/orchestrator-restic"  # roles/backups_restic defaults
BACKUP_SAMPLE = "/var/lib/orchestrator/backup-sample.txt"  # roles/backups_restic defaults
BACKUP_TAG = "orchestrator"  # roles/backups_restic: every backup carries it
BASE_PACKAGES = ("nftables", "prometheus-node-exporter")  # base_firewall, base_monitoring
BASE_SERVICES = ("nftables", "prometheus-node-exporter")
HTTP_PORT, POSTGRES_PORT, MARIADB_PORT = 80, 5432, 3306


@dataclass(frozen=True, slots=True)
class Delivered:
    """What the records say about the platform: phase 1's VIP and prefix, phase 2's hosts.

    ``owns_kernel`` lists the hosts whose kernel is their own (a lab container shares the
    controller's: its sysctl values are checked in the role's file); ``vip_holder`` is the
    balancer host the VIP is on."""

    owns_kernel: frozenset[str] = frozenset()
    vip: str | None = None
    vip_holder: str | None = None
    prefix: str | None = None
    management_networks: tuple[str, ...] = ()


def checks_for(spec: DeliverySpec, delivered: Delivered) -> tuple[Check, ...]:
    """Every check of every host of ``spec``, host by host in the spec's order."""
    return tuple(
        check for host in spec.expanded_hosts() for check in host_checks(spec, host, delivered)
    )


def host_checks(spec: DeliverySpec, host: ExpandedHost, delivered: Delivered) -> list[Check]:
    """The checks of one host: base, users, software, ports, tuning, balancer, database, backups."""
    made = [
        *base_checks(host.name, delivered.management_networks),
        *user_checks(host.name, host.role, spec.access.users),
        *software_checks(spec, host.name, host.role),
        *port_checks(host.name, packages_of(spec, host.role)),
        *tuning_checks(spec, host.name, host.role, host.name in delivered.owns_kernel),
        *balancer_checks(spec, host.name, delivered),
        *database_checks(spec, host.name, host.role, delivered),
        *backup_checks(spec, host.name, host.role),
    ]
    return unique(made)


def unique(checks: Iterable[Check]) -> list[Check]:
    """``checks`` with a repeated name (the same item sold twice) kept once, where it came first."""
    kept: dict[str, Check] = {}
    for check in checks:
        kept.setdefault(check.name, check)
    return list(kept.values())


def packages_of(spec: DeliverySpec, role: str) -> list[str]:
    """The Debian packages of ``role``'s software, without version pins."""
    software = spec.software.get(role)
    return [p.split("=", 1)[0] for p in (software.packages if software else ())]


def _check(host: str, name: str, kind: str, expected: str, /, **params: Json) -> Check:
    return Check(host, name, kind, expected, params)


# --- every host ---------------------------------------------------------------------------------


def base_checks(host: str, management: Sequence[str]) -> list[Check]:
    """What phase 2 gives every host: the firewall baseline and the node exporter."""
    networks = ", ".join(management) or "nowhere (the site names no management networks)"
    return [
        *(package_check(host, name) for name in BASE_PACKAGES),
        *(service_check(host, name) for name in BASE_SERVICES),
        port_check(host, NODE_EXPORTER_PORT),
        _check(host, "firewall input policy", "firewall_policy", "input chain policy drop"),
        _check(host, "firewall ssh", "firewall_ssh", f"ssh (tcp/22) accepted only from {networks}",
               networks=list(management)),
    ]  # fmt: skip


def package_check(host: str, name: str) -> Check:
    return _check(host, f"package {name}", "package", "installed", name=name)


def service_check(host: str, name: str) -> Check:
    return _check(host, f"service {name}", "service", "running and enabled", name=name)


def port_check(host: str, port: int, address: str | None = None) -> Check:
    where = f"{address}:{port}" if address else str(port)
    on = f"on {address}" if address else "on every address"
    expected = f"a process listens on tcp/{port} {on}"
    return _check(host, f"port tcp/{where}", "port", expected, protocol="tcp", port=port,
                  address=address)  # fmt: skip


# --- users ----------------------------------------------------------------------------------------


def users_of(users: Sequence[User], role: str) -> list[User]:
    """The users a host of ``role`` has, admins or not: those whose ``roles`` take it (``None``:
    every role), as ``inventory.users_of`` hands them to the roles."""
    return [u for u in users if u.roles is None or role in u.roles]


def user_checks(host: str, role: str, users: Sequence[User]) -> list[Check]:
    """Each user: exists, each sold key authorised, sudo as sold."""
    return [check for user in users_of(users, role) for check in one_user(host, user)]


def one_user(host: str, user: User) -> list[Check]:
    name = user.name
    keys = [
        _check(host, f"user {name} key {n}", "user_key", f"{fingerprint(key)} in authorized_keys",
               user=name, key=key)
        for n, key in enumerate(user.ssh_keys, start=1)
    ]  # fmt: skip
    sudo = "may use sudo" if user.sudo else "may not use sudo"
    return [
        _check(host, f"user {name}", "user", "exists", name=name),
        *keys,
        _check(host, f"user {name} sudo", "user_sudo", sudo, user=name, sudo=user.sudo),
    ]


# --- software and ports -------------------------------------------------------------------------


def services_of(spec: DeliverySpec, role: str) -> list[str]:
    """The role's services: those sold, and those the phase 3 roles run for its packages."""
    software = spec.software.get(role)
    sold = list(software.services) if software else []
    run = [SERVICES_OF[p] for p in packages_of(spec, role) if p in SERVICES_OF]
    return list(dict.fromkeys(s.removesuffix(".service") for s in [*sold, *run]))


def software_checks(spec: DeliverySpec, host: str, role: str) -> list[Check]:
    return [
        *(package_check(host, name) for name in packages_of(spec, role)),
        *(service_check(host, name) for name in services_of(spec, role)),
    ]


def port_checks(host: str, packages: Sequence[str]) -> list[Check]:
    """nginx on 80, PostgreSQL on 5432 (``listen_addresses = '*'``), MariaDB on 3306
    (``bind-address = 0.0.0.0``)."""
    ports = [HTTP_PORT] if "nginx" in packages else []
    ports += [POSTGRES_PORT] if "postgresql" in packages else []
    ports += [MARIADB_PORT] if "mariadb-server" in packages else []
    return [port_check(host, port) for port in ports]


# --- tuning -------------------------------------------------------------------------------------


def tuning_checks(spec: DeliverySpec, host: str, role: str, owns_kernel: bool) -> list[Check]:  # noqa: FBT001 - a fact, not a switch
    tuning = spec.tuning.get(role)
    if tuning is None:
        return []
    where = "live" if owns_kernel else f"in {SYSCTL_FILE} (the host shares its kernel)"
    sysctls = [
        _check(host, f"sysctl {name}", "sysctl", f"{value} ({where})", name=name,
               value=str(value), live=owns_kernel, file=SYSCTL_FILE)
        for name, value in tuning.sysctl.items()
    ]  # fmt: skip
    return [*sysctls, *(limit_check(host, limit) for limit in tuning.limits)]


def limit_line(limit: Limit) -> str:
    """The line the tuning role writes for ``limit``: ``www-data - nofile 65536``."""
    kind = "-" if limit.kind == "both" else limit.kind
    return f"{limit.domain} {kind} {limit.item} {limit.value}"


def limit_check(host: str, limit: Limit) -> Check:
    line = limit_line(limit)
    name = f"limit {limit.domain} {limit.kind} {limit.item}"
    return _check(host, name, "limit", f"'{line}' in {LIMITS_FILE}", line=line, file=LIMITS_FILE)


# --- load balancer ------------------------------------------------------------------------------


def balancer_checks(spec: DeliverySpec, host: str, delivered: Delivered) -> list[Check]:
    """On the host holding the VIP: haproxy listens on VIP:port, and the VIP reaches every
    backend (each one's page seen, where the backends serve the customer's page)."""
    balancer, vip = spec.network.load_balancer, delivered.vip
    if balancer is None or vip is None or host != delivered.vip_holder:
        return []
    backends = [h.name for h in spec.expanded_hosts() if h.role == balancer.backend_role]
    web = "nginx" in packages_of(spec, balancer.backend_role)
    made: list[Check] = []
    for port in (p for p in balancer.ports if p.protocol == "tcp"):
        made.append(port_check(host, port.port, vip))
        pages = web and (port.backend_port or port.port) == HTTP_PORT
        made.append(vip_check(spec, host, vip, port.port, backends if pages else []))
    return made


def vip_check(spec: DeliverySpec, host: str, vip: str, port: int, backends: Sequence[str]) -> Check:
    """``vip tcp/PORT``: repeated requests see every backend's page (``pages``), or, without
    pages, a connection to VIP:PORT is accepted."""
    name = f"vip tcp/{port}"
    if not backends:
        return _check(host, name, "vip", f"{vip}:{port} accepts connections", vip=vip, port=port,
                      pages=[])  # fmt: skip
    pages: list[Json] = [f"{spec.customer.name} on {b}" for b in backends]
    expected = f"requests to {vip}:{port} reach every backend: {', '.join(backends)}"
    return _check(host, name, "vip", expected, vip=vip, port=port, pages=pages)


# --- database -----------------------------------------------------------------------------------


def database_checks(spec: DeliverySpec, host: str, role: str, delivered: Delivered) -> list[Check]:
    """The customer's database user logs in to its database with the delivery's password, from
    the networks the role lets in (the delivery's prefix, the management networks)."""
    if "postgresql" not in packages_of(spec, role):
        return []
    name = sql_name(spec.customer.tenant)
    networks: list[Json] = [n for n in (delivered.prefix, *delivered.management_networks) if n]
    expected = (f"{name} may log in to {name} with the delivery's password from "
                f"{', '.join(str(n) for n in networks) or 'nowhere'}")  # fmt: skip
    return [
        _check(host, f"database {name} user {name}", "database", expected, database=name,
               user=name, networks=networks, secret=DB_SECRET)
    ]  # fmt: skip


# --- backups ------------------------------------------------------------------------------------


def backup_checks(spec: DeliverySpec, host: str, role: str) -> list[Check]:
    if role not in spec.backups:
        return []
    return [
        package_check(host, "restic"),
        _check(host, "backup snapshot", "backup_snapshot",
               "a snapshot of this host on the backup host", command=RESTIC_COMMAND,
               tag=BACKUP_TAG),
        _check(host, "backup restore", "backup_restore",
               f"{BACKUP_SAMPLE} restores from the latest snapshot with the same sha256",
               command=RESTIC_COMMAND, tag=BACKUP_TAG, sample=BACKUP_SAMPLE),
    ]  # fmt: skip
