"""A fake of the ``Notifier`` port, for tests; shipped with the package.

    RecordingNotifier   ``Notifier``: keeps what it was given to send (``sent``); ``faults`` are
                        raised by the next sends, in order, ``delay`` seconds each send takes (a
                        slow server); ``per_person`` as the channel it stands for (``email``:
                        yes, ``webhook``: no)

It is held honest by a contract suite that runs the same assertions against ``SmtpNotifier``
and ``WebhookNotifier`` on servers started on loopback (tests/unit/test_notifier_contract.py,
and its twin in tests/integration).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from orchestrator.engine.ports.notifier import Notice, Recipient


@dataclass
class RecordingNotifier:
    """The ``Notifier`` port in memory."""

    channel: str = "email"
    per_person: bool = True
    target: str = "recorded"
    faults: list[Exception] = field(default_factory=list)
    delay: float = 0.0
    sent: list[tuple[Notice, Recipient | None]] = field(default_factory=list)
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, notice: Notice, to: Recipient | None) -> None:
        with self._lock:
            self.calls += 1
            fault = self.faults.pop(0) if self.faults else None
        if self.delay:
            time.sleep(self.delay)
        if fault is not None:
            raise fault
        with self._lock:
            self.sent.append((notice, to))

    def addressed(self) -> list[tuple[str, ...]]:
        """Whom each notice sent reached: the person it was sent to, or everyone it names."""
        return [(to.email,) if to else tuple(p.email for p in n.who) for n, to in self.sent]
