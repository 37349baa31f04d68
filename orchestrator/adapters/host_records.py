"""The ``HostRecords`` port: what the source of truth holds on a delivery's machines, read by id.

Phase 2 writes what it learnt about each host (platform, pinned SSH host key) onto the host's
NetBox record, and first reads what is there so that a re-run sends nothing. Writes go through the
``Ipam`` port (``Ipam.update``); this port only reads.

Adapters: ``NetBoxHostRecords`` (REST, ``fields=`` so only the named fields travel) and, in
tests, any object with the same method. Errors are translated as in ``orchestrator.adapters.netbox``
(``translated``): ``Refused`` for a 4xx, ``TransientError`` subclasses when NetBox could not answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

import requests
from pynetbox.core.query import Request

from orchestrator.adapters.netbox import PAGE, chunks, timed_session, translated
from orchestrator.engine.ports.ipam import Kind
from orchestrator.store.records import JsonMap

#: The custom field that holds a host's pinned SSH host key (long text), and where it exists (a
#: production NetBox needs it too; the lab seeds it).
HOST_KEY_FIELD: Final = "ssh_host_key"
HOST_KEY_OBJECT_TYPES: Final = ("dcim.device", "virtualization.virtualmachine")

#: The kinds whose records hold what phase 2 learns about a host.
_PATHS: Final[dict[Kind, str]] = {
    Kind.VM: "virtualization/virtual-machines",
    Kind.DEVICE: "dcim/devices",
}


class HostRecords(Protocol):
    """Reads fields of machine records (virtual machines, devices) by id."""

    def fields(self, kind: Kind, ids: Sequence[int], names: Sequence[str]) -> dict[int, JsonMap]:
        """The fields ``names`` of each object of ``ids`` that exists, by id (NetBox's JSON)."""
        ...


class NetBoxHostRecords:
    """``HostRecords`` on NetBox's REST API: one read per ``CHUNK`` ids, a timeout on each."""

    def __init__(self, url: str, token: str, session: requests.Session | None = None) -> None:
        self._api = url.rstrip("/") + "/api/"
        self._token = token
        self._session = session or timed_session()

    def fields(self, kind: Kind, ids: Sequence[int], names: Sequence[str]) -> dict[int, JsonMap]:
        found: dict[int, JsonMap] = {}
        for chunk in chunks(ids):
            request = Request(
                base=self._api + _PATHS[kind],
                http_session=self._session,
                filters={"id": list(chunk), "fields": ",".join(["id", *names])},
                token=self._token,
                pagination="offset",
            )
            with translated():
                rows = list(request.get(add_params={"limit": PAGE}))
            found |= {int(row["id"]): {name: row.get(name) for name in names} for row in rows}
        return found
