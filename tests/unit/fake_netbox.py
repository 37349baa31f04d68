"""A NetBox in memory behind a ``requests`` transport: ``NetBoxApi`` runs unchanged against it.

It answers what ``netbox_bootstrap``, ``netbox_check`` and the lab's seeding ask — status,
authentication check, custom fields (list by name, create, change, delete), ``OPTIONS`` with the
writes the token may make, other objects (list filtered by slug, name or prefix, create, change)
and GraphQL — and refuses as NetBox 4.7 does: 403 for a wrong token or a missing permission, 400
for a name taken or a change of a field's type.
Every request is recorded in ``requests`` as ``(method, path)``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any, Final, override
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import HTTPAdapter

from orchestrator.adapters.netbox_rest import NetBoxApi

URL: Final = "http://netbox.test"
TOKEN: Final = "nbt_" + "k" * 12 + "." + "s" * 40
FIELDS_PATH: Final = "/api/extras/custom-fields/"
#: Custom field settings NetBox writes back as ``{"value": ..., "label": ...}``.
CHOICES: Final = ("type", "filter_logic", "ui_visible", "ui_editable", "status")
DEFAULTS: Final[Mapping[str, Any]] = {
    "label": "", "description": "", "required": False, "unique": False, "default": None,
    "is_cloneable": False, "validation_regex": "", "filter_logic": "loose",
    "ui_visible": "always", "ui_editable": "yes", "status": "active",
}  # fmt: skip
_NOT_FILTERS: Final = {"limit", "offset", "fields", "brief"}

type Answer = tuple[int, Any]


def _choice(value: Any) -> Any:
    return {"value": value, "label": str(value).capitalize()} if isinstance(value, str) else value


def _plain(value: Any) -> Any:
    return value.get("value") if isinstance(value, dict) else value


class FakeNetBox(HTTPAdapter):
    """A NetBox in memory; change its attributes to make it refuse, fail or lack things.

    ``down`` refuses every connection, ``broken`` those to the paths it holds (``/api/status/``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.version = "4.7.3"
        self.token = TOKEN
        self.fields: dict[int, dict[str, Any]] = {}
        self.objects: dict[str, list[dict[str, Any]]] = {}
        self.unreadable: set[str] = set()
        self.no_writes: set[str] = set()
        self.write_enabled = True
        self.graphql_enabled = True
        self.down = False
        self.broken: set[str] = set()
        self.requests: list[tuple[str, str]] = []

    def api(self, token: str = TOKEN) -> NetBoxApi:
        """A ``NetBoxApi`` whose requests this fake answers."""
        session = requests.Session()
        session.trust_env = False
        session.mount("http://", self)
        return NetBoxApi(URL, token, session)

    def add_field(self, **settings: Any) -> dict[str, Any]:
        """A custom field (``name=``, settings) as NetBox holds it, made without a request."""
        ident = max(self.fields, default=0) + 1
        values = {**DEFAULTS, **settings}
        row: dict[str, Any] = {"id": ident}
        row |= {key: _choice(value) if key in CHOICES else value for key, value in values.items()}
        self.fields[ident] = row
        return row

    def add(self, path: str, **row: Any) -> None:
        """An object at ``/api/<path>`` (``dcim/sites/``), for list reads."""
        rows = self.objects.setdefault(path, [])
        rows.append({"id": len(rows) + 1, **row})

    def writes(self) -> list[tuple[str, str]]:
        """The requests that would change something."""
        reads = {"GET", "OPTIONS"}
        return [(method, path) for method, path in self.requests if method not in reads]

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
        parts = urlsplit(request.url or "")
        if self.down or parts.path in self.broken:
            raise requests.ConnectionError("[Errno 111] Connection refused")
        method = request.method or "GET"
        self.requests.append((method, parts.path))
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _response(request, (403, {"detail": "Invalid v2 token"}))
        body = json.loads(request.body) if request.body else None
        return _response(request, self._route(method, parts.path, parse_qs(parts.query), body))

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        fixed: dict[tuple[str, str], Answer] = {
            ("GET", "/api/status/"): (200, {"netbox-version": self.version}),
            ("GET", "/api/authentication-check/"): (200, {"id": 1, "username": "orchestrator"}),
            ("POST", "/graphql/"): (200, {"data": {}}) if self.graphql_enabled else (404, {}),
        }
        if (method, path) in fixed:
            return fixed[method, path]
        if method == "OPTIONS":
            return 200, {"name": path, "actions": self._actions(path)}
        if path.startswith(FIELDS_PATH):
            return self._fields(method, path.removeprefix(FIELDS_PATH).strip("/"), query, body)
        if method == "GET":
            return self._list(path, query)
        return self._write(method, path.removeprefix("/api/"), body)

    def _write(self, method: str, path: str, body: dict[str, Any]) -> Answer:
        """``POST`` to a list (``dcim/sites/``) or ``PATCH`` one object (``dcim/sites/1/``)."""
        endpoint, _slash, ident = path.rstrip("/").rpartition("/")
        endpoint = f"{endpoint}/" if ident.isdigit() else path
        if not self.write_enabled or endpoint in self.no_writes:
            return 403, {"detail": "You do not have permission to perform this action."}
        if method == "POST" and endpoint == path:
            self.add(path, **body)
            return 201, self.objects[path][-1]
        found = [row for row in self.objects.get(endpoint, []) if str(row["id"]) == ident]
        if method == "PATCH" and found:
            found[0].update(body)
            return 200, found[0]
        return 405, {"detail": f"{method} {path} not faked"}

    def _actions(self, path: str) -> dict[str, Any]:
        if not self.write_enabled or path.removeprefix("/api/") in self.no_writes:
            return {}
        return {"POST": {}, "PUT": {}}

    def _list(self, path: str, query: dict[str, list[str]]) -> Answer:
        endpoint = path.removeprefix("/api/")
        if endpoint in self.unreadable:
            return 403, {"detail": "You do not have permission to perform this action."}
        filters = {k: v for k, v in query.items() if k not in _NOT_FILTERS}
        rows = [row for row in self.objects.get(endpoint, [])
                if all(str(_plain(row.get(k))) in v for k, v in filters.items())]  # fmt: skip
        return 200, {"count": len(rows), "next": None, "previous": None, "results": rows}

    def _fields(self, method: str, ident: str, query: dict[str, list[str]], body: Any) -> Answer:
        if method == "GET":
            rows = [row for row in self.fields.values() if row["name"] in query.get("name", [])]
            return 200, {"count": len(rows), "next": None, "previous": None, "results": rows}
        if not self.write_enabled:
            return 403, {"detail": "You do not have permission to perform this action."}
        if method == "POST":
            return self._create_field(body)
        if method == "PATCH" and int(ident) in self.fields:
            return self._change_field(self.fields[int(ident)], body)
        if method == "DELETE" and int(ident) in self.fields:
            return 204, self.fields.pop(int(ident))
        return 404, {"detail": "No CustomField matches the given query."}

    def _create_field(self, body: dict[str, Any]) -> Answer:
        if any(row["name"] == body["name"] for row in self.fields.values()):
            return 400, {"name": ["custom field with this name already exists."]}
        return 201, self.add_field(**body)

    def _change_field(self, row: dict[str, Any], body: dict[str, Any]) -> Answer:
        if "type" in body and body["type"] != _plain(row["type"]):
            return 400, {"type": ["Changing the type of custom fields is not supported."]}
        row |= {k: _choice(v) if k in CHOICES else v for k, v in body.items()}
        return 200, row


def _response(request: requests.PreparedRequest, answer: Answer) -> requests.Response:
    status, body = answer
    response = requests.Response()
    response.status_code = status
    response.reason = "fake"
    response.headers["Content-Type"] = "application/json"
    response.raw = io.BytesIO(b"" if status == 204 else json.dumps(body).encode())
    response.request = request
    response.url = request.url or ""
    return response
