"""``NetBoxHostRecords``: implements ``orchestrator.engine.ports.host_records.HostRecords`` on
NetBox's REST API (``fields=``, so only the named fields travel).

Errors are translated as in ``orchestrator.adapters.netbox`` (``translated``): ``Refused`` for a
4xx, ``TransientError`` subclasses when NetBox could not answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import requests
from pynetbox.core.query import Request

from orchestrator.adapters.netbox import PAGE, chunks, timed_session, translated
from orchestrator.engine.ports.ipam import Kind
from orchestrator.store.records import JsonMap

#: The kinds whose records hold what phase 2 learns about a host.
_PATHS: Final[dict[Kind, str]] = {
    Kind.VM: "virtualization/virtual-machines",
    Kind.DEVICE: "dcim/devices",
}


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
