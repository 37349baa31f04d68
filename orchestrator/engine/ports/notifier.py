"""The ``Notifier`` port: tells the people who must act that a run stopped for them.

    Notifier.send(notice, to)       one notice, to one person (``per_person``) or to all at once

A run that waits at a gate, fails or crashes ends in a ``Notice``: the delivery, what is needed,
who may give it, and the exact command to act. ``orchestrator.engine.notifications`` decides who
is told and what it says (pure), and sends it through each channel the site names, retrying
transient errors (``RetryPolicy``) and recording each send in the run store.

Adapters: ``SmtpNotifier`` (``orchestrator.adapters.smtp``: one email per person, through the
site's SMTP server), ``WebhookNotifier`` (``orchestrator.adapters.webhook``: one JSON ``POST``
naming everyone) and ``RecordingNotifier`` (``orchestrator.testing.notifier``), held to one
contract (tests/unit/test_notifier_contract.py, and against loopback servers in
tests/integration). Errors: ``TransientError`` subclasses when the server could not be reached or
answered "try later" (retried), ``Refused`` when it said no (never retried). No error names a
secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from orchestrator.store.records import Json


class Event(StrEnum):
    """Why a run's people are told: it waits at a gate, failed (the target said no) or crashed
    (our side broke)."""

    WAITING = "waiting"
    FAILED = "failed"
    CRASHED = "crashed"


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone who must act: a name and the address mail reaches them at."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True, slots=True)
class Notice:
    """What the people who must act are told about one run's stop.

    ``needed`` says what is needed and from whom, ``command`` is the exact command that acts on
    it and ``then`` the one that continues the delivery afterwards (empty when ``command`` does),
    ``viewer`` the delivery's page in the run viewer when the site has one. ``key`` is the
    same for the same stop (a re-run waiting at the same gate on the same evidence): a notice
    already sent under it is not sent again."""

    delivery: str
    event: Event
    run_id: str
    who: tuple[Recipient, ...]
    needed: str
    command: str
    key: str
    then: str = ""
    gate: str | None = None
    reason: str = ""
    viewer: str | None = None

    @property
    def subject(self) -> str:
        """A one-line summary: the subject of an email."""
        if self.event is Event.WAITING:
            return f"{self.delivery} waits at gate {self.gate}: your decision is needed"
        return f"{self.delivery}: run {self.run_id} {self.event.value}, the cause needs fixing"

    def text(self) -> str:
        """The whole message, as plain text."""
        lines = [self.subject, "", self.needed, ""]
        if self.reason:
            lines += [f"The run says: {self.reason}", ""]
        lines += ["To act:", f"    {self.command}"]
        lines += ["Then:", f"    {self.then}", ""] if self.then else [""]
        if self.viewer:
            lines += [f"The delivery in the run viewer: {self.viewer}", ""]
        lines += [
            f"Delivery {self.delivery}, run {self.run_id}.",
            f"Sent to: {', '.join(str(person) for person in self.who)}.",
        ]
        return "\n".join(lines) + "\n"

    def payload(self) -> dict[str, Json]:
        """The notice as JSON (a webhook's body)."""
        return {
            "delivery": self.delivery,
            "event": self.event.value,
            "gate": self.gate,
            "run_id": self.run_id,
            "who": [{"name": person.name, "email": person.email} for person in self.who],
            "needed": self.needed,
            "command": self.command,
            "then": self.then,
            "reason": self.reason,
            "viewer": self.viewer,
            "subject": self.subject,
            "text": self.text(),
        }


class Notifier(Protocol):
    """A channel that reaches people: ``channel`` names it in the records (``email``,
    ``webhook``), ``target`` says where it sends (no secret in it), and ``per_person`` whether a
    notice is sent once per person or once for all."""

    @property
    def channel(self) -> str: ...

    @property
    def target(self) -> str: ...

    @property
    def per_person(self) -> bool: ...

    def send(self, notice: Notice, to: Recipient | None) -> None:
        """Send ``notice`` to ``to`` (``None`` when not ``per_person``: to everyone it names)."""
        ...
