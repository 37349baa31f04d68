"""``run``/``resume`` tell the people who must act once the outcome is recorded, whatever the
channel does; ``orchestrator notifications DELIVERY`` shows what was sent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from orchestrator.cli import notifications as notifications_cli
from orchestrator.cli.runs import RunsWiring, register
from orchestrator.engine import RetryPolicy, Unreachable
from orchestrator.engine.notifying import Notifications
from orchestrator.store import SqlRunStore
from orchestrator.testing import (
    FakeClock,
    FixedComposition,
    fake_runtime,
    make_delivery,
    scripted_phases,
    site_people,
)
from orchestrator.testing.notifier import RecordingNotifier

DELIVERY = make_delivery()
NO_WAIT = RetryPolicy(attempts=2, initial_backoff=0.0, max_backoff=0.0, deadline=5.0)


def app() -> typer.Typer:
    commands = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    register(commands)
    commands.command("notifications")(notifications_cli.notifications)
    return commands


@dataclass
class Terminal:
    state: Path
    email: RecordingNotifier

    def __call__(self, *args: str) -> Result:
        notifications = Notifications((self.email,), tuple(site_people(DELIVERY).values()),
                                      retry=NO_WAIT)  # fmt: skip
        wiring = RunsWiring(
            load_delivery=lambda _path: DELIVERY,
            compose=FixedComposition(scripted_phases()[0], fixed_notifications=notifications),
            runtime=fake_runtime(FakeClock()),
        )
        return CliRunner().invoke(app(), [*args, "--state-dir", str(self.state)], obj=wiring)


@pytest.fixture
def terminal(tmp_path: Path) -> Terminal:
    return Terminal(tmp_path / "state", RecordingNotifier())


def test_a_run_waiting_at_a_gate_emails_whoever_may_approve_it(terminal: Terminal) -> None:
    done = terminal("run", "specs/acme.yaml")
    assert done.exit_code == 3, done.output
    [(notice, to)] = terminal.email.sent
    assert to is not None
    assert to.email == "dana@hosting.example.com"
    assert notice.command == (
        "orchestrator approve acme-webshop preconditions --sign-with KEY --comment TEXT"
    )
    assert notice.then == "orchestrator resume specs/acme.yaml"


def test_a_rerun_at_the_same_gate_sends_nothing_new(terminal: Terminal) -> None:
    terminal("run", "specs/acme.yaml")
    assert terminal("resume", "specs/acme.yaml").exit_code == 3
    assert terminal("run", "specs/acme.yaml").exit_code == 3
    assert len(terminal.email.sent) == 1


def test_a_channel_that_fails_changes_nothing_of_the_run(terminal: Terminal) -> None:
    terminal.email.faults = [Unreachable("SMTP server smtp.example.net:587 could not be reached")]
    terminal.email.faults *= 2
    done = terminal("run", "specs/acme.yaml")
    assert done.exit_code == 3, done.output
    assert "waiting" in done.stdout
    store = SqlRunStore.open(f"sqlite:///{terminal.state / 'runs.db'}")
    [record] = store.list_notifications(DELIVERY.id)
    store.close()
    assert (record.status, record.attempts) == ("failed", 2)
    assert record.error == "Unreachable: SMTP server smtp.example.net:587 could not be reached"


def test_notifications_lists_what_was_sent(terminal: Terminal) -> None:
    terminal("run", "specs/acme.yaml")
    shown = terminal("notifications", DELIVERY.id)
    assert shown.exit_code == 0, shown.output
    for part in ("waiting at", "preconditions", "email", "dana@hosting.example.com", "sent"):
        assert part in shown.stdout
    listed = json.loads(terminal("notifications", DELIVERY.id, "--json").stdout)
    assert [(n["channel"], n["recipient"], n["status"], n["attempts"]) for n in listed] == [
        ("email", "dana@hosting.example.com", "sent", 1)
    ]


def test_notifications_of_a_delivery_never_notified_says_so(terminal: Terminal) -> None:
    silent = Terminal(terminal.state, RecordingNotifier())
    silent("plan", "specs/acme.yaml")  # a plan is recorded, and notifies nobody
    shown = silent("notifications", DELIVERY.id)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() == "acme-webshop: no notifications sent"
    assert silent.email.sent == []


def test_notifications_of_an_unknown_delivery_is_bad_input(terminal: Terminal) -> None:
    terminal("run", "specs/acme.yaml")
    refused = terminal("notifications", "nobody-s-delivery")
    assert refused.exit_code == 2
    assert "no delivery nobody-s-delivery in the run store" in refused.output
