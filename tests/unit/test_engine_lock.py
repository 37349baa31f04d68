"""One run per delivery: the lock names its holder, is audited when broken, and holds across
processes (two real processes sharing a SQLite file)."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from dataclasses import dataclass, replace
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from orchestrator.engine import (
    Engine,
    LockOwner,
    Phase,
    PhaseRange,
    Result,
    RunLocked,
    RunRequest,
    Status,
    StepContext,
)
from orchestrator.engine.lock import holder_alive
from orchestrator.store import LockRecord, SqlRunStore
from orchestrator.testing import T0, EngineBench, ScriptedStep, make_delivery

DELIVERY = make_delivery()
REQUEST = RunRequest(DELIVERY, "alice", phases=PhaseRange(1, 1))
PHASES = (Phase(1, "p1", "One", (ScriptedStep("p1.a"),)),)


def held_by(pid: int, host: str = "test-host") -> LockRecord:
    return LockRecord(DELIVERY.id, "run-elsewhere", "carol", host, pid, T0)


def test_a_second_run_is_refused_and_told_who_holds_the_lock() -> None:
    bench = EngineBench()
    bench.store.acquire_lock(held_by(4242))
    with pytest.raises(RunLocked) as refused:
        bench.engine(PHASES).run(REQUEST)
    assert str(refused.value) == (
        "delivery acme-webshop is locked by carol on test-host (pid 4242, run run-elsewhere) "
        "since 2025-01-10 09:00:00 UTC"
    )
    assert refused.value.lock == held_by(4242)
    assert bench.store.list_runs() == []
    assert bench.store.get_lock(DELIVERY.id) == held_by(4242)


def test_breaking_the_lock_is_audited_with_the_holder_it_replaced() -> None:
    bench = EngineBench()
    bench.store.acquire_lock(held_by(4242))
    outcome = bench.engine(PHASES).run(replace(REQUEST, break_lock=True))
    assert outcome.run.status is Status.SUCCEEDED
    broken = [e for e in bench.store.list_audit(DELIVERY.id) if e.action == "lock_broken"]
    assert [(e.who, e.run_id) for e in broken] == [("alice", outcome.run.id)]
    assert broken[0].detail["holder"] == "carol"
    assert broken[0].detail["pid"] == "4242"


def test_a_lock_whose_process_is_gone_is_taken_over() -> None:
    bench = EngineBench()
    bench.store.acquire_lock(held_by(4242))
    outcome = bench.engine(PHASES, alive=lambda lock: lock.pid != 4242).run(REQUEST)
    assert outcome.run.status is Status.SUCCEEDED
    actions = [e.action for e in bench.store.list_audit(DELIVERY.id)]
    assert "lock_taken_over" in actions


@pytest.mark.parametrize("outcome", [Result(), Result(Status.FAILED, error="no")])
def test_the_lock_is_released_however_the_run_ends(outcome: Result) -> None:
    bench = EngineBench()
    phases = (Phase(1, "p1", "One", (ScriptedStep("p1.a", outcomes={"": [outcome]}),)),)
    bench.engine(phases).run(REQUEST)
    assert bench.store.get_lock(DELIVERY.id) is None


class BrokenObserver:
    def run_started(self, *_args: object, **_kw: object) -> None:
        raise OSError("disk full")


def test_the_lock_is_released_when_the_run_cannot_even_start() -> None:
    bench = EngineBench()
    engine = bench.engine(PHASES, observers=[BrokenObserver()])  # type: ignore[list-item]
    with pytest.raises(OSError, match="disk full"):
        engine.run(REQUEST)
    assert bench.store.get_lock(DELIVERY.id) is None


def test_only_processes_on_this_machine_can_be_found_dead() -> None:
    here = LockOwner.here()
    dead_pid = _pid_of_finished_process()
    assert holder_alive(held_by(here.pid, here.host))
    assert not holder_alive(held_by(dead_pid, here.host))
    assert holder_alive(held_by(dead_pid, "another-machine"))


def _pid_of_finished_process() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# two real processes


@dataclass(eq=False)
class BlockingStep(ScriptedStep):
    """Says it started, then waits to be released."""

    started: Event | None = None
    release: Event | None = None

    def apply(self, ctx: StepContext) -> Result:
        assert self.started is not None
        assert self.release is not None
        self.started.set()
        self.release.wait(30)
        return super().apply(ctx)


def run_on(url: str, phases: tuple[Phase, ...], who: str) -> Status:
    store = SqlRunStore.open(url)
    try:
        return Engine(store, phases).run(replace(REQUEST, who=who)).run.status
    finally:
        store.close()


def hold_the_lock(url: str, started: Event, release: Event) -> None:
    """The first process: runs a delivery whose step waits until released."""
    step = BlockingStep("p1.a", started=started, release=release)
    status = run_on(url, (Phase(1, "p1", "One", (step,)),), "first")
    sys.exit(0 if status is Status.SUCCEEDED else 1)


def test_a_run_in_another_process_holds_the_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    spawn = multiprocessing.get_context("spawn")
    started, release = spawn.Event(), spawn.Event()
    first = spawn.Process(target=hold_the_lock, args=(url, started, release))
    first.start()
    try:
        assert started.wait(60), "the first process never started its step"
        with pytest.raises(RunLocked) as refused:
            run_on(url, PHASES, "second")
        assert (refused.value.lock.holder, refused.value.lock.pid) == ("first", first.pid)
        assert f"locked by first on {LockOwner.here().host} (pid {first.pid}" in str(refused.value)
    finally:
        release.set()
        first.join(60)
    assert first.exitcode == 0
    assert run_on(url, PHASES, "second") is Status.SUCCEEDED
