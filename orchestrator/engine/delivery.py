"""What the engine knows of a delivery: who is responsible, which spec, and whether it may start.

``load_delivery`` reads a spec file through ``orchestrator.spec``; everything below it sees only a
``Delivery``, so tests build one with ``orchestrator.testing.make_delivery`` and no YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from orchestrator.engine.errors import BadInput
from orchestrator.spec import DeliverySpec, Preconditions, SpecError, load_spec, spec_hash
from orchestrator.store.records import DeliveryRecord, JsonMap


@dataclass(frozen=True, slots=True)
class Person:
    """Someone with a role in a delivery; recognised by name or email."""

    name: str
    email: str = ""

    def is_(self, who: str) -> bool:
        """Whether ``who`` (a name or an email, any case) is this person."""
        wanted = who.strip().casefold()
        return wanted in {self.name.strip().casefold(), self.email.strip().casefold()} - {""}

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery as the engine sees it: identity, people, spec fingerprint and snapshot."""

    id: str
    lead_engineer: Person
    delivery_manager: Person
    spec_hash: str
    snapshot: JsonMap = field(default_factory=dict)
    unsigned: tuple[str, ...] = ()
    spec: DeliverySpec | None = None

    def record(self, updated_at: datetime) -> DeliveryRecord:
        """The store's record of this delivery."""
        return DeliveryRecord(
            id=self.id,
            spec_hash=self.spec_hash,
            spec=self.snapshot,
            lead_engineer=self.lead_engineer.name,
            delivery_manager=self.delivery_manager.name,
            updated_at=updated_at,
            lead_engineer_email=self.lead_engineer.email,
            delivery_manager_email=self.delivery_manager.email,
        )


def people_of(record: DeliveryRecord) -> tuple[Person, Person]:
    """The lead engineer and the delivery manager of a stored delivery."""
    lead = Person(record.lead_engineer, record.lead_engineer_email)
    return lead, Person(record.delivery_manager, record.delivery_manager_email)


def delivery_from_spec(spec: DeliverySpec) -> Delivery:
    """The engine's view of a validated spec."""
    return Delivery(
        id=spec.id,
        lead_engineer=Person(spec.lead_engineer.name, str(spec.lead_engineer.email)),
        delivery_manager=Person(spec.delivery_manager.name, str(spec.delivery_manager.email)),
        spec_hash=spec_hash(spec),
        snapshot=spec.model_dump(mode="json"),
        unsigned=unsigned_documents(spec.preconditions),
        spec=spec,
    )


def unsigned_documents(preconditions: Preconditions) -> tuple[str, ...]:
    """The documents that must be signed before phase 1 and, by the spec, are not."""
    documents = {
        "quote": preconditions.quote,
        "data processing agreement": preconditions.data_processing_agreement,
    }
    return tuple(name for name, agreement in documents.items() if not agreement.signed)


def load_delivery(path: Path) -> Delivery:
    """Read and validate the spec at ``path``; a bad spec raises ``BadInput`` with every problem."""
    try:
        return delivery_from_spec(load_spec(path))
    except SpecError as exc:
        raise BadInput(str(exc)) from exc
