"""Sending a run's notice: once per stop, recorded, retried as the policy says, never in the way
of the run (bounded, and no error of its own escapes)."""

from __future__ import annotations

import time

import pytest
from structlog.testing import capture_logs

from orchestrator.engine import (
    Engine,
    PhaseRange,
    Refused,
    RetryPolicy,
    RunOutcome,
    RunRequest,
    ServerError,
    Status,
    Unreachable,
)
from orchestrator.engine.notifying import Notifications
from orchestrator.engine.ports.notifier import Notifier
from orchestrator.store import NotificationRecord
from orchestrator.testing import (
    EngineBench,
    InMemoryRunStore,
    approve_gates,
    make_delivery,
    scripted_phases,
    site_people,
)
from orchestrator.testing.notifier import RecordingNotifier

DELIVERY = make_delivery()
PEOPLE = tuple(site_people(DELIVERY).values())
SPEC = "specs/acme.yaml"
FAST = RetryPolicy(attempts=3, initial_backoff=0.01, max_backoff=0.01, deadline=5.0)


class Bench:
    """The seven scripted phases on an in-memory store, and the site's two channels."""

    def __init__(self, store: InMemoryRunStore | None = None) -> None:
        self.bench = EngineBench(store or InMemoryRunStore())
        self.phases, self.steps = scripted_phases()
        self.email = RecordingNotifier()
        self.webhook = RecordingNotifier("webhook", per_person=False, target="https://hook/x")
        self.slept: list[float] = []

    def engine(self) -> Engine:
        return self.bench.engine(self.phases)

    def run(self) -> RunOutcome:
        return self.engine().run(RunRequest(DELIVERY, "alice", f"orchestrator run {SPEC}",
                                            PhaseRange(1, 7)))  # fmt: skip

    def resume(self) -> RunOutcome:
        return self.engine().resume(RunRequest(DELIVERY, "alice", f"orchestrator resume {SPEC}"))

    def notifications(self, *channels: Notifier, wait: float = 10.0) -> Notifications:
        return Notifications(channels or (self.email, self.webhook), PEOPLE, retry=FAST,
                             wait=wait, sleep=self.slept.append)  # fmt: skip

    def notify(self, outcome: RunOutcome, *channels: Notifier) -> list[NotificationRecord]:
        return self.notifications(*channels).after_run(self.bench.store, outcome, SPEC)

    def recorded(self) -> list[NotificationRecord]:
        return self.bench.store.list_notifications(DELIVERY.id)


@pytest.fixture
def bench() -> Bench:
    return Bench()


def test_a_wait_is_sent_on_every_channel_and_recorded(bench: Bench) -> None:
    outcome = bench.run()
    assert outcome.run.status is Status.WAITING
    records = bench.notify(outcome)
    assert bench.email.addressed() == [("dana@hosting.example.com",)]
    assert bench.webhook.addressed() == [("dana@hosting.example.com",)]
    assert records == bench.recorded()
    assert [(r.channel, r.recipient, r.status, r.attempts, r.event, r.gate) for r in records] == [
        ("email", "dana@hosting.example.com", "sent", 1, "waiting", "preconditions"),
        ("webhook", "https://hook/x", "sent", 1, "waiting", "preconditions"),
    ]
    assert records[0].command == (
        "orchestrator approve acme-webshop preconditions --sign-with KEY --comment TEXT"
    )
    assert records[0].run_id == outcome.run.id
    assert len(records[0].key) == 64
    assert records[0].key == records[1].key  # one stop, one key, whatever the channel


def test_a_rerun_that_stops_at_the_same_gate_is_not_sent_again(bench: Bench) -> None:
    bench.notify(bench.run())
    again = bench.run()
    with capture_logs() as logs:
        assert bench.notify(again) == []
    assert len(bench.email.sent) == 1
    assert len(bench.webhook.sent) == 1
    assert [e["channel"] for e in logs if e["event"] == "notification_skipped"] == [
        "email",
        "webhook",
    ]


def test_a_new_wait_is_sent_again(bench: Bench) -> None:
    bench.notify(bench.run())
    approve_gates(bench.bench.store, DELIVERY, "preconditions")
    first = bench.resume()
    assert first.gate is not None
    assert first.gate.gate.name == "buddycheck"
    bench.notify(first)
    step = bench.steps["buddycheck.action_items"]
    step.depends_on = {"evidence": "other results"}  # the checks found something else
    second = bench.resume()
    bench.notify(second)
    gates = [(r.channel, r.gate) for r in bench.recorded()]
    assert gates.count(("email", "buddycheck")) == 2
    assert bench.email.addressed()[1:] == [("bob@hosting.example.com",)] * 2


def test_a_failed_run_tells_the_lead_engineer(bench: Bench) -> None:
    approve_gates(bench.bench.store, DELIVERY, "preconditions")
    bench.steps["network.vlan"].outcomes[""] = [Refused("VLAN group lab-vlans is full")]
    outcome = bench.run()
    assert outcome.run.status is Status.FAILED
    bench.notify(outcome, bench.email)
    notice, to = bench.email.sent[0]
    assert to is not None
    assert to.email == "alice@hosting.example.com"
    assert notice.command == f"orchestrator resume {SPEC}"
    assert "VLAN group lab-vlans is full" in notice.text()


def test_a_transient_failure_is_retried_as_the_policy_says(bench: Bench) -> None:
    bench.email.faults = [Unreachable("refused"), ServerError("451 try later")]
    records = bench.notify(bench.run(), bench.email)
    assert [(r.status, r.attempts, r.error) for r in records] == [("sent", 3, None)]
    assert bench.slept == [0.01, 0.01]


def test_a_refusal_is_not_retried_and_is_recorded_as_failed(bench: Bench) -> None:
    bench.email.faults = [Refused("550 no such user")]
    records = bench.notify(bench.run(), bench.email)
    assert [(r.status, r.attempts, r.error) for r in records] == [
        ("failed", 1, "Refused: 550 no such user")
    ]


def test_a_failed_send_is_tried_again_by_the_next_run_at_the_same_stop(bench: Bench) -> None:
    bench.email.faults = [Unreachable("down")] * 3
    bench.notify(bench.run(), bench.email)
    bench.notify(bench.run(), bench.email)
    assert [(r.status, r.attempts) for r in bench.recorded()] == [("failed", 3), ("sent", 1)]


def test_a_slow_channel_does_not_hold_the_run_up(bench: Bench) -> None:
    slow = RecordingNotifier(delay=1.5)
    started = time.monotonic()
    records = bench.notifications(slow, bench.webhook, wait=0.3).after_run(
        bench.bench.store, bench.run(), SPEC
    )
    assert time.monotonic() - started < 1.2
    assert [(r.channel, r.status, r.error) for r in records] == [
        ("email", "failed", "no answer within 0.3 s"),
        ("webhook", "sent", None),
    ]


def test_an_error_of_its_own_never_escapes_to_the_run(bench: Bench) -> None:
    outcome = bench.run()
    bench.email.faults = [RuntimeError("a bug in a channel")]
    records = bench.notify(outcome, bench.email)
    assert [(r.status, r.error) for r in records] == [
        ("failed", "RuntimeError: a bug in a channel")
    ]


class BrokenStore(InMemoryRunStore):
    """A run store that cannot read its notifications."""

    def list_notifications(self, delivery_id: str) -> list[NotificationRecord]:
        raise OSError(f"database gone while reading {delivery_id}")


def test_a_store_that_breaks_never_fails_the_run() -> None:
    bench = Bench(BrokenStore())
    outcome = bench.run()
    with capture_logs() as logs:
        assert bench.notify(outcome) == []
    assert [e["error"] for e in logs if e["event"] == "notifications_crashed"] == [
        "OSError: database gone while reading acme-webshop"
    ]


def test_a_site_without_channels_sends_and_records_nothing(bench: Bench) -> None:
    assert Notifications().after_run(bench.bench.store, bench.run(), SPEC) == []
    assert bench.recorded() == []


def test_a_run_that_succeeds_is_not_notified(bench: Bench) -> None:
    approve_gates(bench.bench.store, DELIVERY, "preconditions")
    request = RunRequest(DELIVERY, "alice", f"orchestrator run {SPEC}", PhaseRange(1, 1))
    outcome = bench.engine().run(request)
    assert outcome.run.status is Status.SUCCEEDED
    assert bench.notify(outcome) == []
    assert bench.email.sent == []


def test_a_stop_nobody_can_be_told_of_is_logged(bench: Bench) -> None:
    approve_gates(bench.bench.store, DELIVERY, "preconditions")
    outcome = bench.run()
    assert outcome.gate is not None
    assert outcome.gate.gate.name == "buddycheck"
    lead_only = tuple(p for p in PEOPLE if p.email == DELIVERY.lead_engineer.email)
    with capture_logs() as logs:
        records = Notifications((bench.email,), lead_only).after_run(
            bench.bench.store, outcome, SPEC
        )
    assert records == []
    assert bench.email.sent == []
    [warning] = [e for e in logs if e["event"] == "notification_unaddressed"]
    assert warning["gate"] == "buddycheck"
