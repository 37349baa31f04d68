"""Gates: the points where a person must decide before the delivery goes on. Pure rules.

| gate                    | where                                | who may approve                 |
|-------------------------|--------------------------------------|---------------------------------|
| `preconditions`         | before phase 1                       | the delivery manager            |
| `buddycheck`            | before phase 5                       | an engineer other than the lead |
| `customer_confirmation` | in phase 5, before the contract step | the delivery manager            |
| `go_live`               | before phase 7                       | the delivery manager            |
| `hardware_delivered`    | end of phase 1, when hardware is     | the lead engineer or the        |
|                         | ordered (``applies``)                | delivery manager                |

A gate is passed when it has an approval and nothing blocks it: ``preconditions`` is blocked
while the spec says the quote or the data processing agreement is not signed, ``buddycheck``
while action items are open. The customer confirmation sits after the handover steps and before
``handover.contract_effective`` (systems go to production, the contract takes effect).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from orchestrator.engine.delivery import Person
from orchestrator.engine.errors import BadInput, GateRefused
from orchestrator.store.records import ActionItem, GateDecision, JsonMap


class Role(StrEnum):
    """The part someone plays in a delivery, as far as gates are concerned."""

    LEAD_ENGINEER = "lead_engineer"
    DELIVERY_MANAGER = "delivery_manager"
    ENGINEER = "engineer"


@dataclass(frozen=True, slots=True)
class People:
    """The lead engineer and the delivery manager of a delivery."""

    lead_engineer: Person
    delivery_manager: Person

    def role_of(self, who: str) -> Role:
        """The role ``who`` has in the delivery; anyone not named is an engineer."""
        if self.lead_engineer.is_(who):
            return Role.LEAD_ENGINEER
        if self.delivery_manager.is_(who):
            return Role.DELIVERY_MANAGER
        return Role.ENGINEER


def always(_spec: JsonMap) -> bool:
    """A gate every delivery passes through."""
    return True


def orders_hardware(spec: JsonMap) -> bool:
    """Whether a spec (as its JSON snapshot) orders hardware for a host group."""
    groups = spec.get("hosts")
    return isinstance(groups, list) and any(
        isinstance(group, dict) and group.get("hardware") for group in groups
    )


@dataclass(frozen=True, slots=True)
class Gate:
    """A decision the delivery waits for, and who may give it; ``applies`` to which specs."""

    name: str
    needs: str
    allowed: frozenset[Role]
    blocked_by_open_items: bool = False
    blocked_by_unsigned_documents: bool = False
    applies: Callable[[JsonMap], bool] = always

    def who_may(self, people: People) -> str:
        """Who may approve, in words."""
        if self.allowed == {Role.ENGINEER}:
            return f"an engineer other than the lead engineer ({people.lead_engineer})"
        if Role.LEAD_ENGINEER in self.allowed:
            lead, manager = people.lead_engineer, people.delivery_manager
            return f"the lead engineer ({lead}) or the delivery manager ({manager})"
        return f"the delivery manager ({people.delivery_manager})"


PRECONDITIONS = Gate(
    "preconditions",
    "confirmation that the quote and the data processing agreement are signed",
    frozenset({Role.DELIVERY_MANAGER}),
    blocked_by_unsigned_documents=True,
)
BUDDYCHECK = Gate(
    "buddycheck",
    "sign-off of the buddycheck (internal quality control), with every action item closed",
    frozenset({Role.ENGINEER}),
    blocked_by_open_items=True,
)
CUSTOMER_CONFIRMATION = Gate(
    "customer_confirmation",
    "the customer's confirmation of the handover, recorded by the delivery manager",
    frozenset({Role.DELIVERY_MANAGER}),
)
GO_LIVE = Gate("go_live", "approval to go live", frozenset({Role.DELIVERY_MANAGER}))
HARDWARE_DELIVERED = Gate(
    "hardware_delivered",
    "confirmation that the hardware ordered in phase 1 has arrived",
    frozenset({Role.LEAD_ENGINEER, Role.DELIVERY_MANAGER}),
    applies=orders_hardware,
)

GATES = {
    gate.name: gate
    for gate in (PRECONDITIONS, BUDDYCHECK, CUSTOMER_CONFIRMATION, GO_LIVE, HARDWARE_DELIVERED)
}


def gate_named(name: str) -> Gate:
    """The gate called ``name``; an unknown name raises ``BadInput`` listing the known ones."""
    gate = GATES.get(name.strip().lower().replace("-", "_"))
    if gate is None:
        raise BadInput(f"no gate {name!r}; gates are {', '.join(GATES)}")
    return gate


@dataclass(frozen=True, slots=True)
class GateState:
    """Where a gate stands for a delivery."""

    gate: Gate
    approval: GateDecision | None
    blockers: tuple[str, ...] = ()
    needed: bool = True

    @property
    def passed(self) -> bool:
        """Whether the delivery may go past the gate (one it does not need is passed)."""
        return not self.needed or (self.approval is not None and not self.blockers)

    def explain(self, people: People) -> str:
        """What is still needed and who may give it."""
        if self.approval is None:
            who = self.gate.who_may(people)
            return f"gate {self.gate.name} needs {self.gate.needs}, from {who}"
        return f"gate {self.gate.name} is approved but blocked: {'; '.join(self.blockers)}"


def gate_state(
    gate: Gate,
    decisions: Sequence[GateDecision],
    open_items: Sequence[ActionItem] = (),
    unsigned: Sequence[str] = (),
    *,
    needed: bool = True,
) -> GateState:
    """The state of ``gate`` given the decisions, open action items and unsigned documents."""
    approvals = [d for d in decisions if d.gate == gate.name]
    approval = approvals[-1] if approvals else None
    return GateState(gate, approval, _blockers(gate, open_items, unsigned), needed)


def _blockers(
    gate: Gate, open_items: Sequence[ActionItem], unsigned: Sequence[str]
) -> tuple[str, ...]:
    found = []
    if gate.blocked_by_unsigned_documents and unsigned:
        verb = "is" if len(unsigned) == 1 else "are"
        found.append(f"the spec says the {' and the '.join(unsigned)} {verb} not signed")
    if gate.blocked_by_open_items and open_items:
        titles = ", ".join(f"#{item.id} {item.title}" for item in open_items)
        found.append(f"{len(open_items)} action item(s) open: {titles}")
    return tuple(found)


def check_approver(gate: Gate, who: str, people: People) -> Role:
    """The role ``who`` approves ``gate`` in; ``GateRefused`` when the rule forbids it."""
    role = people.role_of(who)
    if role in gate.allowed:
        return role
    if role is Role.LEAD_ENGINEER and gate.allowed == {Role.ENGINEER}:
        raise GateRefused(
            f"{who} is the lead engineer and may not sign off their own {gate.name}; "
            f"it needs {gate.who_may(people)}"
        )
    raise GateRefused(f"{who} may not approve {gate.name}; it needs {gate.who_may(people)}")
