"""The ``HostRecords`` port: what the source of truth holds on a delivery's machines, read by id.

Phase 2 writes what it learnt about each host (platform, pinned SSH host key) onto the host's
NetBox record, and first reads what is there so that a re-run sends nothing. Writes go through the
``Ipam`` port (``Ipam.update``); this port only reads.

Adapters: ``NetBoxHostRecords`` (``orchestrator.adapters.host_records``) and, in tests, any object
with the same method. Errors (``orchestrator.engine.errors``): ``Refused`` when NetBox refuses the
read, ``TransientError`` subclasses when NetBox could not answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

from orchestrator.engine.ports.ipam import Kind
from orchestrator.store.records import JsonMap

#: The custom field that holds a host's pinned SSH host key (long text), and where it exists (a
#: production NetBox needs it too; the lab seeds it).
HOST_KEY_FIELD: Final = "ssh_host_key"
HOST_KEY_OBJECT_TYPES: Final = ("dcim.device", "virtualization.virtualmachine")


class HostRecords(Protocol):
    """Reads fields of machine records (virtual machines, devices) by id."""

    def fields(self, kind: Kind, ids: Sequence[int], names: Sequence[str]) -> dict[int, JsonMap]:
        """The fields ``names`` of each object of ``ids`` that exists, by id (NetBox's JSON)."""
        ...
