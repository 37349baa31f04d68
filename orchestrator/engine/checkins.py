"""Check-ins: while a delivery waits at a gate for a long time (a migration by the customer,
``migration_done``), the lead engineer records that they asked how it goes and what they heard.

A check-in is recorded by the delivery's lead engineer, authenticated as at a gate (their OS
login, or the SSH key they sign with) and holding the site role ``lead_engineer``; a CI account
records none. Each one is stored (``checkins``) and audited. ``waiting_since`` tells from the
runs how long a delivery has been waiting at a gate, for ``status``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import structlog

from orchestrator.engine.delivery import people_of
from orchestrator.engine.errors import BadInput, GateRefused
from orchestrator.engine.execution import utc_now
from orchestrator.engine.gates import MIGRATION_DONE, Gate, People, Role, gate_named
from orchestrator.engine.ports.identity import Authenticator
from orchestrator.engine.status import Mode, Status
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import AuditEntry, CheckIn, JsonMap, RunRecord

log = structlog.get_logger("orchestrator.engine")

#: The gates check-ins are recorded at: the long waits.
CHECKIN_GATES = frozenset({MIGRATION_DONE.name})


def checkin_statement(delivery_id: str, gate: str, comment: str) -> str:
    """The text the author is authenticated for (what an SSH signature signs)."""
    return f"orchestrator check-in\ndelivery: {delivery_id}\ngate: {gate}\ncomment: {comment}\n"


def record_checkin(  # noqa: PLR0913 - the check-in's parts, each asked for on the command line
    store: RunStore,
    delivery_id: str,
    comment: str,
    authenticator: Authenticator,
    *,
    gate: str = MIGRATION_DONE.name,
    clock: Callable[[], datetime] = utc_now,
) -> CheckIn:
    """Store a check-in by the authenticated lead engineer (audited); ``BadInput`` for an unknown
    delivery, an empty comment or a gate the delivery does not wait at, ``GateRefused`` for
    anyone but the delivery's lead engineer (a CI account included)."""
    record = store.get_delivery(delivery_id)
    if record is None:
        raise BadInput(f"no delivery {delivery_id} in the run store; `plan` or `run` it first")
    waited = _gate(gate, record.spec)
    if not comment.strip():
        raise BadInput("a check-in needs a --comment: what you asked and what you heard")
    author = authenticator.authenticate(checkin_statement(delivery_id, waited.name, comment))
    people = People(*people_of(record))
    if author.holds("ci"):
        raise GateRefused(f"{author} is a CI account: check-ins are recorded by people")
    if people.role_of_approver(author) is not Role.LEAD_ENGINEER or not author.holds(
        "lead_engineer"
    ):
        raise GateRefused(
            f"{author} may not record check-ins of {delivery_id}: they are recorded by its lead "
            f"engineer ({people.lead_engineer}, site role lead_engineer)"
        )
    checkin = CheckIn(delivery_id, waited.name, author.name, comment.strip(), clock(),
                      author.method)  # fmt: skip
    store.add_checkin(checkin)
    store.append_audit(AuditEntry(checkin.at, author.name, "checkin_recorded", delivery_id, None, {
        "gate": waited.name, "comment": checkin.comment, "login": author.person.login,
        "method": author.method,
    }))  # fmt: skip
    log.info("checkin_recorded", delivery=delivery_id, gate=waited.name, by=author.name)
    return checkin


def _gate(name: str, spec: JsonMap) -> Gate:
    gate = gate_named(name)
    if gate.name not in CHECKIN_GATES:
        raise BadInput(f"check-ins are recorded at {', '.join(sorted(CHECKIN_GATES))}, not {name}")
    if not gate.applies(spec):
        raise BadInput(f"the delivery does not wait at {gate.name} (its spec does not need it)")
    return gate


def waiting_since(runs: Sequence[RunRecord], gate: str) -> datetime | None:
    """When the delivery began to wait at ``gate``: the end of the first run of the unbroken
    series of latest apply runs that stopped there (``runs`` newest first); ``None`` when the
    latest apply run did not stop there."""
    since = None
    for run in (r for r in runs if r.mode is Mode.APPLY):
        if run.status is not Status.WAITING or not (run.reason or "").startswith(f"gate {gate} "):
            break
        since = run.finished_at or run.started_at
    return since


def waited(since: datetime, now: datetime) -> str:
    """How long since ``since``, in words: ``3 d 4 h``, ``2 h 5 min``, ``12 min``."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"
