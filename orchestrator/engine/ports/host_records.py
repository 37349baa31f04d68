"""The ``HostRecords`` port: what the source of truth holds on a delivery's machines, read by id.

Phase 2 writes what it learnt about each host (platform, pinned SSH host key) onto the host's
NetBox record, and first reads what is there so that a re-run sends nothing. For an existing
(``static``) server it reads the other way: the host key recorded on the server's VM or device is
the key the server must show (never trusted on first use). Writes go through the ``Ipam`` port
(``Ipam.update``); this port only reads.

Adapters: ``NetBoxHostRecords`` (``orchestrator.adapters.host_records``) and
``InMemoryHostRecords`` (``orchestrator.testing``), held to the same contract
(``orchestrator.testing.contracts.host_records``: the fakes in tests/unit, the lab NetBox in
tests/integration). Errors (``orchestrator.engine.errors``): ``Refused`` when NetBox refuses the
read, ``TransientError`` subclasses when NetBox could not answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from orchestrator.engine.ports.ipam import Kind
from orchestrator.store.records import Json, JsonMap

#: The custom field that holds a host's pinned SSH host key (long text), and where it exists (a
#: production NetBox needs it too; the lab seeds it).
HOST_KEY_FIELD: Final = "ssh_host_key"
HOST_KEY_OBJECT_TYPES: Final = ("dcim.device", "virtualization.virtualmachine")

MISSING_FIELD = (
    f"NetBox has no custom field {HOST_KEY_FIELD!r} on virtual machines and devices, where phase 2 "
    "records each host's pinned SSH host key and reads an existing server's: run `orchestrator "
    "netbox bootstrap` to create it (type 'Text (long)', object types "
    "virtualization.virtualmachine and dcim.device)"
)

#: What a ``RecordRef`` is called in messages, per kind.
_NAMES: Final = {Kind.VM: "VM", Kind.DEVICE: "device"}


@dataclass(frozen=True, slots=True)
class RecordRef:
    """A machine's record in the source of truth: a virtual machine or a device, by id."""

    kind: Kind  # Kind.VM or Kind.DEVICE
    id: int

    @property
    def what(self) -> str:
        """``VM`` or ``device``."""
        return _NAMES.get(self.kind, self.kind.value)

    def __str__(self) -> str:
        return f"NetBox {self.what} #{self.id}"


def recorded_key(value: Json) -> str | None:
    """The public key in a recorded ``ssh_host_key`` value, ``ssh-ed25519 AAAA...`` without its
    comment (the first key line); ``None`` when nothing is recorded."""
    for line in str(value or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith("#"):
            return f"{parts[0]} {parts[1]}"
    return None


class HostRecords(Protocol):
    """Reads fields of machine records (virtual machines, devices) by id."""

    def fields(self, kind: Kind, ids: Sequence[int], names: Sequence[str]) -> dict[int, JsonMap]:
        """The fields ``names`` of each object of ``ids`` that exists, by id (NetBox's JSON)."""
        ...
