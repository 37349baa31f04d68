"""Checks that span fields of a spec whose fields are each valid.

Each check is a pure function of the spec yielding ``(location, message)`` pairs, so a problem is
reported at the field a person has to change. ``DeliverySpec`` runs them all after its fields
validate; the error report turns each pair into one line of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from orchestrator.spec.fields import is_host_label
from orchestrator.spec.problems import Loc

if TYPE_CHECKING:
    from pydantic import BaseModel

    from orchestrator.spec.model import DeliverySpec, HostGroup

type Inconsistency = tuple[Loc, str]
type Check = Callable[[DeliverySpec], Iterator[Inconsistency]]

#: For each kind of check: the optional fields that apply to it, and those it requires.
_MONITORING_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "ping": (frozenset(), frozenset()),
    "tcp": (frozenset({"port"}), frozenset({"port"})),
    "http": (frozenset({"port", "path", "expect_status"}), frozenset({"port"})),
    "disk": (frozenset({"mount", "warning", "critical"}), frozenset()),
    "load": (frozenset({"warning", "critical"}), frozenset()),
    "process": (frozenset({"process"}), frozenset({"process"})),
}
_MONITORING_OPTIONAL = frozenset(
    {"port", "path", "expect_status", "process", "mount", "warning", "critical"}
)
_GO_LIVE_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "http": (frozenset({"url", "expect_status", "content", "role"}), frozenset({"url"})),
    "tcp": (frozenset({"role", "port"}), frozenset({"role", "port"})),
    "manual": (frozenset(), frozenset({"description"})),
}
_GO_LIVE_OPTIONAL = frozenset({"url", "expect_status", "content", "role", "port"})


def inconsistencies(spec: DeliverySpec) -> list[Inconsistency]:
    """Every cross-field problem of ``spec``, in the order of the checks."""
    checks: tuple[Check, ...] = (
        _host_names,
        _static_addresses,
        _prefix_fits,
        _load_balancer,
        _role_sections,
        _users,
        _monitoring,
        _migration,
        _go_live,
    )
    return [problem for check in checks for problem in check(spec)]


def _unknown_role(role: str, roles: frozenset[str]) -> str:
    return f"no host group has role '{role}' (roles: {', '.join(sorted(roles))})"


def _role_refs(loc: Loc, refs: Iterable[str], roles: frozenset[str]) -> Iterator[Inconsistency]:
    for index, role in enumerate(refs):
        if role not in roles:
            yield (*loc, index), _unknown_role(role, roles)


def _duplicates(loc: Loc, names: Iterable[str], what: str) -> Iterator[Inconsistency]:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            yield (*loc, index, "name"), f"{what} '{name}' is listed twice"
        seen.add(name)


def _host_names(spec: DeliverySpec) -> Iterator[Inconsistency]:
    made_by: dict[str, int] = {}
    for index, group in enumerate(spec.hosts):
        loc = ("hosts", index, "name")
        if group.count > 1 and "{" not in group.name:
            yield loc, "must contain {n} when count > 1 (like web-{n:02d})"
            continue
        for name in _names(group):
            if not is_host_label(name):
                yield loc, f"makes '{name}', which is not a valid host name"
            elif name in made_by:
                yield loc, f"makes '{name}', which hosts[{made_by[name]}] also makes"
            made_by.setdefault(name, index)


def _names(group: HostGroup) -> Iterator[str]:
    for n in range(group.start, group.start + group.count):
        yield group.name.format(n=n)


def _static_addresses(spec: DeliverySpec) -> Iterator[Inconsistency]:
    for index, group in enumerate(spec.hosts):
        loc = ("hosts", index, "addresses")
        if group.provider != "static" and group.addresses is not None:
            yield loc, f"only for provider static ({group.provider} hosts get one from NetBox)"
        elif group.provider == "static" and group.addresses is None:
            yield loc, "required for provider static (one address per host)"
        elif group.addresses is not None and len(group.addresses) != group.count:
            yield (
                loc,
                f"must list {group.count} addresses, one per host (lists {len(group.addresses)})",
            )


def _prefix_fits(spec: DeliverySpec) -> Iterator[Inconsistency]:
    network = spec.network
    parent = network.parent_prefix
    if parent is None:  # the site file's: checked once the site has filled it in
        return
    loc = ("network", "prefix_length")
    if network.prefix_length <= parent.prefixlen:
        yield loc, f"must be > {parent.prefixlen} to fit inside the parent prefix {parent}"
    elif network.prefix_length > parent.max_prefixlen:
        yield loc, f"must be <= {parent.max_prefixlen} for an IPv{parent.version} prefix"
    else:
        yield from _prefix_room(spec)


def _prefix_room(spec: DeliverySpec) -> Iterator[Inconsistency]:
    network = spec.network
    hosts = sum(group.count for group in spec.hosts if group.provider != "static")
    vip = network.load_balancer is not None and network.load_balancer.vip is True
    size = 2 ** (network.parent.max_prefixlen - network.prefix_length)
    room = max(0, size - (2 if network.parent.version == 4 else 1))
    if hosts + vip > room:
        what = f"{hosts} hosts + VIP" if vip else f"{hosts} hosts"
        message = f"a /{network.prefix_length} has room for {room} addresses"
        yield ("network", "prefix_length"), f"{message}; {hosts + vip} needed ({what})"


def _load_balancer(spec: DeliverySpec) -> Iterator[Inconsistency]:
    balancer = spec.network.load_balancer
    if balancer is None:
        return
    loc: Loc = ("network", "load_balancer")
    if balancer.backend_role not in spec.roles():
        yield (*loc, "backend_role"), _unknown_role(balancer.backend_role, spec.roles())
    seen: set[tuple[int, str]] = set()
    for index, port in enumerate(balancer.ports):
        if (port.port, port.protocol) in seen:
            yield (*loc, "ports", index, "port"), f"{port.port}/{port.protocol} is listed twice"
        seen.add((port.port, port.protocol))


def _role_sections(spec: DeliverySpec) -> Iterator[Inconsistency]:
    sections: dict[str, Iterable[str]] = {
        "software": spec.software,
        "tuning": spec.tuning,
        "backups": spec.backups,
    }
    for section, roles in sections.items():
        for role in roles:
            if role not in spec.roles():
                yield (section, role), _unknown_role(role, spec.roles())


def _users(spec: DeliverySpec) -> Iterator[Inconsistency]:
    users = spec.access.users
    yield from _duplicates(("access", "users"), (user.name for user in users), "user")
    for index, user in enumerate(users):
        yield from _role_refs(("access", "users", index, "roles"), user.roles or (), spec.roles())


def _monitoring(spec: DeliverySpec) -> Iterator[Inconsistency]:
    checks = spec.monitoring.checks
    yield from _duplicates(("monitoring", "checks"), (check.name for check in checks), "check")
    for index, check in enumerate(checks):
        loc = ("monitoring", "checks", index)
        yield from _role_refs((*loc, "roles"), check.roles or (), spec.roles())
        yield from _kind_fields(loc, check.kind, check, _MONITORING_OPTIONAL, _MONITORING_FIELDS)
        warning, critical = check.warning, check.critical
        if warning is not None and critical is not None and warning >= critical:
            yield (*loc, "warning"), f"must be below critical ({critical:g})"


def _kind_fields(
    loc: Loc,
    kind: str,
    item: BaseModel,
    optional: frozenset[str],
    table: dict[str, tuple[frozenset[str], frozenset[str]]],
) -> Iterator[Inconsistency]:
    """The fields given to an item of some ``kind`` must apply to it; required ones be given."""
    applies, required = table[kind]
    given = {name for name in item.model_fields_set if getattr(item, name) is not None}
    for name in sorted(given & optional - applies):
        yield (*loc, name), f"does not apply to kind {kind}"
    for name in sorted(required - given):
        yield (*loc, name), f"required for kind {kind}"


#: For each kind of data set: the optional fields that apply to it, and those it requires.
_DATA_SET_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "files": (frozenset({"path", "target_path"}), frozenset({"path", "target_path"})),
    "postgresql": (frozenset({"database"}), frozenset({"database"})),
    "mysql": (frozenset({"database"}), frozenset({"database"})),
    "mariadb": (frozenset({"database"}), frozenset({"database"})),
}
_DATA_SET_OPTIONAL = frozenset({"path", "target_path", "database"})
#: For each kind of database: the package its target role must install, and what it is called.
_DATABASE_SERVER = {
    "postgresql": ("postgresql", "PostgreSQL"),
    "mysql": ("mariadb-server", "MariaDB"),
    "mariadb": ("mariadb-server", "MariaDB"),
}


def _migration(spec: DeliverySpec) -> Iterator[Inconsistency]:
    migration = spec.migration
    if migration is None:
        return
    sources = [source.name for source in migration.sources]
    yield from _duplicates(("migration", "sources"), sources, "source")
    yield from _duplicates(
        ("migration", "data_sets"), (d.name for d in migration.data_sets), "data set"
    )
    for index, data_set in enumerate(migration.data_sets):
        loc = ("migration", "data_sets", index)
        yield from _source_ref((*loc, "source"), data_set.source, sources)
        if data_set.target_role not in spec.roles():
            yield (*loc, "target_role"), _unknown_role(data_set.target_role, spec.roles())
        yield from _kind_fields(loc, data_set.kind, data_set, _DATA_SET_OPTIONAL, _DATA_SET_FIELDS)
        server = _DATABASE_SERVER.get(data_set.kind)
        if server is not None and not _installs(spec, data_set.target_role, server[0]):
            role, (package, called) = data_set.target_role, server
            yield (
                (*loc, "target_role"),
                (
                    f"the {role} hosts get no {called} to restore into "
                    f"(add {package} to software.{role}.packages)"
                ),
            )
    yield from _freeze(spec, sources)
    yield from _verification(spec)


def _installs(spec: DeliverySpec, role: str, package: str) -> bool:
    software = spec.software.get(role)
    return any(p.split("=", 1)[0] == package for p in (software.packages if software else ()))


def _source_ref(loc: Loc, name: str, sources: list[str]) -> Iterator[Inconsistency]:
    if name not in sources:
        known = ", ".join(sources) or "none"
        yield loc, f"no migration source named '{name}' (sources: {known})"


def _freeze(spec: DeliverySpec, sources: list[str]) -> Iterator[Inconsistency]:
    freeze = spec.migration.write_freeze if spec.migration else None
    if freeze is None:
        return
    loc: Loc = ("migration", "write_freeze")
    if freeze.command is not None and freeze.source is None:
        yield (*loc, "source"), "required with a command (the source that runs it)"
    elif freeze.source is not None:
        yield from _source_ref((*loc, "source"), freeze.source, sources)
        if freeze.command is None:
            yield (*loc, "command"), "required with a source (what the source runs)"


def _verification(spec: DeliverySpec) -> Iterator[Inconsistency]:
    checks = spec.migration.verification if spec.migration else ()
    yield from _duplicates(("migration", "verification"), (check.name for check in checks), "check")
    for index, check in enumerate(checks):
        if check.role not in spec.roles():
            yield (
                ("migration", "verification", index, "role"),
                _unknown_role(check.role, spec.roles()),
            )


def _go_live(spec: DeliverySpec) -> Iterator[Inconsistency]:
    checks = spec.go_live.checks
    yield from _duplicates(("go_live", "checks"), (check.name for check in checks), "check")
    for index, check in enumerate(checks):
        loc = ("go_live", "checks", index)
        yield from _kind_fields(loc, check.kind, check, _GO_LIVE_OPTIONAL, _GO_LIVE_FIELDS)
        if check.role is not None and check.role not in spec.roles():
            yield (*loc, "role"), _unknown_role(check.role, spec.roles())
        if check.kind == "http" and check.role is None and not _has_vip(spec):
            yield (*loc, "role"), "required: the delivery has no VIP to send the request to"


def _has_vip(spec: DeliverySpec) -> bool:
    balancer = spec.network.load_balancer
    return balancer is not None and balancer.vip is not False
