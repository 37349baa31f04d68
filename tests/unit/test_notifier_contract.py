"""What a ``Notifier`` does with a notice: the same assertions hold for ``RecordingNotifier``
(here, standing for an email and a webhook channel) and for ``SmtpNotifier`` and
``WebhookNotifier`` against servers started on loopback
(tests/integration/test_notifier_contract.py).

A world is a channel and what arrived at the other end of it: who it reached, its subject and
its text; the server can be told to refuse the next notice, or to ask to try later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from orchestrator.engine.errors import PermanentError, Refused, ServerError, TransientError
from orchestrator.engine.ports.notifier import Event, Notice, Notifier, Recipient
from orchestrator.testing.notifier import RecordingNotifier

DANA = Recipient("Dana Manager", "dana@hosting.example.com")
ZOE = Recipient("Zoë Müller-Łukasik", "zoe@hosting.example.com")
NOTICE = Notice(
    delivery="contract-café",
    event=Event.WAITING,
    run_id="run-20260101-0900",
    who=(DANA, ZOE),
    needed="Gate preconditions needs confirmation that the quote is signed, from Dana.",
    command="orchestrator approve contract-café preconditions --sign-with KEY --comment TEXT",
    then="orchestrator resume specs/contract.yaml",
    key="0" * 64,
    gate="preconditions",
)


@dataclass(frozen=True)
class Arrived:
    """One notice as it arrived: the addresses it reached, its subject and its text."""

    to: tuple[str, ...]
    subject: str
    text: str


@dataclass(frozen=True)
class World:
    """A channel, what arrived through it, and how to make its server say no or "later"."""

    notifier: Notifier
    arrived: Callable[[], list[Arrived]]
    refuse_next: Callable[[], None]
    defer_next: Callable[[], None]


def send(world: World, to: Recipient | None = DANA) -> None:
    world.notifier.send(NOTICE, to if world.notifier.per_person else None)


def check_a_notice_arrives_with_what_is_needed_and_the_commands(world: World) -> None:
    send(world)
    [arrived] = world.arrived()
    assert arrived.subject == NOTICE.subject
    for part in (NOTICE.needed, NOTICE.command, NOTICE.then, NOTICE.run_id):
        assert part in arrived.text


def check_it_reaches_the_person_or_everyone_it_names(world: World) -> None:
    send(world, ZOE)
    [arrived] = world.arrived()
    expected = (ZOE.email,) if world.notifier.per_person else (DANA.email, ZOE.email)
    assert arrived.to == expected


def check_names_and_text_arrive_as_they_were(world: World) -> None:
    send(world, ZOE)
    [arrived] = world.arrived()
    assert "contract-café" in arrived.subject
    assert "Zoë Müller-Łukasik" in arrived.text


def check_a_refusal_is_permanent_and_nothing_arrives(world: World) -> None:
    world.refuse_next()
    with pytest.raises(PermanentError):
        send(world)
    assert world.arrived() == []


def check_try_later_is_transient_and_the_next_attempt_arrives(world: World) -> None:
    world.defer_next()
    with pytest.raises(TransientError):
        send(world)
    send(world)
    assert len(world.arrived()) == 1


CHECKS = (
    check_a_notice_arrives_with_what_is_needed_and_the_commands,
    check_it_reaches_the_person_or_everyone_it_names,
    check_names_and_text_arrive_as_they_were,
    check_a_refusal_is_permanent_and_nothing_arrives,
    check_try_later_is_transient_and_the_next_attempt_arrives,
)


def recording_world(*, per_person: bool) -> World:
    fake = RecordingNotifier("email" if per_person else "webhook", per_person=per_person)

    def arrived() -> list[Arrived]:
        return [Arrived(to, notice.subject, notice.text())
                for (notice, _to), to in zip(fake.sent, fake.addressed(), strict=True)]  # fmt: skip

    return World(
        fake,
        arrived,
        lambda: fake.faults.append(Refused("550 5.1.1 mailbox unavailable")),
        lambda: fake.faults.append(ServerError("451 4.3.0 try again later")),
    )


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("per_person", [True, False], ids=["email", "webhook"])
def test_the_recording_notifier_keeps_the_contract(
    check: Callable[[World], None], *, per_person: bool
) -> None:
    check(recording_world(per_person=per_person))
