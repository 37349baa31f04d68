"""``NetBoxIpam``: the ``Ipam`` port on NetBox's REST API, through pynetbox's request layer.

Every request has a timeout (pynetbox has none by default), writes go out in chunks of at most
``CHUNK`` objects, reads ask only for the fields they use (``fields=``) and fetch a delivery's
objects of one kind in a single page. Vendor errors are translated here, at the edge:

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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final, override

import requests
from pynetbox.core.query import AllocationError, ContentError, Request, RequestError
from requests.adapters import HTTPAdapter

from orchestrator.adapters.ipam import KeyTaken, Kind, New, Note, Owned, Ref, chunks, contact_role
from orchestrator.engine.errors import (
    Exhausted,
    Refused,
    ServerError,
    Throttled,
    TimedOut,
    Unreachable,
)
from orchestrator.store.records import Json, JsonMap

#: The tag and custom fields that mark what the orchestrator made (the lab seeds them; a production
#: NetBox needs them too: ``orchestrator_key`` must be created with ``unique: true``).
TAG = "orchestrator"
KEY_FIELD = "orchestrator_key"
DELIVERY_FIELD = "orchestrator_delivery"

#: Seconds to wait for an answer; a bulk allocation of 100 objects takes NetBox ~5 s.
DEFAULT_TIMEOUT: Final = 30.0
PAGE: Final = 1000

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
#: Links a step needs to see: NetBox field -> name in ``Owned.links``.
_LINKS: Final[dict[Kind, dict[str, str]]] = {
    Kind.IP: {"assigned_object_id": "interface"},
    Kind.VM: {"primary_ip4": "primary_ip"},
    Kind.VM_INTERFACE: {"virtual_machine": "vm"},
}
_REFS: Final[dict[Ref, tuple[str, str]]] = {
    Ref.SITE: ("dcim/sites", "slug"),
    Ref.VLAN_GROUP: ("ipam/vlan-groups", "slug"),
    Ref.PREFIX: ("ipam/prefixes", "prefix"),
    Ref.CLUSTER: ("virtualization/clusters", "name"),
    Ref.TENANT: ("tenancy/tenants", "slug"),
    Ref.CONTACT_ROLE: ("tenancy/contact-roles", "slug"),
    Ref.MANUFACTURER: ("dcim/manufacturers", "slug"),
    Ref.DEVICE_TYPE: ("dcim/device-types", "slug"),
    Ref.DEVICE_ROLE: ("dcim/device-roles", "slug"),
}
_POOLS: Final[dict[Kind, str]] = {
    Kind.VLAN: "ipam/vlan-groups/{}/available-vlans",
    Kind.PREFIX: "ipam/prefixes/{}/available-prefixes",
    Kind.IP: "ipam/prefixes/{}/available-ips",
}


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


def _value(row: Row, field: str) -> str:
    return str(row.get(field, ""))


def _link(value: object) -> int | None:
    if isinstance(value, dict):
        found = value.get("id")
        return found if isinstance(found, int) else None
    return value if isinstance(value, int) else None


def _owned(kind: Kind, row: Row) -> Owned:
    fields = row.get("custom_fields") or {}
    links = {name: _link(row.get(field)) for field, name in _LINKS.get(kind, {}).items()}
    value = _value(row, _KINDS[kind][1])
    return Owned(kind, str(fields.get(KEY_FIELD) or ""), int(row["id"]), value, links)


def _keyed(item: New, delivery: str) -> dict[str, Json]:
    marks: dict[str, Json] = {KEY_FIELD: item.key, DELIVERY_FIELD: delivery}
    return {**item.fields, "custom_fields": marks, "tags": [{"slug": TAG}]}


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


class NetBoxIpam:
    """The ``Ipam`` port on a NetBox instance."""

    def __init__(self, url: str, token: str, session: requests.Session | None = None) -> None:
        self._api = url.rstrip("/") + "/api/"
        self._token = token
        self._session = session or timed_session()
        self._refs: dict[tuple[Ref, str], int] = {}

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
        with translated():
            if verb == "post":
                return request.post(body)
            if verb == "patch":
                return request.patch(body)
            return request.delete(body)

    def reference(self, ref: Ref, value: str, *, create: JsonMap | None = None) -> int:
        cached = self._refs.get((ref, value))
        if cached is not None:
            return cached
        path, field = _REFS[ref]
        rows = self._get(path, **{field: value, "fields": "id"})
        if not rows and create is None:
            raise Refused(f"NetBox has no {ref.replace('_', ' ')} {value!r}")
        if not rows:
            rows = [self._write("post", path, {field: value, **(create or {})})]
        self._refs[ref, value] = int(rows[0]["id"])
        return self._refs[ref, value]

    def owned(self, kind: Kind, delivery: str) -> dict[str, Owned]:
        path, field, _type = _KINDS[kind]
        fields = ",".join(["id", field, "custom_fields", *_LINKS.get(kind, {})])
        rows = self._get(path, **{f"cf_{DELIVERY_FIELD}": delivery, "fields": fields})
        found = (_owned(kind, row) for row in rows)
        return {item.key: item for item in found if item.key.startswith(f"{delivery}/")}

    def find(self, kind: Kind, value: str) -> Owned | None:
        path, field, _type = _KINDS[kind]
        fields = ",".join(["id", field, "custom_fields", *_LINKS.get(kind, {})])
        rows = self._get(path, **{field: value, "fields": fields})
        return _owned(kind, rows[0]) if rows else None

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
            made.extend(_owned(kind, row) for row in rows)
        return made

    def update(self, kind: Kind, changes: Sequence[tuple[int, JsonMap]]) -> None:
        for chunk in chunks(changes):
            body = [{"id": ident, **fields} for ident, fields in chunk]
            self._write("patch", _KINDS[kind][0], body)

    def delete(self, kind: Kind, ids: Sequence[int]) -> None:
        if kind is Kind.CONTACT and ids:
            rows = self._get("tenancy/contact-assignments", contact_id=list(ids), fields="id")
            self._delete("tenancy/contact-assignments", [int(row["id"]) for row in rows])
        self._delete(_KINDS[kind][0], ids)

    def _delete(self, path: str, ids: Sequence[int]) -> None:
        for chunk in chunks(ids):
            body = [{"id": ident} for ident in chunk]
            self._write("delete", path, body)

    def assign_contacts(self, tenant: int, pairs: Sequence[tuple[int, str]]) -> int:
        path = "tenancy/contact-assignments"
        rows = self._get(path, object_type="tenancy.tenant", object_id=tenant, fields="id,contact")
        have = {_link(row.get("contact")) for row in rows}
        body: list[Json] = [
            {"object_type": "tenancy.tenant", "object_id": tenant, "contact": contact,
             "role": self.reference(Ref.CONTACT_ROLE, role, create=contact_role(role))}
            for contact, role in pairs
            if contact not in have
        ]  # fmt: skip
        for chunk in chunks(body):
            self._write("post", path, list(chunk))
        return len(body)

    def note(self, entries: Sequence[Note]) -> None:
        body: list[Json] = [
            {
                "assigned_object_type": _KINDS[entry.kind][2],
                "assigned_object_id": entry.id,
                "kind": "info",
                "comments": entry.text,
            }
            for entry in entries
        ]
        for chunk in chunks(body):
            self._write("post", "extras/journal-entries", list(chunk))
