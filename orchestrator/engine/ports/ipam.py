"""The ``Ipam`` port: keyed, bulk reservations in the source of truth (NetBox).

Every object the orchestrator creates carries two custom fields, set in the creating request:
``orchestrator_key`` (unique in NetBox: ``acme-webshop/ip/web-01``) and ``orchestrator_delivery``
(``acme-webshop``). ``owned(kind, delivery)`` finds them again in one read, so a step adopts what
an earlier, interrupted attempt created instead of allocating again; ``release`` removes them.

Adapters: ``NetBoxIpam`` (``orchestrator.adapters.netbox``) and ``InMemoryIpam``
(``orchestrator.testing``); one contract (``orchestrator.testing.contracts.ipam``) holds both
to the same behaviour. This module imports
no vendor library.

Errors (``orchestrator.engine.errors``): ``Exhausted`` when a pool has no room (HTTP 409),
``KeyTaken`` when a key exists already (NetBox refuses the whole request; look up and adopt),
``Refused`` for any other refusal, ``TransientError`` subclasses when NetBox could not be reached
or failed on its side — the outcome of a write is then unknown: look the keys up before retrying.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from orchestrator.store.records import JsonMap


class Kind(StrEnum):
    """The kinds of object the orchestrator owns in NetBox, in the order phase 1 creates them."""

    TENANT = "tenant"
    CONTACT = "contact"
    VLAN = "vlan"
    PREFIX = "prefix"
    IP = "ip"
    VM = "vm"
    VM_INTERFACE = "vminterface"
    SERVICE = "service"
    DEVICE = "device"


#: The kinds whose objects have a NetBox status (``Owned.status``); NetBox's default is ``active``.
STATUS_KINDS = frozenset({Kind.VLAN, Kind.PREFIX, Kind.IP, Kind.VM, Kind.DEVICE})

#: The order ``release`` removes a delivery's objects in: the reverse of creation.
RELEASE_ORDER = tuple(reversed(Kind))


class Ref(StrEnum):
    """Shared reference data the orchestrator looks up (and never removes)."""

    SITE = "site"
    VLAN_GROUP = "vlan_group"
    PREFIX = "prefix"
    CLUSTER = "cluster"
    TENANT = "tenant"
    CONTACT_ROLE = "contact_role"
    MANUFACTURER = "manufacturer"
    DEVICE_TYPE = "device_type"
    DEVICE_ROLE = "device_role"
    PLATFORM = "platform"


@dataclass(frozen=True, slots=True)
class Owned:
    """An object found or made in NetBox: its key (``""`` if not ours), id and main value.

    ``value`` is the address, prefix, VLAN id or name; ``links`` the ids it points to that steps
    care about: an IP address's ``interface`` and the ``vm`` or ``device`` that interface belongs
    to (the server holding the address), a VM's ``primary_ip``, a VM interface's ``vm``.
    ``status`` is NetBox's status value (``planned``, ``reserved``, ``active`` ...) for the kinds
    that have one (``STATUS_KINDS``), ``""`` for the others.
    """

    kind: Kind
    key: str
    id: int
    value: str
    links: Mapping[str, int | None] = field(default_factory=dict)
    status: str = ""


@dataclass(frozen=True, slots=True)
class New:
    """An object to create under ``key``, with NetBox's field names and values."""

    key: str
    fields: JsonMap = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Note:
    """A journal entry on one object; with a ``key`` (``acme-webshop/journal/...``) it is written
    at most once, however often ``note`` is retried."""

    kind: Kind
    id: int
    text: str
    key: str = ""


class Ipam(Protocol):
    """Keyed, bulk reservations in the IPAM/DCIM source of truth."""

    def prepare(self, delivery: str, refs: Sequence[tuple[Ref, str]] = ()) -> None:
        """Read the delivery's objects of every kind and the ids of ``refs`` at once, for the
        ``owned``, ``reference`` and ``find`` calls that follow (an adapter may answer those from
        what it read, kept current by its own writes and dropped after a failed one)."""
        ...

    def reference(self, ref: Ref, value: str, *, create: JsonMap | None = None) -> int:
        """The id of shared data (by slug, name or prefix); made with ``create`` if missing."""
        ...

    def owned(self, kind: Kind, delivery: str) -> dict[str, Owned]:
        """Every object of ``kind`` carrying ``delivery``, by key (one read)."""
        ...

    def find(self, kind: Kind, value: str) -> Owned | None:
        """An object by its value (tenant slug, IP address), whoever owns it; an address given
        without a prefix length (``192.0.2.20``) matches it whatever its length in NetBox."""
        ...

    def tenant_named(self, name: str) -> Owned | None:
        """The tenant outside any tenant group called ``name``, whoever owns it (one read): NetBox
        refuses to create a second one of that name."""
        ...

    def free(self, kind: Kind, pool: int, count: int, length: int | None = None) -> list[str]:
        """What NetBox would hand out next from ``pool`` (not reserved); ``length`` for prefixes."""
        ...

    def allocate(self, kind: Kind, pool: int, delivery: str, items: Sequence[New]) -> list[Owned]:
        """Reserve one VLAN, prefix or address per item from ``pool``, in order."""
        ...

    def create(self, kind: Kind, delivery: str, items: Sequence[New]) -> list[Owned]:
        """Create the items, keyed, in order."""
        ...

    def update(self, kind: Kind, changes: Sequence[tuple[int, JsonMap]]) -> None:
        """Change fields of objects by id."""
        ...

    def delete(self, kind: Kind, ids: Sequence[int]) -> None:
        """Delete objects by id (with what only they hold, such as contact assignments)."""
        ...

    def assign_contacts(self, tenant: int, pairs: Sequence[tuple[int, str]]) -> int:
        """Assign contacts to the tenant with a role (slug, made if missing), skipping contacts
        assigned already; how many were new."""
        ...

    def note(self, entries: Sequence[Note]) -> None:
        """Write journal entries, skipping keyed ones that exist already."""
        ...

    def notes(self, delivery: str) -> dict[str, Note]:
        """The delivery's keyed journal entries, by key, whatever object they are on (one read,
        never from a snapshot: another controller may have written one)."""
        ...
