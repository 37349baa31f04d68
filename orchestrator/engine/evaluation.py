"""The delivery's evaluation (phase 7): what went well and what could be better, recorded by an
authenticated person (never a CI account), stored as notes and audited."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from orchestrator.engine.delivery import people_of
from orchestrator.engine.errors import BadInput, GateRefused
from orchestrator.engine.execution import utc_now
from orchestrator.engine.gates import EVALUATION, People, Role, check_approver, operations_team
from orchestrator.engine.ports.identity import Approver, Authenticator
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import AuditEntry, EvaluationNote, GateDecision

log = structlog.get_logger("orchestrator.engine")

#: The kinds of evaluation note, in the order they are asked for and shown.
KINDS = ("went_well", "could_be_better")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What someone says went well and could be better, before it is recorded."""

    went_well: tuple[str, ...] = ()
    could_be_better: tuple[str, ...] = ()

    def notes(self) -> tuple[tuple[str, str], ...]:
        """Every note as (kind, text), in ``KINDS`` order."""
        return tuple(("went_well", text) for text in self.went_well) + tuple(
            ("could_be_better", text) for text in self.could_be_better
        )

    def statement(self, delivery_id: str) -> str:
        """The text the author is authenticated for (what an SSH signature signs)."""
        lines = "".join(f"{kind}: {text}\n" for kind, text in self.notes())
        return f"orchestrator evaluation\ndelivery: {delivery_id}\n{lines}"


@dataclass(frozen=True, slots=True)
class Recorded:
    """The notes stored, and the role in which they passed the evaluation gate (if they did)."""

    notes: tuple[EvaluationNote, ...]
    passed_as: str | None


def record_evaluation(
    store: RunStore,
    delivery_id: str,
    evaluation: Evaluation,
    authenticator: Authenticator,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> Recorded:
    """Store the evaluation's notes as the authenticated author's (audited); ``BadInput`` for an
    unknown delivery or no notes, ``GateRefused`` for a CI account.

    Notes by the lead engineer or the delivery manager also pass the ``evaluation`` gate (a
    decision recorded with them); anyone else's notes are kept, and the gate still waits."""
    delivery = store.get_delivery(delivery_id)
    if delivery is None:
        raise BadInput(f"no delivery {delivery_id} in the run store; `plan` or `run` it first")
    if not evaluation.notes():
        raise BadInput("an evaluation needs at least one note: what went well or could be better")
    author = authenticator.authenticate(evaluation.statement(delivery_id))
    if author.holds("ci"):
        raise GateRefused(f"{author} is a CI account: an evaluation is written by people")
    now = clock()
    notes = [EvaluationNote(delivery_id, kind, text, author.name, now)
             for kind, text in evaluation.notes()]  # fmt: skip
    for note in notes:
        store.add_evaluation_note(note)
    role = _gate_role(author, People(*people_of(delivery), operations_team(delivery.spec)))
    if role is not None:
        comment = f"recorded {len(notes)} evaluation note(s)"
        store.record_decision(GateDecision(
            delivery_id, EVALUATION.name, author.name, role.value, comment, now, "",
            author.method, author.proof,
        ))  # fmt: skip
    store.append_audit(AuditEntry(now, author.name, "evaluation_recorded", delivery_id, None, {
        "went_well": len(evaluation.went_well), "could_be_better": len(evaluation.could_be_better),
        "login": author.person.login, "method": author.method,
    }))  # fmt: skip
    log.info("evaluation_recorded", delivery=delivery_id, by=author.name, notes=len(notes))
    return Recorded(tuple(notes), role.value if role is not None else None)


def _gate_role(author: Approver, people: People) -> Role | None:
    """The role in which ``author`` passes the evaluation gate; ``None`` when they may not."""
    try:
        return check_approver(EVALUATION, author, people)
    except GateRefused:
        return None


def by_kind(notes: Sequence[EvaluationNote]) -> dict[str, list[EvaluationNote]]:
    """The notes grouped by kind, every kind present, in ``KINDS`` order."""
    return {kind: [note for note in notes if note.kind == kind] for kind in KINDS}
