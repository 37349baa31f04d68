"""Keyed reservations: look up, adopt, record the intent, create, settle.

The one way phase 1 makes anything in NetBox (``reserve``):

1. read the delivery's objects of the kind (one request) and adopt those whose key is wanted;
2. write ``netbox_pending`` (kind, keys) to the run store's audit log — the intent;
3. send the create/allocate request(s) for the missing keys, each object carrying its key;
4. write ``netbox_settled`` with what was created, adopted or failed.

A crash after 3 leaves a pending intent and objects in NetBox carrying the keys: the next attempt
adopts them in 1. An error whose outcome is unknown (a timeout: NetBox may commit later) is left
to the engine's retry policy, whose next attempt starts again at 1. If NetBox refuses because a key
exists (an earlier request committed after all), the keys are looked up once more and adopted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from orchestrator.engine.errors import KeyTaken, OrchestratorError, TransientError
from orchestrator.engine.ports.ipam import Ipam, Kind, New, Owned
from orchestrator.engine.step import Change, StepContext
from orchestrator.store.records import AuditEntry, Json

log = structlog.get_logger("orchestrator.phases.network")

PENDING = "netbox_pending"
SETTLED = "netbox_settled"
RELEASED = "netbox_released"
JOURNAL = "netbox_journal"
JOURNALED = "netbox_journaled"
WHO = "orchestrator"

type Make = Callable[[Sequence[New]], list[Owned]]


class StillCommitting(TransientError):
    """NetBox refused keys that a lookup does not show yet: an earlier request is committing."""


def key_of(delivery: str, *parts: str) -> str:
    """An object's stable key: ``acme-webshop/ip/web-01``."""
    return "/".join((delivery, *parts))


def record(ctx: StepContext, action: str, detail: dict[str, Json]) -> None:
    """Append ``action`` for the delivery and run to the run store's audit log."""
    if ctx.audit is None:
        return
    entry = AuditEntry(datetime.now(UTC), WHO, action, ctx.delivery.id, ctx.run_id, detail)
    ctx.audit.append_audit(entry)


def releases(ctx: StepContext) -> int:
    """How often the delivery's reservations were released; a step's inputs include it."""
    if ctx.audit is None:
        return 0
    return sum(1 for e in ctx.audit.list_audit(ctx.delivery.id) if e.action == RELEASED)


def has_intents(entries: Sequence[AuditEntry]) -> bool:
    """Whether phase 1 ever meant to create something for the delivery."""
    return any(entry.action == PENDING for entry in entries)


@dataclass(frozen=True, slots=True)
class Reserved:
    """The objects a reservation ended with, by key, and which of them it created."""

    objects: dict[str, Owned]
    created: tuple[str, ...] = ()

    @property
    def adopted(self) -> tuple[str, ...]:
        """Keys that existed already."""
        return tuple(key for key in self.objects if key not in self.created)

    def ids(self) -> dict[str, Json]:
        """Key to NetBox id, for the step's outputs."""
        return {key: item.id for key, item in self.objects.items()}


@dataclass(slots=True)
class Reservation:
    """Reserving ``wanted`` objects of one kind for the delivery of ``ctx``."""

    ipam: Ipam
    ctx: StepContext
    kind: Kind
    make: Make
    found: dict[str, Owned] | None = None
    created: list[str] = field(default_factory=list)

    def __call__(self, wanted: Sequence[New]) -> Reserved:
        """Adopt what exists, create the rest, and record the intent around the request."""
        found = self._lookup() if self.found is None else self.found
        missing = [item for item in wanted if item.key not in found]
        if missing:
            found = {**found, **self._create(missing)}
        keys = {item.key for item in wanted}
        objects = {key: item for key, item in found.items() if key in keys}
        return Reserved(objects, tuple(self.created))

    def _lookup(self) -> dict[str, Owned]:
        return self.ipam.owned(self.kind, self.ctx.delivery.id)

    def _create(self, missing: Sequence[New]) -> dict[str, Owned]:
        keys: list[Json] = [item.key for item in missing]
        record(self.ctx, PENDING, {"kind": self.kind.value, "keys": keys})
        try:
            made = self._send(missing)
        except OrchestratorError as exc:
            outcome = "unknown" if isinstance(exc, TransientError) else "failed"
            record(self.ctx, SETTLED, {"kind": self.kind.value, outcome: keys, "error": str(exc)})
            raise
        adopted: list[Json] = [key for key in keys if key not in self.created]
        created: dict[str, Json] = {key: made[key].id for key in self.created if key in made}
        record(self.ctx, SETTLED, {"kind": self.kind.value, "created": created, "adopted": adopted})
        return made

    def _send(self, missing: Sequence[New]) -> dict[str, Owned]:
        try:
            return self._made(missing)
        except KeyTaken:
            log.info("keys_taken_adopting", kind=self.kind.value, keys=len(missing))
        found = self._lookup()
        still = [item for item in missing if item.key not in found]
        try:
            return {**found, **self._made(still)} if still else found
        except KeyTaken as exc:
            raise StillCommitting(f"{self.kind} keys exist but cannot be seen yet: {exc}") from exc

    def _made(self, items: Sequence[New]) -> dict[str, Owned]:
        made = {item.key: item for item in self.make(items)}
        self.created.extend(made)
        return made


def changes_for(
    kind: Kind, wanted: Sequence[New], found: dict[str, Owned], candidates: Sequence[str] = ()
) -> list[Change]:
    """A plan's lines: adopt what exists, create the rest (with NetBox's next-free candidates)."""
    lines = [
        Change("adopt", f"{kind} {item.key}", f"{found[item.key].value}, #{found[item.key].id}")
        for item in wanted
        if item.key in found
    ]
    missing = [item for item in wanted if item.key not in found]
    for index, item in enumerate(missing):
        hint = (
            f"next free: {candidates[index]}, not yet reserved" if index < len(candidates) else ""
        )
        lines.append(Change("create", f"{kind} {item.key}", hint))
    return lines


def exhausted_message(what: str, asked: int, free: Sequence[str]) -> str:
    """``asked for 20 addresses in 10.213.128.0/28; 13 free (10.213.128.2/28, ...)``."""
    shown = ", ".join(free[:5]) + (", ..." if len(free) > 5 else "")
    return f"asked for {asked} {what}; {len(free)} free" + (f" ({shown})" if free else "")
