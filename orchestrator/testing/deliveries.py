"""Test deliveries and the people of their site: ``make_delivery`` (a ``Delivery`` without a spec
file), ``site_people``, and ``approve_gates`` (the approvals a delivery needs, by the people
allowed to give them)."""

from __future__ import annotations

from datetime import UTC, datetime

from orchestrator.engine.approvals import evidence_now
from orchestrator.engine.delivery import Delivery, Person
from orchestrator.engine.gates import GATES, People, check_approver, operations_team
from orchestrator.engine.ports.identity import KnownPerson
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import GateDecision, JsonMap
from orchestrator.testing.identity import FixedIdentity

T0 = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
#: The operations team a test delivery names (the spec's ``operations``).
OPERATIONS: JsonMap = {"team": "Ops Nights", "email": "ops@hosting.example.com"}


def make_delivery(
    delivery_id: str = "acme-webshop",
    *,
    spec_hash: str = "spec-1",
    unsigned: tuple[str, ...] = (),
) -> Delivery:
    """A delivery led by Alice Lead and managed by Dana Manager, handed over to the operations
    team Ops Nights, without a spec file."""
    return Delivery(
        id=delivery_id,
        lead_engineer=Person("Alice Lead", "alice@hosting.example.com"),
        delivery_manager=Person("Dana Manager", "dana@hosting.example.com"),
        spec_hash=spec_hash,
        snapshot={"id": delivery_id, "hash": spec_hash, "operations": OPERATIONS},
        unsigned=unsigned,
    )


def known_person(name: str, email: str, *roles: str, login: str | None = None) -> KnownPerson:
    """A person the site knows, with ``roles``; their login is their first name, lower case."""
    return KnownPerson(login or name.split(maxsplit=1)[0].lower(), name, email, frozenset(roles))


#: A second engineer, who may sign off any buddycheck where they are not the lead engineer.
BOB_BUDDY = known_person("Bob Buddy", "bob@hosting.example.com", "engineer")
#: Someone of the operations team, who may accept any delivery for operations.
OLGA_OPS = known_person("Olga Ops", "olga@hosting.example.com", "operations")


def site_people(delivery: Delivery) -> dict[str, KnownPerson]:
    """The site's people for a test delivery: its lead engineer and delivery manager with their
    roles, Bob Buddy (engineer), Olga Ops (operations) and a CI account (``ci``)."""
    lead, manager = delivery.lead_engineer, delivery.delivery_manager
    people = (
        known_person(lead.name, lead.email, "lead_engineer", "engineer"),
        known_person(manager.name, manager.email, "delivery_manager"),
        BOB_BUDDY,
        OLGA_OPS,
        known_person("CI", "ci@hosting.example.com", "ci", login="ci"),
    )
    return {person.login: person for person in people}


def approve_gates(store: RunStore, delivery: Delivery, *names: str) -> None:
    """Record approvals of ``names`` (all gates when none are named) by allowed people, each
    signing the gate's evidence as the store has it now; the delivery is saved first if the
    store does not hold it yet (a decision names its delivery)."""
    if store.get_delivery(delivery.id) is None:
        store.save_delivery(delivery.record(T0))
    people = People(
        delivery.lead_engineer, delivery.delivery_manager, operations_team(delivery.snapshot)
    )
    manager = site_people(delivery)[delivery.delivery_manager.name.split()[0].lower()]
    by_gate = {"buddycheck": BOB_BUDDY, "ops_acceptance": OLGA_OPS, "write_freeze": BOB_BUDDY}
    for gate in (GATES[name] for name in names or GATES):
        approver = FixedIdentity(by_gate.get(gate.name, manager))
        who = approver.authenticate("")
        role = check_approver(gate, who, people)
        evidence = evidence_now(store, delivery.id, gate)
        decision = GateDecision(delivery.id, gate.name, who.name, role.value, "ok", T0, evidence)
        store.record_decision(decision)
