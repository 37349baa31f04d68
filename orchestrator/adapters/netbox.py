"""``NetBoxIpam``: implements ``orchestrator.engine.ports.ipam.Ipam`` on NetBox's REST API,
through pynetbox's request layer.

Every request has a timeout (pynetbox has none by default), writes go out in chunks of at most
``CHUNK`` objects, reads ask only for the fields they use (``fields=``) and fetch a delivery's
objects of one kind in a single page. ``prepare`` reads a delivery's objects of every kind and the
reference data it needs in one GraphQL query; ``owned``, ``reference`` and ``find`` then answer from
that snapshot, which this adapter's own writes keep current and any failed write drops (its outcome
is unknown, so the next read goes to NetBox again); ``tenant_named``, asked only before a tenant is
made, always reads. Vendor errors are translated here, at the edge:

    requests ConnectTimeout / ConnectionError  -> Unreachable   (transient)
    requests ReadTimeout                       -> TimedOut      (transient; NetBox may commit)
    HTTP 5xx, or a body that is not JSON        -> ServerError   (transient)
    HTTP 429                                   -> Throttled     (transient)
    HTTP 409 on an allocation                  -> Exhausted     (permanent: the pool is full)
    HTTP 400 "orchestrator_key ... unique"     -> KeyTaken      (permanent: look up and adopt)
    any other HTTP 4xx                         -> Refused       (permanent)
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, override

import requests
from pynetbox.core.query import AllocationError, ContentError, Request, RequestError
from requests.adapters import HTTPAdapter

from orchestrator.engine.errors import (
    Exhausted,
    KeyTaken,
    Refused,
    ServerError,
    Throttled,
    TimedOut,
    Unreachable,
)
from orchestrator.engine.ports.ipam import STATUS_KINDS, Kind, New, Note, Owned, Ref
from orchestrator.store.records import Json, JsonMap

#: The custom fields that mark what the orchestrator made (``orchestrator netbox bootstrap``
#: creates them, see ``orchestrator.adapters.netbox_bootstrap``: ``orchestrator_key`` with
#: ``unique: true``, both on every type of ``KEYED_OBJECT_TYPES``). Objects get no tag: tags cost
#: NetBox about a third more time per object in a bulk create, and the fields find them all.
KEY_FIELD = "orchestrator_key"
DELIVERY_FIELD = "orchestrator_delivery"

#: Seconds to wait for an answer; a bulk allocation of 100 objects takes NetBox ~5 s.
DEFAULT_TIMEOUT: Final = 30.0
PAGE: Final = 1000
#: Largest number of objects sent in one request.
CHUNK: Final = 100
#: Names of the contact roles phase 1 makes when NetBox lacks them.
CONTACT_ROLES: Final = {"delivery-manager": "Delivery manager", "lead-engineer": "Lead engineer"}

type Row = dict[str, Any]

#: Endpoint, the field that is an object's value, and its content type (for journal entries).
_KINDS: Final[dict[Kind, tuple[str, str, str]]] = {
    Kind.TENANT: ("tenancy/tenants", "slug", "tenancy.tenant"),
    Kind.CONTACT: ("tenancy/contacts", "email", "tenancy.contact"),
    Kind.VLAN: ("ipam/vlans", "vid", "ipam.vlan"),
    Kind.PREFIX: ("ipam/prefixes", "prefix", "ipam.prefix"),
    Kind.IP: ("ipam/ip-addresses", "address", "ipam.ipaddress"),
    Kind.VM: ("virtualization/virtual-machines", "name", "virtualization.virtualmachine"),
    Kind.VM_INTERFACE: ("virtualization/interfaces", "name", "virtualization.vminterface"),
    Kind.SERVICE: ("ipam/services", "name", "ipam.service"),
    Kind.DEVICE: ("dcim/devices", "name", "dcim.device"),
}
#: The kind of object a journal entry is on, by NetBox's object type.
_KIND_OF_TYPE: Final = {object_type: kind for kind, (_p, _v, object_type) in _KINDS.items()}
JOURNAL_PATH: Final = "extras/journal-entries"
#: The object types this adapter creates keyed objects of: every kind, and journal entries.
KEYED_OBJECT_TYPES: Final = tuple(
    sorted({"extras.journalentry", *(object_type for _p, _v, object_type in _KINDS.values())})
)
#: Links a step needs to see: NetBox field -> name in ``Owned.links``.
_LINKS: Final[dict[Kind, dict[str, str]]] = {
    Kind.IP: {"assigned_object_id": "interface"},
    Kind.VM: {"primary_ip4": "primary_ip"},
    Kind.VM_INTERFACE: {"virtual_machine": "vm"},
}
#: Nested fields read besides the links: the interface an address is on, with its VM or device.
_NESTED: Final[dict[Kind, tuple[str, ...]]] = {Kind.IP: ("assigned_object",)}
#: REST endpoint, the field that names the object, and the GraphQL list.
_REFS: Final[dict[Ref, tuple[str, str, str]]] = {
    Ref.SITE: ("dcim/sites", "slug", "site_list"),
    Ref.VLAN_GROUP: ("ipam/vlan-groups", "slug", "vlan_group_list"),
    Ref.PREFIX: ("ipam/prefixes", "prefix", "prefix_list"),
    Ref.CLUSTER: ("virtualization/clusters", "name", "cluster_list"),
    Ref.TENANT: ("tenancy/tenants", "slug", "tenant_list"),
    Ref.CONTACT_ROLE: ("tenancy/contact-roles", "slug", "contact_role_list"),
    Ref.MANUFACTURER: ("dcim/manufacturers", "slug", "manufacturer_list"),
    Ref.DEVICE_TYPE: ("dcim/device-types", "slug", "device_type_list"),
    Ref.DEVICE_ROLE: ("dcim/device-roles", "slug", "device_role_list"),
    Ref.PLATFORM: ("dcim/platforms", "slug", "platform_list"),
}
_POOLS: Final[dict[Kind, str]] = {
    Kind.VLAN: "ipam/vlan-groups/{}/available-vlans",
    Kind.PREFIX: "ipam/prefixes/{}/available-prefixes",
    Kind.IP: "ipam/prefixes/{}/available-ips",
}


#: GraphQL list per kind and the selection giving the value and the links of ``_LINKS``, under
#: the REST names (so one parser reads both).
_GRAPHQL: Final[dict[Kind, tuple[str, str]]] = {
    Kind.TENANT: ("tenant_list", "slug"),
    Kind.CONTACT: ("contact_list", "email"),
    Kind.VLAN: ("vlan_list", "vid status"),
    Kind.PREFIX: ("prefix_list", "prefix status"),
    Kind.IP: (
        "ip_address_list",
        (
            "address status assigned_object_id: assigned_object "
            "{ ... on VMInterfaceType { id } ... on InterfaceType { id } } "
            "assigned_object { ... on VMInterfaceType { virtual_machine { id } } "
            "... on InterfaceType { device { id } } }"
        ),
    ),
    Kind.VM: ("virtual_machine_list", "name status primary_ip4 { id }"),
    Kind.VM_INTERFACE: ("vm_interface_list", "name virtual_machine { id }"),
    Kind.SERVICE: ("service_list", "name"),
    Kind.DEVICE: ("device_list", "name status"),
}
#: The kind whose object a reference is, where ``find`` may answer from the snapshot.
_REF_KINDS: Final[dict[Ref, Kind]] = {Ref.TENANT: Kind.TENANT}


class TimeoutAdapter(HTTPAdapter):
    """A transport adapter that gives every request a timeout unless the caller set one."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    @override
    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self._timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def timed_session(timeout: float = DEFAULT_TIMEOUT) -> requests.Session:
    """A session whose every request times out, ignoring proxy settings from the environment."""
    session = requests.Session()
    session.trust_env = False
    adapter = TimeoutAdapter(timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@contextmanager
def translated() -> Iterator[None]:
    """Turn pynetbox's and requests' errors into the orchestrator's (see the module docstring)."""
    try:
        yield
    except AllocationError as exc:
        raise Exhausted(f"NetBox has no room: {exc.error}") from exc
    except RequestError as exc:
        raise _http_error(exc) from exc
    except ContentError as exc:
        raise ServerError(f"NetBox answered something that is not JSON: {exc}") from exc
    except requests.ConnectTimeout as exc:
        raise Unreachable(f"NetBox did not accept the connection in time: {exc}") from exc
    except requests.Timeout as exc:
        raise TimedOut(f"NetBox did not answer in time (it may still commit): {exc}") from exc
    except requests.ConnectionError as exc:
        raise Unreachable(f"NetBox connection failed: {exc}") from exc


def _http_error(exc: RequestError) -> Exception:
    status = exc.req.status_code
    text = f"NetBox said {status}: {str(exc.error)[:500]}"
    if status == 429:
        return Throttled(text)
    if status >= 500:
        return ServerError(text)
    if status == 400 and KEY_FIELD in str(exc.error) and "unique" in str(exc.error):
        return KeyTaken(text)
    return Refused(text)


def chunks[T](items: Sequence[T], size: int = CHUNK) -> list[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def contact_role(slug: str) -> JsonMap:
    """The fields of a contact role to create for ``slug``."""
    return {"name": CONTACT_ROLES.get(slug, slug.replace("-", " ").capitalize())}


def _value(row: Row, field: str) -> str:
    return str(row.get(field, ""))


def _link(value: object) -> int | None:
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, str) and value.isdigit():  # GraphQL's IDs are strings
        return int(value)
    return value if isinstance(value, int) else None


def _owned(kind: Kind, row: Row) -> Owned:
    fields = row.get("custom_fields") or {}
    links = {name: _link(row.get(field)) for field, name in _LINKS.get(kind, {}).items()}
    if kind is Kind.IP:
        links |= _holder(row)
    value = _value(row, _KINDS[kind][1])
    key = str(fields.get(KEY_FIELD) or "")
    return Owned(kind, key, int(row["id"]), value, links, _status(kind, row.get("status")))


def _status(kind: Kind, value: object) -> str:
    """NetBox's status value: REST gives ``{"value": "active", ...}``, GraphQL an enum name
    (``ACTIVE``); NetBox's default when a row lacks it."""
    if kind not in STATUS_KINDS:
        return ""
    if isinstance(value, dict):
        value = value.get("value")
    return str(value).lower() if value else "active"


def _holder(row: Row) -> dict[str, int | None]:
    """The VM or device whose interface holds an address (REST and GraphQL rows alike)."""
    held = row.get("assigned_object")
    nested: Row = held if isinstance(held, dict) else {}
    return {"vm": _link(nested.get("virtual_machine")), "device": _link(nested.get("device"))}


def _rest_fields(kind: Kind) -> str:
    """``fields=`` of a read of ``kind``: id, value, custom fields, links."""
    names = [*_LINKS.get(kind, {}), *_NESTED.get(kind, ())]
    status = ["status"] if kind in STATUS_KINDS else []
    return ",".join(["id", _KINDS[kind][1], "custom_fields", *status, *names])


def _keyed(item: New, delivery: str) -> dict[str, Json]:
    marks: dict[str, Json] = {KEY_FIELD: item.key, DELIVERY_FIELD: delivery}
    return {**item.fields, "custom_fields": marks}


def candidates(free: Sequence[str], length: int, count: int) -> list[str]:
    """The first ``count`` prefixes of ``length`` inside the free ranges NetBox reports."""
    found: list[str] = []
    for block in (ipaddress.ip_network(text) for text in free):
        if block.prefixlen <= length:
            found.extend(str(net) for net in _take(block.subnets(new_prefix=length), count))
        if len(found) >= count:
            break
    return found[:count]


def _take[T](items: Iterator[T], count: int) -> list[T]:
    taken: list[T] = []
    for item in items:
        if len(taken) >= count:
            break
        taken.append(item)
    return taken


def _cf_filter(delivery: str) -> str:
    lookup = f"{{string_lookup: {{exact: {json.dumps(delivery)}}}}}"
    return f'{{custom_field_data: {{path: "{DELIVERY_FIELD}", lookup: {lookup}}}}}'


def _snapshot_query(delivery: str | None, refs: Sequence[tuple[Ref, str]]) -> str:
    """One GraphQL query: the delivery's objects of every kind (if ``delivery``) and ``refs``.

    NetBox allows few aliases (10 by default): each kind is read under its list's own name, and the
    references under one alias per reference type (``r_site``), whatever their number.
    """
    parts = []
    if delivery is not None:
        where = _cf_filter(delivery)
        for listing, selection in _GRAPHQL.values():
            parts.append(
                f"{listing}(filters: {where}, pagination: {{limit: {PAGE}}}) "
                f"{{ id custom_fields {selection} }}"
            )
        parts.append(
            f"contact_assignment_list(filters: {{contact: {where}}}, "
            f"pagination: {{limit: {PAGE}}}) {{ contact {{ id }} object_id "
            "object_type { app_label model } }"
        )
    by_type: dict[Ref, list[str]] = {}
    for ref, value in refs:
        by_type.setdefault(ref, []).append(value)
    for ref, values in by_type.items():
        field = _REFS[ref][1]
        extra = f" custom_fields {_GRAPHQL[kind][1]}" if (kind := _REF_KINDS.get(ref)) else ""
        parts.append(
            f"r_{ref.value}: {_REFS[ref][2]}(filters: {{{field}: {{in_list: "
            f"{json.dumps(values)}}}}}) {{ id {field}{extra} }}"
        )
    return "{ " + " ".join(parts) + " }"


@dataclass(slots=True)
class _Snapshot:
    """A delivery's objects per kind, and its contacts' assignments (contact, object type, id)."""

    objects: dict[Kind, dict[str, Owned]]
    assignments: set[tuple[int, str, int]]


class NetBoxIpam:
    """The ``Ipam`` port on a NetBox instance."""

    def __init__(self, url: str, token: str, session: requests.Session | None = None) -> None:
        self._api = url.rstrip("/") + "/api/"
        self._graphql_url = url.rstrip("/") + "/graphql/"
        self._token = token
        self._session = session or timed_session()
        self._refs: dict[tuple[Ref, str], int | None] = {}
        self._found: dict[tuple[Kind, str], Owned | None] = {}
        self._snapshots: dict[str, _Snapshot] = {}

    def _request(self, path: str, filters: JsonMap | None = None) -> Request:
        return Request(
            base=self._api + path,
            http_session=self._session,
            filters=dict(filters) if filters else None,
            token=self._token,
            pagination="offset",
        )

    def _get(self, path: str, **params: Json) -> list[Row]:
        with translated():
            return list(self._request(path, params).get(add_params={"limit": PAGE}))

    def _write(self, verb: str, path: str, body: Json) -> Any:  # noqa: ANN401 - NetBox's JSON
        request = self._request(path)
        try:
            with translated():
                if verb == "post":
                    return request.post(body)
                if verb == "patch":
                    return request.patch(body)
                return request.delete(body)
        except Exception:
            self._forget()  # the outcome is unknown: read NetBox again before trusting the cache
            raise

    def _forget(self) -> None:
        self._snapshots.clear()
        self._found.clear()
        self._refs = {ref: ident for ref, ident in self._refs.items() if ident is not None}

    def _query(self, query: str) -> dict[str, list[Row]]:
        request = Request(base=self._graphql_url, http_session=self._session, token=self._token)
        with translated():
            answer = request.post({"query": query})
        if not isinstance(answer, dict) or answer.get("errors") or "data" not in answer:
            errors = answer.get("errors") if isinstance(answer, dict) else answer
            raise Refused(f"NetBox refused the GraphQL query: {str(errors)[:500]}")
        data: dict[str, list[Row]] = answer["data"]
        return data

    def prepare(self, delivery: str, refs: Sequence[tuple[Ref, str]] = ()) -> None:
        missing = [ref for ref in dict.fromkeys(refs) if ref not in self._refs]
        load = delivery not in self._snapshots
        if not load and not missing:
            return
        data = self._query(_snapshot_query(delivery if load else None, missing))
        if load:
            self._snapshots[delivery] = self._snapshot(delivery, data)
        for ref, value in missing:
            field = _REFS[ref][1]
            rows = [row for row in data[f"r_{ref.value}"] if str(row[field]) == value]
            self._refs[ref, value] = int(rows[0]["id"]) if rows else None
            if (kind := _REF_KINDS.get(ref)) is not None:
                self._found[kind, value] = _owned(kind, rows[0]) if rows else None

    def _snapshot(self, delivery: str, data: dict[str, list[Row]]) -> _Snapshot:
        objects: dict[Kind, dict[str, Owned]] = {}
        for kind, (listing, _selection) in _GRAPHQL.items():
            rows = data[listing]
            if len(rows) >= PAGE:  # more than one page: read this kind page by page
                objects[kind] = self._owned_rest(kind, delivery)
                continue
            found = (_owned(kind, row) for row in rows)
            objects[kind] = {
                item.key: item for item in found if item.key.startswith(f"{delivery}/")
            }
        assignments = {
            (contact, f"{row['object_type']['app_label']}.{row['object_type']['model']}",
             int(row["object_id"]))
            for row in data["contact_assignment_list"]
            if (contact := _link(row.get("contact"))) is not None
        }  # fmt: skip
        return _Snapshot(objects, assignments)

    def _remember(self, kind: Kind, rows: Sequence[Row]) -> None:
        """Keep the snapshots current after a write that NetBox answered with ``rows``."""
        for row in rows:
            item = _owned(kind, row)
            delivery = str((row.get("custom_fields") or {}).get(DELIVERY_FIELD) or "")
            snapshot = self._snapshots.get(delivery)
            if snapshot is not None and item.key.startswith(f"{delivery}/"):
                snapshot.objects[kind][item.key] = item
            if kind is Kind.TENANT:
                self._refs[Ref.TENANT, item.value] = item.id
                self._found[kind, item.value] = item

    def reference(self, ref: Ref, value: str, *, create: JsonMap | None = None) -> int:
        path, field, _listing = _REFS[ref]
        if (ref, value) in self._refs:
            rows: list[Row] = []
            cached = self._refs[ref, value]
            if cached is not None:
                return cached
        else:
            rows = self._get(path, **{field: value, "fields": "id"})
        if not rows and create is None:
            raise Refused(f"NetBox has no {ref.replace('_', ' ')} {value!r}")
        if not rows:
            rows = [self._write("post", path, {field: value, **(create or {})})]
        self._refs[ref, value] = int(rows[0]["id"])
        return int(rows[0]["id"])

    def owned(self, kind: Kind, delivery: str) -> dict[str, Owned]:
        if delivery not in self._snapshots:
            self.prepare(delivery)
        return dict(self._snapshots[delivery].objects[kind])

    def _owned_rest(self, kind: Kind, delivery: str) -> dict[str, Owned]:
        path = _KINDS[kind][0]
        rows = self._get(path, **{f"cf_{DELIVERY_FIELD}": delivery, "fields": _rest_fields(kind)})
        found = (_owned(kind, row) for row in rows)
        return {item.key: item for item in found if item.key.startswith(f"{delivery}/")}

    def find(self, kind: Kind, value: str) -> Owned | None:
        if (kind, value) in self._found:
            return self._found[kind, value]
        path, field, _type = _KINDS[kind]
        rows = self._get(path, **{field: value, "fields": _rest_fields(kind)})
        return _owned(kind, rows[0]) if rows else None

    def tenant_named(self, name: str) -> Owned | None:
        path, field, _type = _KINDS[Kind.TENANT]
        rows = self._get(path, name=name, fields=f"id,{field},custom_fields,group")
        ungrouped = (row for row in rows if row.get("group") is None)
        return next((_owned(Kind.TENANT, row) for row in ungrouped), None)

    def free(self, kind: Kind, pool: int, count: int, length: int | None = None) -> list[str]:
        if kind is Kind.PREFIX:
            rows = self._get(_POOLS[kind].format(pool))
            return candidates([str(row["prefix"]) for row in rows], length or 32, count)
        field = "vid" if kind is Kind.VLAN else "address"
        with translated():
            rows = list(self._request(_POOLS[kind].format(pool)).get(add_params={"limit": count}))
        return [str(row[field]) for row in rows[:count]]

    def allocate(self, kind: Kind, pool: int, delivery: str, items: Sequence[New]) -> list[Owned]:
        return self._post(kind, _POOLS[kind].format(pool), delivery, items)

    def create(self, kind: Kind, delivery: str, items: Sequence[New]) -> list[Owned]:
        return self._post(kind, _KINDS[kind][0], delivery, items)

    def _post(self, kind: Kind, path: str, delivery: str, items: Sequence[New]) -> list[Owned]:
        made: list[Owned] = []
        for chunk in chunks(items):
            body = [_keyed(item, delivery) for item in chunk]
            rows = self._write("post", path, body)
            self._remember(kind, rows)
            made.extend(_owned(kind, row) for row in rows)
        return made

    def update(self, kind: Kind, changes: Sequence[tuple[int, JsonMap]]) -> None:
        for chunk in chunks(changes):
            body = [{"id": ident, **fields} for ident, fields in chunk]
            self._remember(kind, self._write("patch", _KINDS[kind][0], body))

    def delete(self, kind: Kind, ids: Sequence[int]) -> None:
        if kind is Kind.CONTACT and ids:
            rows = self._get("tenancy/contact-assignments", contact_id=list(ids), fields="id")
            self._delete("tenancy/contact-assignments", [int(row["id"]) for row in rows])
        self._delete(_KINDS[kind][0], ids)

    def _delete(self, path: str, ids: Sequence[int]) -> None:
        self._forget()  # NetBox cascades: what else went is not in the answer
        for chunk in chunks(ids):
            body = [{"id": ident} for ident in chunk]
            self._write("delete", path, body)

    def assign_contacts(self, tenant: int, pairs: Sequence[tuple[int, str]]) -> int:
        path, target = "tenancy/contact-assignments", "tenancy.tenant"
        have = self._assigned(tenant, [contact for contact, _role in pairs])
        body: list[Json] = [
            {"object_type": target, "object_id": tenant, "contact": contact,
             "role": self.reference(Ref.CONTACT_ROLE, role, create=contact_role(role))}
            for contact, role in pairs
            if contact not in have
        ]  # fmt: skip
        for chunk in chunks(body):
            self._write("post", path, list(chunk))
        for snapshot in self._snapshots.values():
            snapshot.assignments |= {(contact, target, tenant) for contact, _role in pairs}
        return len(body)

    def _assigned(self, tenant: int, contacts: Sequence[int]) -> set[int | None]:
        """Which of ``contacts`` are assigned to the tenant already (from a snapshot if one has
        them all)."""
        for snapshot in self._snapshots.values():
            ours = {item.id for item in snapshot.objects[Kind.CONTACT].values()}
            if set(contacts) <= ours:
                pairs = snapshot.assignments
                return {
                    c for c, kind, ident in pairs if (kind, ident) == ("tenancy.tenant", tenant)
                }
        path = "tenancy/contact-assignments"
        rows = self._get(path, object_type="tenancy.tenant", object_id=tenant, fields="id,contact")
        return {_link(row.get("contact")) for row in rows}

    def note(self, entries: Sequence[Note]) -> None:
        path = JOURNAL_PATH
        for chunk in chunks(entries):
            try:
                self._write("post", path, [_journal_body(entry) for entry in chunk])
            except KeyTaken:  # an earlier attempt committed some: write only the others
                written = self._journal_keys({entry.key.split("/")[0] for entry in chunk})
                rest = [_journal_body(entry) for entry in chunk if entry.key not in written]
                if rest:
                    self._write("post", path, rest)

    def _journal_keys(self, deliveries: set[str]) -> set[str]:
        rows = self._get(
            JOURNAL_PATH, **{f"cf_{DELIVERY_FIELD}": sorted(deliveries)}, fields="custom_fields"
        )
        return {str((row.get("custom_fields") or {}).get(KEY_FIELD) or "") for row in rows}

    def notes(self, delivery: str) -> dict[str, Note]:
        fields = "id,assigned_object_type,assigned_object_id,comments,custom_fields"
        rows = self._get(JOURNAL_PATH, **{f"cf_{DELIVERY_FIELD}": delivery, "fields": fields})
        found = (_note(row) for row in rows)
        return {note.key: note for note in found if note and note.key.startswith(f"{delivery}/")}


def _note(row: Row) -> Note | None:
    """A journal entry as a ``Note``; ``None`` when it is on a kind of object we do not own."""
    kind = _KIND_OF_TYPE.get(str(row.get("assigned_object_type") or ""))
    if kind is None:
        return None
    key = str((row.get("custom_fields") or {}).get(KEY_FIELD) or "")
    return Note(kind, int(row["assigned_object_id"]), str(row.get("comments") or ""), key)


def _journal_body(entry: Note) -> Json:
    body: dict[str, Json] = {
        "assigned_object_type": _KINDS[entry.kind][2],
        "assigned_object_id": entry.id,
        "kind": "info",
        "comments": entry.text,
    }
    if entry.key:
        marks: dict[str, Json] = {KEY_FIELD: entry.key, DELIVERY_FIELD: entry.key.split("/")[0]}
        body["custom_fields"] = marks
    return body
