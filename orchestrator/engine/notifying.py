"""Sending a run's notice through the site's channels: retried, recorded, never in the way.

    Notifications(channels, people, viewer=..., retry=..., wait=...)
        .after_run(store, outcome, spec) -> list[NotificationRecord]

Called once a run's outcome is recorded. Each channel (``Notifier``) gets the notice in a thread
of its own, once per person or once for all; transient errors are retried by ``retry`` (a
``RetryPolicy``: data, not loops), and the caller waits ``wait`` seconds at most: a send still
going then is recorded as failed and left to finish on its own. Each send is recorded in the run
store (``sent`` or ``failed``, with its attempts), and a send already made under the notice's key
(``notifications.dedupe_key``) is not made again. Nothing here fails the run: an error of its
own is logged (``notifications_crashed``) and the run's outcome stands.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from orchestrator.engine.approvals import evidence_now
from orchestrator.engine.engine import RunOutcome
from orchestrator.engine.execution import utc_now
from orchestrator.engine.notifications import event_of, notice_of
from orchestrator.engine.ports.identity import KnownPerson
from orchestrator.engine.ports.notifier import Notice, Notifier, Recipient
from orchestrator.engine.retry import RetryPolicy
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import NotificationRecord, SendStatus

log = structlog.get_logger("orchestrator.notifications")

#: How a failed send is retried: three attempts within 20 s, whatever the channel.
NOTIFY_RETRY = RetryPolicy(attempts=3, initial_backoff=1.0, max_backoff=5.0, deadline=20.0)
#: How long a run waits for its notifications at most, in seconds.
NOTIFY_WAIT = 30.0


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One send: a channel, and the person it goes to (``None``: everyone, at ``recipient``)."""

    notifier: Notifier
    to: Recipient | None

    @property
    def recipient(self) -> str:
        """Who it reaches, as the record names it: an address, or the channel's target."""
        return self.to.email if self.to is not None else self.notifier.target


@dataclass(slots=True)
class Attempted:
    """What became of a dispatch: filled in by its thread."""

    attempts: int = 0
    status: SendStatus | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Notifications:
    """The site's channels and people, and how hard to try; no channels sends nothing."""

    channels: tuple[Notifier, ...] = ()
    people: tuple[KnownPerson, ...] = ()
    viewer: str | None = None  # the run viewer's page of a delivery: ``{delivery}``, ``{run}``
    retry: RetryPolicy = NOTIFY_RETRY
    wait: float = NOTIFY_WAIT
    clock: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = field(default=time.sleep)

    def after_run(
        self, store: RunStore, outcome: RunOutcome, spec: str | None = None
    ) -> list[NotificationRecord]:
        """Tell the people who must act about ``outcome``'s stop; what was recorded."""
        if not self.channels:
            return []
        try:
            notice = self.notice(store, outcome, spec)
            if notice is None:
                _unaddressed(outcome)
                return []
            return self.send(store, notice)
        except Exception as exc:  # a notification never fails the run: logged, not raised
            log.exception("notifications_crashed", error=f"{type(exc).__name__}: {exc}")
            return []

    def notice(self, store: RunStore, outcome: RunOutcome, spec: str | None) -> Notice | None:
        """The notice of ``outcome``'s stop, if it stopped for someone."""
        run = outcome.run
        record = store.get_delivery(run.delivery_id)
        if record is None:
            return None
        gate = outcome.gate
        evidence = evidence_now(store, run.delivery_id, gate.gate) if gate is not None else ""
        return notice_of(run, gate, record, self.people, spec=spec, evidence=evidence,
                         viewer=self.viewer)  # fmt: skip

    def send(self, store: RunStore, notice: Notice) -> list[NotificationRecord]:
        """Send ``notice`` on every channel it was not sent on yet; each send recorded."""
        done = _sent_before(store, notice)
        dispatches = []
        for dispatch in self._dispatches(notice):
            if (dispatch.notifier.channel, dispatch.recipient) not in done:
                dispatches.append(dispatch)
                continue
            log.info("notification_skipped", channel=dispatch.notifier.channel,
                     recipient=dispatch.recipient, why="sent before for this stop")  # fmt: skip
        outcomes = self._run_all(notice, dispatches)
        return [store.add_notification(self._record(notice, d, a))
                for d, a in zip(dispatches, outcomes, strict=True)]  # fmt: skip

    def _dispatches(self, notice: Notice) -> list[Dispatch]:
        return [Dispatch(n, to) for n in self.channels
                for to in (notice.who if n.per_person else (None,))]  # fmt: skip

    def _run_all(self, notice: Notice, dispatches: Sequence[Dispatch]) -> list[Attempted]:
        """Each dispatch in a thread of its own; at most ``wait`` seconds for all of them."""
        attempted = [Attempted() for _ in dispatches]
        threads = [threading.Thread(target=self._attempt, args=(notice, d, a), daemon=True,
                                    name=f"notify-{d.notifier.channel}")
                   for d, a in zip(dispatches, attempted, strict=True)]  # fmt: skip
        for thread in threads:
            thread.start()
        until = time.monotonic() + self.wait
        for thread in threads:
            thread.join(max(0.0, until - time.monotonic()))
        for attempt in attempted:
            if attempt.status is None:
                attempt.status, attempt.error = "failed", f"no answer within {self.wait:g} s"
        return attempted

    def _attempt(self, notice: Notice, dispatch: Dispatch, attempted: Attempted) -> None:
        def once() -> None:
            attempted.attempts += 1
            dispatch.notifier.send(notice, dispatch.to)

        where = {"channel": dispatch.notifier.channel, "recipient": dispatch.recipient}
        try:
            self.retry.call(once, self.sleep)
        except Exception as exc:  # noqa: BLE001 - any failure to send is recorded, never raised
            attempted.error = f"{type(exc).__name__}: {exc}"
            attempted.status = "failed"
            log.warning("notification_failed", **where, attempts=attempted.attempts,
                        error=attempted.error)  # fmt: skip
            return
        attempted.status = "sent"
        log.info("notification_sent", **where, attempts=attempted.attempts)

    def _record(
        self, notice: Notice, dispatch: Dispatch, attempted: Attempted
    ) -> NotificationRecord:
        return NotificationRecord(
            notice.delivery, notice.run_id, notice.event.value, dispatch.notifier.channel,
            dispatch.recipient, notice.key, attempted.status or "failed", attempted.attempts,
            notice.subject, notice.command, self.clock(), notice.gate, attempted.error,
        )  # fmt: skip


def _unaddressed(outcome: RunOutcome) -> None:
    """Say so when a run stopped for someone and nobody could be told."""
    if event_of(outcome.run) is not None:
        gate = outcome.gate.gate.name if outcome.gate is not None else None
        why = "nobody who must act has an email address in the spec or the site"
        log.warning("notification_unaddressed", status=str(outcome.run.status), gate=gate,
                    why=why)  # fmt: skip


def _sent_before(store: RunStore, notice: Notice) -> set[tuple[str, str]]:
    """The channels and recipients ``notice``'s stop was sent to already."""
    return {(r.channel, r.recipient) for r in store.list_notifications(notice.delivery)
            if r.key == notice.key and r.status == "sent"}  # fmt: skip
