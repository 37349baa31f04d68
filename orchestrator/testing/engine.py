"""The engine's runtime in tests: ``FakeClock`` (a second per reading), ``fake_runtime`` (never
sleeps) and ``EngineBench`` (an in-memory store and a clock shared by the engines of one test)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from orchestrator.engine.engine import Engine
from orchestrator.engine.execution import Runtime
from orchestrator.engine.lock import LockOwner
from orchestrator.engine.observers import RunObserver
from orchestrator.engine.phase import Phase
from orchestrator.engine.retry import NO_RETRY, RetryPolicy
from orchestrator.engine.runners import HostRunner, SerialRunner
from orchestrator.store.records import LockRecord
from orchestrator.testing.deliveries import T0
from orchestrator.testing.store import InMemoryRunStore


class FakeClock:
    """A clock that starts at ``T0`` and moves one second every time it is read."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def fake_runtime(
    clock: FakeClock | None = None,
    *,
    pid: int = 1001,
    alive: Callable[[LockRecord], bool] = lambda _lock: True,
) -> Runtime:
    """A runtime on host ``test-host`` as process ``pid``, with run ids from the clock, no sleep."""
    return Runtime(
        clock=clock or FakeClock(),
        run_id=lambda now: f"run-{now:%H%M%S}",
        owner=LockOwner("test-host", pid),
        holder_alive=alive,
        sleep=lambda _seconds: None,
    )


@dataclass
class EngineBench:
    """An in-memory store and a clock shared by the engines of one test (so run ids differ)."""

    store: InMemoryRunStore = field(default_factory=InMemoryRunStore)
    clock: FakeClock = field(default_factory=FakeClock)

    def engine(  # noqa: PLR0913 - the engine's seams, each optional
        self,
        phases: Sequence[Phase],
        *,
        observers: Sequence[RunObserver] = (),
        retry: RetryPolicy = NO_RETRY,
        runner: HostRunner | None = None,
        pid: int = 1001,
        alive: Callable[[LockRecord], bool] = lambda _lock: True,
    ) -> Engine:
        """An engine on this bench's store and clock, running as process ``pid``."""
        runtime = fake_runtime(self.clock, pid=pid, alive=alive)
        return Engine(
            self.store,
            phases,
            observers=observers,
            retry=retry,
            runner=runner or SerialRunner(),
            runtime=runtime,
        )
