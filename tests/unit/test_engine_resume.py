"""Resuming: after a crash before or after any step, after a failure, after an interruption."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from types import FrameType

import pytest

from orchestrator.engine import (
    BadInput,
    Phase,
    PhaseRange,
    Refused,
    Result,
    RunLocked,
    RunRequest,
    Status,
    StepContext,
    stop_on_signals,
)
from orchestrator.engine.interrupts import SIGNALS, Disposition, RunInterrupted
from orchestrator.store import LockRecord
from orchestrator.testing import (
    CrashingObserver,
    EngineBench,
    ScriptedStep,
    SimulatedCrash,
    make_delivery,
)

DELIVERY = make_delivery()
REQUEST = RunRequest(DELIVERY, "alice", "orchestrator run acme.yaml", PhaseRange(1, 2))
HOSTS = ("web-01", "web-02")
CRASHED_PID, RESUMING_PID = 1001, 1002


def catalogue() -> tuple[tuple[Phase, ...], dict[str, ScriptedStep]]:
    steps = {
        "p1.a": ScriptedStep("p1.a"),
        "p1.b": ScriptedStep("p1.b", host_names=HOSTS, uses=("p1.a",)),
        "p2.c": ScriptedStep("p2.c", uses=("p1.a", "p1.b")),
    }
    phases = (
        Phase(1, "p1", "One", (steps["p1.a"], steps["p1.b"])),
        Phase(2, "p2", "Two", (steps["p2.c"],)),
    )
    return phases, steps


def crashed_process_is_gone(lock: LockRecord) -> bool:
    return lock.pid != CRASHED_PID


def targets(step: ScriptedStep) -> list[str]:
    return list(step.host_names) or [""]


CRASH_POINTS = [
    ("step_started", "recorded as running, nothing done"),
    ("before", "inside apply, before its effect"),
    ("after", "inside apply, after its effect, not yet recorded"),
    ("step_finished", "recorded as done"),
]


@pytest.mark.parametrize("key", ["p1.a", "p1.b", "p2.c"])
@pytest.mark.parametrize(("point", "_meaning"), CRASH_POINTS)
def test_resume_after_a_crash_finishes_the_run_and_redoes_only_unrecorded_work(
    key: str, point: str, _meaning: str
) -> None:
    bench = EngineBench()
    phases, steps = catalogue()
    observers = []
    if point in {"before", "after"}:
        steps[key].crashes.append(point)  # type: ignore[arg-type]
    else:
        observers.append(CrashingObserver(point, key))

    with pytest.raises(SimulatedCrash):
        bench.engine(phases, observers=observers, pid=CRASHED_PID).run(REQUEST)
    [crashed] = bench.store.list_runs()
    assert crashed.status is Status.RUNNING
    assert bench.store.get_lock(DELIVERY.id) is not None

    resumer = bench.engine(phases, pid=RESUMING_PID, alive=crashed_process_is_gone)
    outcome = resumer.resume(replace(REQUEST, who="bob"))

    assert (outcome.run.id, outcome.run.status, outcome.run.who) == (
        crashed.id,
        Status.SUCCEEDED,
        "bob",
    )
    for name, step in steps.items():
        redone = [targets(step)[0]] if (name, point) == (key, "after") else []
        assert sorted(step.applied) == sorted(targets(step) + redone), name
    assert {s.key: s.status for s in bench.store.list_steps(crashed.id)} == dict.fromkeys(
        steps, Status.SUCCEEDED
    )
    assert bench.store.get_lock(DELIVERY.id) is None
    actions = [entry.action for entry in bench.store.list_audit(DELIVERY.id)]
    # settling the killed run removed its dead lock (the abandoned entry names the process)
    assert actions == ["run_started", "run_abandoned", "run_resumed", "run_finished"]


def test_a_crashed_run_whose_process_still_lives_is_not_resumed() -> None:
    bench = EngineBench()
    phases, steps = catalogue()
    steps["p1.b"].crashes.append("before")
    with pytest.raises(SimulatedCrash):
        bench.engine(phases, pid=CRASHED_PID).run(REQUEST)
    with pytest.raises(RunLocked, match=f"pid {CRASHED_PID}"):
        bench.engine(phases, pid=RESUMING_PID).resume(REQUEST)


def test_resume_continues_a_failed_run_from_the_failed_step() -> None:
    bench = EngineBench()
    phases, steps = catalogue()
    steps["p1.b"].outcomes["web-02"] = [Refused("disk full")]
    failed = bench.engine(phases).run(REQUEST)
    assert failed.run.status is Status.FAILED
    resumed = bench.engine(phases).resume(REQUEST)
    assert (resumed.run.id, resumed.run.status) == (failed.run.id, Status.SUCCEEDED)
    assert steps["p1.a"].applied == [""]
    assert steps["p1.b"].applied == ["web-01", "web-02"]
    assert steps["p2.c"].applied == [""]


@dataclass(eq=False)
class SignalledStep(ScriptedStep):
    """Receives stop signals while it works, the first time it runs; a handler that raises does
    so from inside ``raise_signal``, as it would from wherever the step was."""

    signal_numbers: tuple[int, ...] = (signal.SIGTERM,)

    def apply(self, ctx: StepContext) -> Result:
        if self.attempts == 0:
            self.attempts += 1
            for number in self.signal_numbers:
                signal.raise_signal(number)
        return super().apply(ctx)


@dataclass
class CustomHandler:
    """A handler some caller installed before the run; remembers the signals it got."""

    received: list[int] = field(default_factory=list)

    def __call__(self, number: int, _frame: FrameType | None) -> None:
        self.received.append(number)


@pytest.fixture
def dispositions() -> Iterator[None]:
    """Whatever a test sets for SIGINT and SIGTERM, the dispositions pytest started with after."""
    found = {number: signal.getsignal(number) for number in SIGNALS}
    yield
    for number, handler in found.items():
        signal.signal(number, handler)


def python_default(number: int) -> Disposition:
    """What Python itself installs: ``default_int_handler`` for SIGINT (KeyboardInterrupt)."""
    return signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL


STARTING: dict[str, Callable[[int], Disposition]] = {
    "default": python_default,
    "ignored": lambda _number: signal.SIG_IGN,
    "custom": lambda _number: CustomHandler(),
}


@pytest.mark.usefixtures("dispositions")
@pytest.mark.parametrize("starting", STARTING)
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_stop_signal_records_the_step_as_interrupted_and_resume_continues(
    signal_number: int, starting: str
) -> None:
    """Set here, not inherited: a background job starts with SIGINT ignored, a terminal does not.
    An ignored signal stays ignored (the run goes on); otherwise the run stops and resumes. Either
    way the signal ends with the very disposition it started with."""
    found = STARTING[starting](signal_number)
    signal.signal(signal_number, found)
    bench = EngineBench()
    phases, steps = catalogue()
    stopped = SignalledStep("p1.b", host_names=HOSTS, signal_numbers=(signal_number,))
    phases = (replace(phases[0], entries=(steps["p1.a"], stopped)), phases[1])
    name = signal.Signals(signal_number).name

    with stop_on_signals():
        outcome = bench.engine(phases).run(REQUEST)

    assert signal.getsignal(signal_number) is found
    assert getattr(found, "received", []) == []
    if found is signal.SIG_IGN:
        assert outcome.run.status is Status.SUCCEEDED
        assert stopped.applied == ["web-01", "web-02"]
        return
    assert outcome.run.status is Status.CRASHED
    assert outcome.exit_code == 5
    assert outcome.run.reason == f"interrupted by {name}; resume continues"
    step = {s.key: s for s in bench.store.list_steps(outcome.run.id)}["p1.b"]
    assert (step.status, step.error) == (Status.CRASHED, f"interrupted by {name}")
    assert bench.store.get_lock(DELIVERY.id) is None

    resumed = bench.engine(phases).resume(REQUEST)
    assert resumed.run.status is Status.SUCCEEDED
    assert stopped.applied == ["web-01", "web-02"]


@pytest.mark.usefixtures("dispositions")
def test_a_run_started_in_the_background_ignores_ctrl_c_and_stops_on_sigterm() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    bench = EngineBench()
    phases, steps = catalogue()
    stopped = SignalledStep("p1.b", host_names=HOSTS, signal_numbers=SIGNALS)
    phases = (replace(phases[0], entries=(steps["p1.a"], stopped)), phases[1])

    with stop_on_signals():
        outcome = bench.engine(phases).run(REQUEST)

    assert outcome.run.reason == "interrupted by SIGTERM; resume continues"
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


DISPOSITIONS: dict[str, Callable[[int], Disposition]] = {
    "SIG_DFL": lambda _number: signal.SIG_DFL,
    "SIG_IGN": lambda _number: signal.SIG_IGN,
    "default_int_handler": lambda _number: signal.default_int_handler,
    "custom": lambda _number: CustomHandler(),
}


@pytest.mark.usefixtures("dispositions")
@pytest.mark.parametrize("interrupted", [False, True], ids=["finished", "interrupted"])
@pytest.mark.parametrize("starting", DISPOSITIONS)
@pytest.mark.parametrize("signal_number", SIGNALS, ids=["INT", "TERM"])
def test_stop_on_signals_puts_back_exactly_the_disposition_it_found(
    signal_number: int, starting: str, *, interrupted: bool
) -> None:
    found = DISPOSITIONS[starting](signal_number)
    signal.signal(signal_number, found)
    with contextlib.suppress(RunInterrupted), stop_on_signals():
        inside = signal.getsignal(signal_number)
        if interrupted:
            signal.raise_signal(signal_number)
    assert (inside is found) == (found is signal.SIG_IGN)
    assert signal.getsignal(signal_number) is found
    assert getattr(found, "received", []) == []


def test_there_is_nothing_to_resume_without_a_run() -> None:
    phases, _steps = catalogue()
    with pytest.raises(BadInput, match="has no run to resume"):
        EngineBench().engine(phases).resume(REQUEST)


def test_a_run_that_succeeded_is_not_resumed() -> None:
    bench = EngineBench()
    phases, _steps = catalogue()
    done = bench.engine(phases).run(REQUEST)
    with pytest.raises(BadInput, match=f"run {done.run.id} succeeded; nothing to resume"):
        bench.engine(phases).resume(REQUEST)


def test_only_the_latest_run_is_resumed() -> None:
    bench = EngineBench()
    phases, steps = catalogue()
    steps["p1.a"].outcomes[""] = [Refused("no"), Refused("no")]
    first = bench.engine(phases).run(REQUEST)
    second = bench.engine(phases).run(REQUEST)
    with pytest.raises(
        BadInput, match=f"not the latest run of acme-webshop; that is {second.run.id}"
    ):
        bench.engine(phases).resume(REQUEST, first.run.id)
    with pytest.raises(BadInput, match="has no run nonsense"):
        bench.engine(phases).resume(REQUEST, "nonsense")


def test_a_run_is_not_resumed_with_a_changed_spec() -> None:
    bench = EngineBench()
    phases, steps = catalogue()
    steps["p1.a"].outcomes[""] = [Refused("no")]
    bench.engine(phases).run(REQUEST)
    changed = replace(REQUEST, delivery=make_delivery(spec_hash="spec-2"))
    with pytest.raises(BadInput, match="the spec changed since run"):
        bench.engine(phases).resume(changed)
