"""``netbox_check``: whether a NetBox is ready for the orchestrator, one line per thing checked.

It only reads (an ``OPTIONS`` request tells what the token may write, without writing):

    netbox             NetBox answers ``/api/status/``, in version 4.5 or later
    netbox token       the token is accepted (``/api/authentication-check/``: its user)
    netbox reads       the token can read every REST endpoint the orchestrator reads
    netbox writes      ... and may add and change where the orchestrator writes (deleting, which
                       ``orchestrator release`` needs, cannot be checked without deleting)
    netbox graphql     the GraphQL API answers the lists a delivery's snapshot reads
    custom field X     each of ``CUSTOM_FIELDS`` is as ``bootstrap`` wants it
    site X, vlan group X, parent prefix X, cluster X
                       the shared objects a site names exist

A check that fails says what to fix. Failures are values: a NetBox that cannot be reached, or
refuses the token, gives one failing line and no more. The token is never part of a line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from orchestrator.adapters.netbox_bootstrap import (
    CUSTOM_FIELDS,
    CustomField,
    Outcome,
    existing,
    plan_field,
)
from orchestrator.adapters.netbox_rest import NetBoxApi
from orchestrator.engine.errors import OrchestratorError, Refused, TransientError

#: The oldest NetBox with v2 tokens and ``/api/authentication-check/``; the lab runs 4.7.
OLDEST: Final = (4, 5)
BOOTSTRAP: Final = "run `orchestrator netbox bootstrap` (with a token that may add custom fields)"


class Access(StrEnum):
    """What the orchestrator does at an endpoint (NetBox's permission actions)."""

    VIEW = "view"
    ADD = "add"
    CHANGE = "change"
    DELETE = "delete"


_SHARED = frozenset({Access.VIEW})
_MADE_ON_USE = frozenset({Access.VIEW, Access.ADD})
_OWNED = frozenset(Access)

#: Every REST endpoint the orchestrator uses and what it does there: shared data it only reads,
#: reference data it makes on first use, and the objects it owns (made, changed, released).
ENDPOINTS: Final = {
    "dcim/sites/": _SHARED,
    "ipam/vlan-groups/": _SHARED,
    "virtualization/clusters/": _SHARED,
    "tenancy/contact-roles/": _MADE_ON_USE,
    "dcim/manufacturers/": _MADE_ON_USE,
    "dcim/device-types/": _MADE_ON_USE,
    "dcim/device-roles/": _MADE_ON_USE,
    "dcim/platforms/": _MADE_ON_USE,
    "extras/journal-entries/": _MADE_ON_USE,
    "tenancy/tenants/": _OWNED,
    "tenancy/contacts/": _OWNED,
    "tenancy/contact-assignments/": _OWNED,
    "ipam/vlans/": _OWNED,
    "ipam/prefixes/": _OWNED,
    "ipam/ip-addresses/": _OWNED,
    "ipam/services/": _OWNED,
    "virtualization/virtual-machines/": _OWNED,
    "virtualization/interfaces/": _OWNED,
    "dcim/devices/": _OWNED,
}
#: The GraphQL lists a delivery's snapshot reads (``NetBoxIpam.prepare``).
GRAPHQL_LISTS: Final = (
    "tenant_list", "contact_list", "contact_assignment_list", "vlan_list", "prefix_list",
    "ip_address_list", "virtual_machine_list", "vm_interface_list", "service_list", "device_list",
    "site_list", "vlan_group_list", "cluster_list", "contact_role_list", "manufacturer_list",
    "device_type_list", "device_role_list", "platform_list",
)  # fmt: skip
#: The method of an ``OPTIONS`` answer's ``actions`` that shows a write permission.
_SHOWN_BY: Final = {Access.ADD: "POST", Access.CHANGE: "PUT"}


@dataclass(frozen=True, slots=True)
class SiteRefs:
    """The shared NetBox objects a site names, for ``netbox_check`` to look up."""

    site: str
    vlan_group: str
    parent_prefix: str
    clusters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckLine:
    """One thing checked: ``ok``, and a one-line ``detail`` that says what to fix if not."""

    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'FAIL':4} {self.name}: {self.detail}"


def netbox_check(
    api: NetBoxApi, expected: SiteRefs, *, fields: Sequence[CustomField] = CUSTOM_FIELDS
) -> list[CheckLine]:
    """Whether the NetBox behind ``api`` has what the orchestrator needs (module docstring)."""
    lines = [_reachable(api)]
    if lines[-1].ok:
        lines.extend(_guarded("netbox token", lambda: [_token(api)]))
    if not lines[-1].ok:
        return lines
    checks: list[tuple[str, Callable[[], list[CheckLine]]]] = [
        ("netbox reads", lambda: [_reads(api)]),
        ("netbox writes", lambda: [_writes(api)]),
        ("netbox graphql", lambda: [_graphql(api)]),
        ("custom fields", lambda: _fields(api, fields)),
        ("site", lambda: [_one(api, "site", "dcim/sites/", slug=expected.site)]),
        ("vlan group", lambda: [_one(api, "vlan group", "ipam/vlan-groups/",
                                     slug=expected.vlan_group)]),
        ("parent prefix", lambda: [_one(api, "parent prefix", "ipam/prefixes/",
                                        prefix=expected.parent_prefix)]),
        ("clusters", lambda: [_one(api, "cluster", "virtualization/clusters/", name=name)
                              for name in expected.clusters]),
    ]  # fmt: skip
    for name, check in checks:
        lines.extend(_guarded(name, check))
    return lines


def _guarded(name: str, check: Callable[[], list[CheckLine]]) -> list[CheckLine]:
    """The check's lines, or one failing line if NetBox failed while it ran."""
    try:
        return check()
    except OrchestratorError as exc:
        return [CheckLine(name, ok=False, detail=f"NetBox failed while checking: {exc}")]


def _reachable(api: NetBoxApi) -> CheckLine:
    try:
        status = api.read("status/")
    except TransientError as exc:
        fix = "check the URL and that NetBox is running and reachable from here"
        return CheckLine("netbox", ok=False, detail=f"cannot reach {api.url} ({exc}): {fix}")
    except Refused as exc:
        return CheckLine("netbox token", ok=False, detail=_refused_token(exc))
    version = str(status.get("netbox-version") or "unknown")
    if _older(version):
        need = ".".join(map(str, OLDEST))
        detail = f"NetBox {version} at {api.url}: the orchestrator needs NetBox {need} or later"
        return CheckLine("netbox", ok=False, detail=detail)
    return CheckLine("netbox", ok=True, detail=f"NetBox {version} at {api.url}")


def _older(version: str) -> bool:
    parts = version.split("-", maxsplit=1)[0].split(".")[:2]
    if len(parts) < 2 or not all(part.isdigit() for part in parts):
        return False  # a build that names itself otherwise: let the other checks speak
    return (int(parts[0]), int(parts[1])) < OLDEST


def _refused_token(exc: Refused) -> str:
    return (
        f"NetBox refused the token ({exc}): check that it is the whole token "
        "(v2: nbt_<key>.<secret>), enabled, not expired, and allowed from this address"
    )


def _token(api: NetBoxApi) -> CheckLine:
    try:
        user = api.read("authentication-check/")
    except Refused as exc:
        return CheckLine("netbox token", ok=False, detail=_refused_token(exc))
    return CheckLine("netbox token", ok=True, detail=f"accepted, user {user.get('username')!r}")


def _reads(api: NetBoxApi) -> CheckLine:
    unreadable = []
    for path in ENDPOINTS:
        try:
            api.sample(path)
        except Refused:
            unreadable.append(path.rstrip("/"))
    if unreadable:
        fix = "give the token's user the view permission on them"
        detail = f"the token cannot read {', '.join(unreadable)}: {fix}"
        return CheckLine("netbox reads", ok=False, detail=detail)
    detail = f"the token reads all {len(ENDPOINTS)} endpoints the orchestrator uses"
    return CheckLine("netbox reads", ok=True, detail=detail)


def _writes(api: NetBoxApi) -> CheckLine:
    wanted = [(path, access) for path, uses in ENDPOINTS.items()
              for access in (Access.ADD, Access.CHANGE) if access in uses]  # fmt: skip
    allowed = {path: api.options(path).get("actions") or {} for path in {p for p, _a in wanted}}
    missing = [f"{access} {path.rstrip('/')}" for path, access in wanted
               if _SHOWN_BY[access] not in allowed[path]]  # fmt: skip
    if len(missing) == len(wanted):
        detail = "the token may write nothing: make it write-enabled (NetBox: the token's Write)"
        return CheckLine("netbox writes", ok=False, detail=detail)
    if missing:
        fix = "give the token's user these permissions (and delete on what it adds)"
        detail = f"the token may not {', '.join(missing)}: {fix}"
        return CheckLine("netbox writes", ok=False, detail=detail)
    detail = "the token may add and change what the orchestrator makes (delete is not checked)"
    return CheckLine("netbox writes", ok=True, detail=detail)


def _graphql(api: NetBoxApi) -> CheckLine:
    query = " ".join(f"{listing}(pagination: {{limit: 1}}) {{ id }}" for listing in GRAPHQL_LISTS)
    try:
        api.graphql("{ " + query + " }")
    except Refused as exc:
        fix = "the orchestrator reads a delivery in one GraphQL query: set GRAPHQL_ENABLED = True"
        return CheckLine("netbox graphql", ok=False, detail=f"{exc}: {fix}")
    return CheckLine("netbox graphql", ok=True, detail="answers")


def _fields(api: NetBoxApi, fields: Sequence[CustomField]) -> list[CheckLine]:
    found = existing(api, fields)
    lines = []
    for wanted in fields:
        action, _body = plan_field(wanted, found.get(wanted.name))
        name = f"custom field {wanted.name}"
        if action.outcome is Outcome.EXISTS:
            lines.append(CheckLine(name, ok=True, detail=action.detail))
        elif action.outcome is Outcome.BLOCKED:
            lines.append(CheckLine(name, ok=False, detail=action.detail))
        else:
            detail = f"{'missing' if action.outcome is Outcome.CREATE else action.detail}: "
            lines.append(CheckLine(name, ok=False, detail=detail + BOOTSTRAP))
    return lines


def _one(api: NetBoxApi, what: str, path: str, **lookup: str) -> CheckLine:
    """The line for the ``what`` found by its one ``lookup`` (``slug="lab"``)."""
    ((field, value),) = lookup.items()
    name = f"{what} {value}"
    try:
        rows = api.get(path, **{field: value, "fields": f"id,{field}"})
    except Refused as exc:
        return CheckLine(name, ok=False, detail=f"NetBox refused to look it up: {exc}")
    if not rows:
        fix = "create it in NetBox, or name an existing one in the site file"
        detail = f"NetBox has no {what} with {field} {value!r}: {fix}"
        return CheckLine(name, ok=False, detail=detail)
    ids = ", ".join(f"#{row['id']}" for row in rows)
    return CheckLine(name, ok=True, detail=f"found ({ids})")
