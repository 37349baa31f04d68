"""Gates: the points where a person must decide before the delivery goes on. Pure rules.

| gate                    | where                                | who may approve                 |
|-------------------------|--------------------------------------|---------------------------------|
| `preconditions`         | before phase 1                       | the delivery manager            |
| `buddycheck`            | before phase 5                       | an engineer other than the lead |
| `customer_confirmation` | in phase 5, before the contract step | the delivery manager            |
| `go_live`               | in phase 7, after the go-live checks | the delivery manager            |
| `evaluation`            | in phase 7, after going live;        | the lead engineer or the        |
|                         | recorded with `orchestrator evaluate`| delivery manager                |
| `ops_acceptance`        | end of phase 7, after the go-live    | the operations team named in    |
|                         | steps                                | the spec (site role operations) |
| `hardware_delivered`    | end of phase 1, when hardware is     | the lead engineer or the        |
|                         | ordered (``applies``)                | delivery manager                |
| `write_freeze`          | in phase 6, before the final sync of | the lead engineer or an         |
|                         | a migration by us (``applies``)      | engineer                        |
| `migration_done`        | in phase 6, before the verification  | the lead engineer or the        |
|                         | of a migration by the customer       | delivery manager                |
|                         | (``applies``)                        |                                 |

A gate is passed when it has an approval and nothing blocks it: ``preconditions`` is blocked
while the spec says the quote or the data processing agreement is not signed, ``buddycheck``
and ``go_live`` while action items are open (``go_live`` signs the go-live checks' results).
The customer confirmation sits after the handover steps and before
``handover.contract_effective`` (systems go to production, the contract takes effect).

Who approves is authenticated (``orchestrator.engine.ports.identity``): a person the site knows,
who must hold the site role the gate asks for (``delivery_manager``, ``lead_engineer``,
``engineer``, ``operations``) and, for the delivery manager's and lead engineer's gates, be that
person of this delivery (matched by email). The operations team of the spec is a group, not a
person: ``ops_acceptance`` is approved by anyone holding the site role ``operations``, whatever
else they are in the delivery, and the decision's audit names the team. The buddycheck is
signed off by someone holding ``engineer`` (or ``lead_engineer``) who is not this delivery's
lead engineer. A CI account (site role ``ci``) runs, resumes and plans, and approves no gate.

The write freeze is declared by whoever approves ``write_freeze``: writes on the old hosting have
stopped and the DNS names' TTLs are lowered; it signs the pre-sync's results (a new pre-sync
makes it stale). ``migration_done`` is the long wait of a migration by the customer: the lead
engineer records check-ins meanwhile (``orchestrator checkin``), and approves it when the customer
says they are done.

A gate with evidence (the buddycheck: the hash of the check results, the output ``evidence``
of its ``evidence_step``) takes only an approval of the evidence as it is now: when the checks
run again and find something else, the sign-off is stale and must be given again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from orchestrator.engine.delivery import Person
from orchestrator.engine.errors import BadInput, GateRefused
from orchestrator.engine.ports.identity import Approver
from orchestrator.store.records import ActionItem, GateDecision, JsonMap


class Role(StrEnum):
    """The part someone plays in a delivery, as far as gates are concerned."""

    LEAD_ENGINEER = "lead_engineer"
    DELIVERY_MANAGER = "delivery_manager"
    ENGINEER = "engineer"
    OPERATIONS = "operations"


@dataclass(frozen=True, slots=True)
class People:
    """The lead engineer and the delivery manager of a delivery, and its operations team."""

    lead_engineer: Person
    delivery_manager: Person
    operations: str = ""  # the team named in the spec; a group, matched by site role only

    def role_of_approver(self, approver: Approver) -> Role:
        """The role an authenticated person has in the delivery, matched on their email."""
        return self.role_of(approver.person.email)

    def role_of(self, who: str) -> Role:
        """The role ``who`` has in the delivery; anyone not named is an engineer."""
        if self.lead_engineer.is_(who):
            return Role.LEAD_ENGINEER
        if self.delivery_manager.is_(who):
            return Role.DELIVERY_MANAGER
        return Role.ENGINEER


def operations_team(spec: JsonMap) -> str:
    """The operations team a spec (as its JSON snapshot) names; empty when it names none."""
    operations = spec.get("operations")
    team = operations.get("team") if isinstance(operations, dict) else None
    return team if isinstance(team, str) else ""


def always(_spec: JsonMap) -> bool:
    """A gate every delivery passes through."""
    return True


def orders_hardware(spec: JsonMap) -> bool:
    """Whether a spec (as its JSON snapshot) orders hardware for a host group."""
    groups = spec.get("hosts")
    return isinstance(groups, list) and any(
        isinstance(group, dict) and group.get("hardware") for group in groups
    )


def _migration(spec: JsonMap) -> dict[str, object]:
    migration = spec.get("migration")
    return migration if isinstance(migration, dict) else {}


def migrated_by_us(spec: JsonMap) -> bool:
    """Whether a spec (as its JSON snapshot) has us move data sets in phase 6."""
    migration = _migration(spec)
    return migration.get("by") == "us" and bool(migration.get("data_sets"))


def migrated_by_customer(spec: JsonMap) -> bool:
    """Whether a spec (as its JSON snapshot) has the customer migrate in phase 6."""
    return _migration(spec).get("by") == "customer"


@dataclass(frozen=True, slots=True)
class Gate:
    """A decision the delivery waits for, and who may give it; ``applies`` to which specs."""

    name: str
    needs: str
    allowed: frozenset[Role]
    blocked_by_open_items: bool = False
    blocked_by_unsigned_documents: bool = False
    applies: Callable[[JsonMap], bool] = always
    evidence_step: str | None = None  # whose output ``evidence`` an approval signs
    #: the command whose record passes the gate, when that is not ``approve``
    recorded_with: str | None = None

    def blocking(self, items: Sequence[ActionItem]) -> list[ActionItem]:
        """The open items that block this gate: those its checks opened (its ``evidence_step``'s
        phase, by step key), and items opened by hand (no step) for the buddycheck. A go-live
        finding never holds back the buddycheck, nor a buddycheck finding the go-live."""
        if not self.blocked_by_open_items:
            return []
        phase = (self.evidence_step or "").split(".", 1)[0]
        by_hand = self.name == "buddycheck"
        return [
            item for item in items
            if item.open and ((item.step_key or "").split(".", 1)[0] == phase
                              or (item.step_key is None and by_hand))
        ]  # fmt: skip

    def who_may(self, people: People) -> str:
        """Who may approve, in words."""
        if self.allowed == {Role.OPERATIONS}:
            team = (
                f"the operations team {people.operations}"
                if people.operations
                else ("the operations team")
            )
            return f"{team} (someone holding the site role operations)"
        if self.allowed == {Role.ENGINEER}:
            return f"an engineer other than the lead engineer ({people.lead_engineer})"
        if self.allowed == {Role.LEAD_ENGINEER, Role.ENGINEER}:
            return f"the lead engineer ({people.lead_engineer}) or an engineer"
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
    evidence_step="buddycheck.action_items",
)
CUSTOMER_CONFIRMATION = Gate(
    "customer_confirmation",
    "the customer's confirmation of the handover, recorded by the delivery manager",
    frozenset({Role.DELIVERY_MANAGER}),
)
GO_LIVE = Gate(
    "go_live",
    "approval to go live, on the go-live checks' results (and confirming the manual ones)",
    frozenset({Role.DELIVERY_MANAGER}),
    blocked_by_open_items=True,
    evidence_step="golive.checks",
)
EVALUATION = Gate(
    "evaluation",
    "the evaluation: what went well and what could be better",
    frozenset({Role.LEAD_ENGINEER, Role.DELIVERY_MANAGER}),
    recorded_with="orchestrator evaluate",
)
OPS_ACCEPTANCE = Gate(
    "ops_acceptance",
    "acceptance of the platform and its final report by the operations team",
    frozenset({Role.OPERATIONS}),
    evidence_step="golive.report",
)
HARDWARE_DELIVERED = Gate(
    "hardware_delivered",
    "confirmation that the hardware ordered in phase 1 has arrived",
    frozenset({Role.LEAD_ENGINEER, Role.DELIVERY_MANAGER}),
    applies=orders_hardware,
)

WRITE_FREEZE = Gate(
    "write_freeze",
    "the write freeze: writes on the old hosting stopped and the DNS TTLs lowered",
    frozenset({Role.LEAD_ENGINEER, Role.ENGINEER}),
    applies=migrated_by_us,
    evidence_step="migration.presync",
)
MIGRATION_DONE = Gate(
    "migration_done",
    "word that the customer has migrated their application and data",
    frozenset({Role.LEAD_ENGINEER, Role.DELIVERY_MANAGER}),
    applies=migrated_by_customer,
)

GATES = {  # in the order a delivery meets them
    gate.name: gate
    for gate in (
        PRECONDITIONS,
        HARDWARE_DELIVERED,
        BUDDYCHECK,
        CUSTOMER_CONFIRMATION,
        WRITE_FREEZE,
        MIGRATION_DONE,
        GO_LIVE,
        EVALUATION,
        OPS_ACCEPTANCE,
    )
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
    stale: GateDecision | None = None  # the latest approval, when it signed other evidence

    @property
    def passed(self) -> bool:
        """Whether the delivery may go past the gate (one it does not need is passed)."""
        return not self.needed or (self.approval is not None and not self.blockers)

    def explain(self, people: People) -> str:
        """What is still needed and who may give it."""
        if self.approval is None:
            who = self.gate.who_may(people)
            how = f", recorded with `{self.gate.recorded_with}`" if self.gate.recorded_with else ""
            return f"gate {self.gate.name} needs {self.gate.needs}, from {who}{how}{self._stale()}"
        return f"gate {self.gate.name} is approved but blocked: {'; '.join(self.blockers)}"

    def _stale(self) -> str:
        if self.stale is None:
            return ""
        signed = self.stale.evidence[:12] or "none"
        return (f" (the sign-off by {self.stale.by} is stale: it signed evidence {signed}, "
                f"and {self.gate.evidence_step} has found something else since)")  # fmt: skip


def gate_state(  # noqa: PLR0913 - the facts a gate is judged on
    gate: Gate,
    decisions: Sequence[GateDecision],
    open_items: Sequence[ActionItem] = (),
    unsigned: Sequence[str] = (),
    *,
    needed: bool = True,
    evidence: str = "",
) -> GateState:
    """The state of ``gate`` given the decisions, open action items, unsigned documents and, for
    a gate with evidence, the evidence as it is now (an approval of other evidence is stale)."""
    approvals = [d for d in decisions if d.gate == gate.name]
    latest = approvals[-1] if approvals else None
    stale = None
    if latest is not None and gate.evidence_step is not None and latest.evidence != evidence:
        latest, stale = None, latest
    return GateState(gate, latest, _blockers(gate, open_items, unsigned), needed, stale)


def _blockers(
    gate: Gate, open_items: Sequence[ActionItem], unsigned: Sequence[str]
) -> tuple[str, ...]:
    found = []
    if gate.blocked_by_unsigned_documents and unsigned:
        verb = "is" if len(unsigned) == 1 else "are"
        found.append(f"the spec says the {' and the '.join(unsigned)} {verb} not signed")
    blocking = gate.blocking(open_items)
    if blocking:
        titles = ", ".join(f"#{item.id} {item.title}" for item in blocking)
        found.append(f"{len(blocking)} action item(s) open: {titles}")
    return tuple(found)


#: The site role a person must hold to act in each delivery role.
SITE_ROLE_FOR = {
    Role.DELIVERY_MANAGER: ("delivery_manager",),
    Role.LEAD_ENGINEER: ("lead_engineer",),
    Role.ENGINEER: ("engineer", "lead_engineer"),
    Role.OPERATIONS: ("operations",),
}


def check_approver(gate: Gate, approver: Approver, people: People) -> Role:
    """The role ``approver`` approves ``gate`` in; ``GateRefused`` when the rule forbids it."""
    if approver.holds("ci"):
        raise GateRefused(
            f"{approver} is a CI account: CI runs, resumes and plans deliveries, and approves no "
            f"gate; {gate.name} needs {gate.who_may(people)}"
        )
    if gate.allowed == {Role.OPERATIONS}:
        return _operations(gate, approver, people)
    role = people.role_of_approver(approver)
    if role is Role.LEAD_ENGINEER and gate.allowed == {Role.ENGINEER}:
        raise GateRefused(
            f"{approver} is the lead engineer and may not sign off their own {gate.name}; "
            f"it needs {gate.who_may(people)}"
        )
    if role not in gate.allowed:
        raise GateRefused(
            f"{approver} may not approve {gate.name}; it needs {gate.who_may(people)}"
        )
    if not any(approver.holds(site_role) for site_role in SITE_ROLE_FOR[role]):
        held = ", ".join(sorted(approver.person.roles)) or "none"
        raise GateRefused(
            f"{approver} does not hold the site role {SITE_ROLE_FOR[role][0]} "
            f"(roles held: {held}), which {gate.name} needs"
        )
    return role


def _operations(gate: Gate, approver: Approver, people: People) -> Role:
    """An operations gate is approved by whoever holds the site role ``operations``."""
    if not approver.holds("operations"):
        held = ", ".join(sorted(approver.person.roles)) or "none"
        raise GateRefused(
            f"{approver} does not hold the site role operations (roles held: {held}); "
            f"{gate.name} needs {gate.who_may(people)}"
        )
    return Role.OPERATIONS
