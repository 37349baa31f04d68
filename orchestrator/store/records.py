"""What the run store keeps: one frozen dataclass per record.

Times are timezone-aware UTC. ``Json`` values are what ``json.dumps`` writes; sequences come back
as lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from orchestrator.store.status import Mode, Status

type Json = bool | int | float | str | Sequence[Json] | Mapping[str, Json] | None
type JsonMap = Mapping[str, Json]
#: What a delivery's shared state holds: generated secrets by name, host keys by address.
type StateKind = Literal["secret", "pin"]
#: How a notification went: delivered to the server that takes it, or given up on.
type SendStatus = Literal["sent", "failed"]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery as last run: the spec it was run with and the people responsible.

    People are named as in the spec; the email, when known, identifies them at gates too.
    """

    id: str
    spec_hash: str
    spec: JsonMap
    lead_engineer: str
    delivery_manager: str
    updated_at: datetime
    lead_engineer_email: str = ""
    delivery_manager_email: str = ""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One ``plan``, ``run`` or resumed run of a delivery."""

    id: str
    delivery_id: str
    mode: Mode
    status: Status
    who: str
    host: str
    command: str
    version: str
    spec_hash: str
    from_phase: int
    through_phase: int
    started_at: datetime
    finished_at: datetime | None = None
    reason: str | None = None
    #: The process carrying the run out, on ``host`` (None: recorded before runs kept it).
    pid: int | None = None


@dataclass(frozen=True, slots=True)
class PhaseRecord:
    """One phase within a run."""

    run_id: str
    number: int
    name: str
    status: Status
    started_at: datetime
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step within a run: the checkpoint that lets a re-run skip it."""

    run_id: str
    phase: int
    key: str
    status: Status
    input_hash: str
    started_at: datetime
    finished_at: datetime | None = None
    outputs: JsonMap = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One task run on a host (condensed from playbook events).

    ``duration`` is how long the task took on that host, in seconds; ``None`` when unknown (a task
    recorded before durations were kept, or one whose events carried none)."""

    name: str
    status: Status
    changed: bool = False
    detail: str = ""
    duration: float | None = None


@dataclass(frozen=True, slots=True)
class HostRecord:
    """What one step did on one host."""

    run_id: str
    step_key: str
    host: str
    status: Status
    input_hash: str
    started_at: datetime
    finished_at: datetime
    changed: bool = False
    outputs: JsonMap = field(default_factory=dict)
    error: str | None = None
    tasks: tuple[TaskRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class GateDecision:
    """A person's approval of a gate: who (as authenticated), in which role, and what they saw.

    ``evidence`` is the hash of what the approval signs (the buddycheck's results; empty for a gate
    without evidence): new evidence makes the approval stale. ``method`` says how the approver was
    authenticated (``login``, ``ssh-signature``) and ``proof`` what shows it (the OS account, or
    the SSH signature over the approval, which anyone can verify again later)."""

    delivery_id: str
    gate: str
    by: str
    role: str
    comment: str
    decided_at: datetime
    evidence: str = ""
    method: str = ""
    proof: str = ""


@dataclass(frozen=True, slots=True)
class ActionItem:
    """Something the buddycheck found that must be fixed before handover: the check that failed
    on which host, what it expected and what it found; who opened it and who closed it, how."""

    delivery_id: str
    title: str
    opened_by: str
    opened_at: datetime
    step_key: str | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    resolution: str | None = None
    id: int | None = None
    host: str | None = None
    check: str | None = None
    expected: str | None = None
    found: str | None = None

    @property
    def open(self) -> bool:
        """Whether the item still blocks the handover."""
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class EvaluationNote:
    """What went well or could be better, recorded at go-live."""

    delivery_id: str
    kind: str
    text: str
    by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CheckIn:
    """A check-in during a long wait at a gate (a migration by the customer): who asked how it
    goes, when, and what they heard; ``method`` says how they were authenticated."""

    delivery_id: str
    gate: str
    by: str
    comment: str
    at: datetime
    method: str = ""


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """One notification of one run's stop through one channel to one recipient: whether it was
    sent, after how many attempts, and why not. ``key`` is the notice's dedupe key: a stop
    already notified under it is not notified again."""

    delivery_id: str
    run_id: str
    event: str
    channel: str
    recipient: str
    key: str
    status: SendStatus
    attempts: int
    subject: str
    command: str
    at: datetime
    gate: str | None = None
    error: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the append-only audit log: who did what, when."""

    at: datetime
    who: str
    action: str
    delivery_id: str | None = None
    run_id: str | None = None
    detail: JsonMap = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class LockRecord:
    """The lock that lets one run at a time work on a delivery."""

    delivery_id: str
    run_id: str
    holder: str
    host: str
    pid: int
    since: datetime
