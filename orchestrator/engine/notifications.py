"""Who must act when a run stops, and what they are told. Pure rules; sending is ``notifying``.

| the run                          | who is told                                                 |
|----------------------------------|-------------------------------------------------------------|
| waits at a gate for an approval  | whoever may approve it: the delivery's delivery manager or  |
|                                  | lead engineer, the site's engineers other than the lead     |
|                                  | (the buddycheck), its operations people (ops acceptance)    |
| waits at an approved gate that   | the lead engineer (open action items), the delivery         |
| something still blocks           | manager (documents the spec says are unsigned)              |
| failed or crashed                | the lead engineer                                           |

The site's people (``people`` in the site file, with their roles) are who "the site's engineers"
and "its operations people" are; a CI account (site role ``ci``) is never told. Each notice says
what is needed, from whom, and the exact command that acts on it: ``orchestrator approve ...``
(or the command that records the gate), ``orchestrator actions list ...``, or ``orchestrator
resume SPEC``; and the delivery's page in the run viewer when the site names one.

A notice's ``key`` is the same for the same stop: a re-run that waits at the same gate, on the
same evidence, with the same approvals and blockers, or a resumed run that fails again with the
same reason. A notice already sent under its key is not sent again (``notifying``); a new wait
(new evidence, a stale sign-off, another blocker) has a new key and is sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from orchestrator.engine.delivery import Person, people_of
from orchestrator.engine.gates import Gate, GateState, People, Role, operations_team
from orchestrator.engine.ports.identity import KnownPerson
from orchestrator.engine.ports.notifier import Event, Notice, Recipient
from orchestrator.store.records import DeliveryRecord, RunRecord
from orchestrator.store.status import Status

#: The site roles whose holders may sign off someone else's buddycheck.
ENGINEER_ROLES = frozenset({"engineer", "lead_engineer"})
#: The placeholder a notice names the spec by when the command line gave none.
SPEC = "SPEC"


def event_of(run: RunRecord) -> Event | None:
    """Why the run's people are told, if they are: it waits, failed or crashed."""
    return {Status.WAITING: Event.WAITING, Status.FAILED: Event.FAILED,
            Status.CRASHED: Event.CRASHED}.get(run.status)  # fmt: skip


def recipients(
    event: Event, state: GateState | None, record: DeliveryRecord, site: Sequence[KnownPerson]
) -> tuple[Recipient, ...]:
    """Who must act, each once, in the order the table above names them."""
    lead, manager = people_of(record)
    if event is not Event.WAITING or state is None:
        return _unique([_of(lead)])
    if state.approval is not None:  # approved, but blocked
        return _unique([_of(lead if state.gate.blocked_by_open_items else manager)])
    return _unique(approvers(state.gate, lead, manager, site))


def approvers(
    gate: Gate, lead: Person, manager: Person, site: Sequence[KnownPerson]
) -> list[Recipient]:
    """Who may approve ``gate`` (``gates.check_approver``'s rule), as far as the site knows."""
    found = []
    if Role.DELIVERY_MANAGER in gate.allowed:
        found.append(_of(manager))
    if Role.LEAD_ENGINEER in gate.allowed:
        found.append(_of(lead))
    if Role.ENGINEER in gate.allowed:
        found += [_known(p) for p in _holding(site, ENGINEER_ROLES) if not lead.is_(p.email)]
    if Role.OPERATIONS in gate.allowed:
        found += [_known(p) for p in _holding(site, frozenset({"operations"}))]
    return found


def _holding(site: Sequence[KnownPerson], roles: frozenset[str]) -> list[KnownPerson]:
    return [p for p in site if p.roles & roles and "ci" not in p.roles]


def _of(person: Person) -> Recipient:
    return Recipient(person.name, person.email)


def _known(person: KnownPerson) -> Recipient:
    return Recipient(person.name, person.email)


def _unique(found: Sequence[Recipient]) -> tuple[Recipient, ...]:
    """Each address once (the first name it came with); nobody without an address."""
    seen: dict[str, Recipient] = {}
    for recipient in found:
        if recipient.email:
            seen.setdefault(recipient.email.strip().casefold(), recipient)
    return tuple(seen.values())


def needed(event: Event, state: GateState | None, record: DeliveryRecord) -> str:
    """What is needed, and from whom, in a sentence or two."""
    if event is not Event.WAITING or state is None:
        what = "failed: the target said no" if event is Event.FAILED else "crashed: our side broke"
        return (f"The run {what}. The lead engineer ({record.lead_engineer}) finds and fixes "
                "the cause, then resumes the run: only what is not done is redone.")  # fmt: skip
    people = People(*people_of(record), operations_team(record.spec))
    text = state.explain(people)
    if state.approval is None and state.blockers:
        text += f"; blocked meanwhile: {'; '.join(state.blockers)}"
    return text[:1].upper() + text[1:] + "."


def commands(
    event: Event, state: GateState | None, delivery: str, spec: str | None
) -> tuple[str, str]:
    """The exact command that acts on the stop, and the one that continues the delivery after
    it (empty when the first one does)."""
    resume = f"orchestrator resume {spec or SPEC}"
    if event is not Event.WAITING or state is None:
        return resume, ""
    gate = state.gate
    if state.approval is not None:
        if gate.blocked_by_open_items:
            return f"orchestrator actions list {delivery}", resume
        return f"{resume}  (once the spec says the documents are signed)", ""
    if gate.recorded_with:
        return f"{gate.recorded_with} {delivery} --file FILE --sign-with KEY", resume
    return (f"orchestrator approve {delivery} {gate.name} --sign-with KEY --comment TEXT",
            resume)  # fmt: skip


def dedupe_key(run: RunRecord, state: GateState | None, evidence: str = "") -> str:
    """The same for the same stop (see the module's docstring), as 64 hex digits."""
    if run.status is Status.WAITING and state is not None:
        decided = state.approval or state.stale
        parts = [run.delivery_id, "waiting", state.gate.name, evidence,
                 decided.decided_at.isoformat() if decided else "", *state.blockers]  # fmt: skip
    else:
        parts = [run.delivery_id, str(run.status), run.id, run.reason or ""]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def viewer_page(template: str | None, run: RunRecord) -> str | None:
    """The delivery's page in the run viewer, from the site's ``{delivery}``/``{run}`` template."""
    if not template:
        return None
    return template.format(delivery=run.delivery_id, run=run.id)


def notice_of(  # noqa: PLR0913 - the facts a notice is made of
    run: RunRecord,
    state: GateState | None,
    record: DeliveryRecord,
    site: Sequence[KnownPerson],
    *,
    spec: str | None = None,
    evidence: str = "",
    viewer: str | None = None,
) -> Notice | None:
    """What the people who must act are told about ``run``'s stop; ``None`` when it did not
    stop for anyone (it succeeded, or nobody who must act has an address)."""
    event = event_of(run)
    if event is None:
        return None
    who = recipients(event, state, record, site)
    if not who:
        return None
    command, then = commands(event, state, run.delivery_id, spec)
    return Notice(
        delivery=run.delivery_id, event=event, run_id=run.id, who=who,
        needed=needed(event, state, record), command=command, then=then,
        key=dedupe_key(run, state, evidence),
        gate=state.gate.name if state is not None and event is Event.WAITING else None,
        reason=run.reason or "", viewer=viewer_page(viewer, run),
    )  # fmt: skip
