"""A run whose process is gone is recorded crashed and its log cut; a normal end is marked.

The store's side (``orchestrator.engine.abandoned``) on the in-memory store, and what the command
line shows: ``logs`` ends with ``log_ended`` or ``log_cut``, ``show`` says the run crashed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

from orchestrator.cli.runs import RunsWiring
from orchestrator.engine import Engine, Mode, RunOutcome, RunRequest, Status
from orchestrator.engine.abandoned import LOG_CUT, LOG_ENDED, abandoned_runs, settle_abandoned
from orchestrator.engine.notifying import Notifications
from orchestrator.store import (
    LockRecord,
    PhaseRecord,
    RunRecord,
    RunStore,
    StepRecord,
    StoreLocation,
)
from orchestrator.testing import (
    T0,
    FakeClock,
    FixedComposition,
    InMemoryRunStore,
    SimulatedCrash,
    fake_runtime,
    make_delivery,
    scripted_phases,
)
from tests.unit.test_cli_runs import app

DELIVERY = make_delivery()
RUN = RunRecord(
    "run-killed", DELIVERY.id, Mode.APPLY, Status.RUNNING, "alice", "laptop", "orchestrator run",
    "0.1.0", "h", 1, 3, T0,
)  # fmt: skip
LOCK = LockRecord(DELIVERY.id, RUN.id, "alice", "laptop", 4242, T0)


def killed_in_a_step(store: InMemoryRunStore, *, lock: LockRecord | None = LOCK) -> None:
    """What a run killed in ``network.addresses`` leaves: run, phase and step ``running``."""
    store.save_delivery(DELIVERY.record(T0))
    store.save_run(RUN)
    store.save_phase(PhaseRecord(RUN.id, 1, "network", Status.RUNNING, T0))
    store.save_step(StepRecord(RUN.id, 1, "network.vlan", Status.SUCCEEDED, "a", T0, T0))
    store.save_step(StepRecord(RUN.id, 1, "network.addresses", Status.RUNNING, "b", T0))
    store.append_log_lines(RUN.id, ['{"event": "step_started", "step": "network.addresses"}'])
    if lock is not None:
        store.acquire_lock(lock)


def test_a_running_run_whose_lock_holder_is_gone_is_settled_crashed() -> None:
    store = InMemoryRunStore()
    killed_in_a_step(store)
    [cut] = settle_abandoned(store, DELIVERY.id, alive=lambda _lock: False, clock=FakeClock())
    run = store.get_run(RUN.id)
    assert run is not None
    assert run.status is Status.CRASHED
    assert run.reason == (
        "its process (pid 4242 on laptop) is gone: the run stopped in step network.addresses; "
        "resume continues"
    )
    steps = {step.key: step.status for step in store.list_steps(RUN.id)}
    assert steps == {"network.vlan": Status.SUCCEEDED, "network.addresses": Status.CRASHED}
    assert [phase.status for phase in store.list_phases(RUN.id)] == [Status.CRASHED]
    marker = json.loads(store.read_log_lines(RUN.id)[-1])
    assert marker == json.loads(cut.line)
    assert marker["event"] == LOG_CUT
    assert marker["last_step"] == "network.addresses"
    assert marker["process"] == "pid 4242 on laptop"
    assert "run_abandoned" in [entry.action for entry in store.list_audit(DELIVERY.id)]
    assert store.get_lock(DELIVERY.id) is None  # the dead process's lock goes with it
    assert settle_abandoned(store, DELIVERY.id, alive=lambda _lock: False, clock=FakeClock()) == []
    assert store.read_log_lines(RUN.id)[-1] == cut.line  # cut once


def test_a_run_killed_after_its_end_keeps_its_status_and_its_log_is_cut() -> None:
    store = InMemoryRunStore()
    killed_in_a_step(store)
    ended = replace(RUN, status=Status.SUCCEEDED, finished_at=T0)
    store.save_run(ended)  # its final status saved; killed before its log's end marker
    assert settle_abandoned(store, DELIVERY.id, alive=lambda _lock: True, clock=FakeClock()) == []
    [cut] = settle_abandoned(store, DELIVERY.id, alive=lambda _lock: False, clock=FakeClock())
    assert cut.run == store.get_run(RUN.id) == ended
    marker = json.loads(store.read_log_lines(RUN.id)[-1])
    assert marker == json.loads(cut.line)
    assert (marker["event"], marker["status"]) == (LOG_CUT, "succeeded")
    assert (
        marker["reason"]
        == "the log ends abruptly after the run ended succeeded: its process is gone"
    )
    assert marker["process"] == "pid 4242 on laptop"
    [audit] = store.list_audit(DELIVERY.id)
    assert (audit.action, audit.detail["ended"]) == ("run_abandoned", "succeeded")
    assert store.get_lock(DELIVERY.id) is None
    assert settle_abandoned(store, DELIVERY.id, alive=lambda _lock: False, clock=FakeClock()) == []


def test_a_running_run_without_its_lock_is_abandoned_one_with_a_live_holder_is_not() -> None:
    store = InMemoryRunStore()
    killed_in_a_step(store, lock=None)
    assert abandoned_runs(store, DELIVERY.id, lambda _lock: True) == [RUN]
    store.acquire_lock(LOCK)
    assert abandoned_runs(store, DELIVERY.id, lambda _lock: True) == []
    assert abandoned_runs(store, DELIVERY.id, lambda _lock: False) == [RUN]


def test_a_plan_run_holds_no_lock_and_is_abandoned_when_its_own_process_is_gone() -> None:
    store = InMemoryRunStore()
    plan = replace(RUN, mode=Mode.PLAN, pid=4343)
    store.save_delivery(DELIVERY.record(T0))
    store.save_run(plan)
    asked: list[LockRecord] = []

    def alive(lock: LockRecord) -> bool:
        asked.append(lock)
        return True

    assert abandoned_runs(store, DELIVERY.id, alive) == []
    assert [(lock.run_id, lock.host, lock.pid) for lock in asked] == [(RUN.id, "laptop", 4343)]
    [cut] = settle_abandoned(store, DELIVERY.id, alive=lambda _lock: False, clock=FakeClock())
    settled = store.get_run(RUN.id)
    assert settled is not None
    assert settled.status is Status.CRASHED
    assert settled.reason == (
        "its process (pid 4343 on laptop) is gone: the plan stopped before its first step"
    )
    assert json.loads(store.read_log_lines(RUN.id)[-1])["process"] == "pid 4343 on laptop"
    assert json.loads(cut.line)["event"] == LOG_CUT


def test_a_plan_run_recorded_without_its_process_is_left_alone() -> None:
    store = InMemoryRunStore()
    store.save_delivery(DELIVERY.record(T0))
    store.save_run(replace(RUN, mode=Mode.PLAN))  # pid None: recorded before runs kept it
    assert abandoned_runs(store, DELIVERY.id, lambda _lock: False) == []


def test_resume_settles_the_killed_run_first_and_continues_it() -> None:
    store = InMemoryRunStore()
    phases, _ = scripted_phases()
    engine = Engine(store, phases, runtime=fake_runtime(alive=lambda _lock: False))
    with capture_logs() as logs:
        first = engine.run(RunRequest(DELIVERY, "alice"))
    assert first.run.status is Status.WAITING
    store.save_run(replace(first.run, status=Status.RUNNING, finished_at=None))  # killed
    with capture_logs() as logs:
        engine.resume(RunRequest(DELIVERY, "alice"))
    abandoned = [e for e in logs if e["event"] == "run_abandoned"]
    assert [e["abandoned_run"] for e in abandoned] == [first.run.id]
    assert store.read_log_lines(first.run.id)[-1].count(LOG_CUT) == 1


def test_the_lock_is_held_until_the_wrap_up_is_done_and_given_back_after() -> None:
    store = InMemoryRunStore()
    phases, _ = scripted_phases()
    engine = Engine(store, phases, runtime=fake_runtime())
    held: list[LockRecord | None] = []
    outcome = engine.run(
        RunRequest(DELIVERY, "alice"), then=lambda _o: held.append(store.get_lock(DELIVERY.id))
    )
    assert [lock.run_id if lock else None for lock in held] == [outcome.run.id]
    assert store.get_lock(DELIVERY.id) is None

    def fails(_outcome: object) -> None:
        raise RuntimeError("the wrap-up failed")

    with pytest.raises(RuntimeError, match="wrap-up failed"):
        engine.resume(RunRequest(DELIVERY, "alice"), then=fails)
    assert store.get_lock(DELIVERY.id) is None


# the command line


def cli_runner(tmp_path: Path) -> tuple[RunsWiring, Path]:
    wiring = RunsWiring(
        load_delivery=lambda _path: DELIVERY,
        compose=FixedComposition(scripted_phases()[0]),
        runtime=fake_runtime(FakeClock(), alive=lambda _lock: False),
    )
    return wiring, tmp_path / "state"


def invoke(wiring: RunsWiring, state: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app(), [*args, "--state-dir", str(state)], obj=wiring)
    return result.exit_code, result.stdout, result.stderr


def test_a_run_that_ends_writes_log_ended_with_its_status_last(tmp_path: Path) -> None:
    wiring, state = cli_runner(tmp_path)
    assert invoke(wiring, state, "run", "acme.yaml")[0] == 3  # waits at the first gate
    [file] = (state / "runs").glob("*.jsonl")
    last = json.loads(file.read_text().splitlines()[-1])
    assert (last["event"], last["status"], last["run"]) == (LOG_ENDED, "waiting", file.stem)
    code, shown, warned = invoke(wiring, state, "logs", file.stem)
    assert code == 0
    assert f" {LOG_ENDED} " in shown.splitlines()[-1]
    assert "no end marker" not in warned


def test_logs_and_show_of_a_killed_run_say_it_was_cut_and_where(tmp_path: Path) -> None:
    wiring, state = cli_runner(tmp_path)
    invoke(wiring, state, "run", "acme.yaml")
    [file] = (state / "runs").glob("*.jsonl")
    run_id = file.stem
    lines = file.read_text().splitlines()[:-1]  # the run as a kill -9 in its first step left it
    file.write_text("\n".join(lines) + "\n")
    store = wiring.open_store(StoreLocation(state, None))
    run = store.get_run(run_id)
    assert run is not None
    store.save_run(replace(run, status=Status.RUNNING, finished_at=None))
    step = StepRecord(run_id, 1, "network.vlan", Status.RUNNING, "a", T0)
    store.save_step(step)
    store.close()
    code, shown, warned = invoke(wiring, state, "logs", run_id)
    assert code == 0
    assert f" {LOG_CUT} " in shown.splitlines()[-1]
    assert "no end marker" not in warned
    assert f"last_step={step.key}" in shown
    assert "the run's process is gone" in shown
    marker = json.loads(file.read_text().splitlines()[-1])
    assert marker["event"] == LOG_CUT  # the file has it too
    code, shown, _ = invoke(wiring, state, "show", run_id, "--json")
    report = json.loads(shown)
    assert report["run"]["status"] == "crashed"
    assert f"stopped in step {step.key}" in report["run"]["reason"]
    assert {s["key"]: s["status"] for s in report["steps"]} == {step.key: "crashed"}


@dataclass(frozen=True)
class KilledWhileNotifying(Notifications):
    """Notifications during which the process is killed: the lock it holds then, if any."""

    held: list[LockRecord | None] = field(default_factory=list)

    def after_run(self, store: RunStore, outcome: RunOutcome, spec: str | None = None) -> list[Any]:  # noqa: ARG002
        self.held.append(store.get_lock(outcome.run.delivery_id))
        raise SimulatedCrash


def test_a_run_killed_after_its_end_has_its_log_cut_by_the_next_command(tmp_path: Path) -> None:
    wiring, state = cli_runner(tmp_path)
    notifications = KilledWhileNotifying()
    composed = FixedComposition(scripted_phases()[0], fixed_notifications=notifications)
    wiring = replace(wiring, compose=composed)
    with pytest.raises(SimulatedCrash):
        invoke(wiring, state, "run", "acme.yaml")
    [file] = (state / "runs").glob("*.jsonl")
    assert [lock.run_id if lock else None for lock in notifications.held] == [file.stem]
    assert LOG_ENDED not in file.read_text()  # killed before the end marker
    code, shown, warned = invoke(wiring, state, "logs", file.stem)
    assert code == 0
    assert f" {LOG_CUT} " in shown.splitlines()[-1]
    assert "after the run ended waiting" in shown
    assert "no end marker" not in warned
    marker = json.loads(file.read_text().splitlines()[-1])
    assert (marker["event"], marker["status"]) == (LOG_CUT, "waiting")
    code, shown, _ = invoke(wiring, state, "show", file.stem, "--json")
    assert json.loads(shown)["run"]["status"] == "waiting"  # its status stands


def test_logs_of_a_run_still_going_say_it_has_no_end_marker(tmp_path: Path) -> None:
    wiring, state = cli_runner(tmp_path)
    wiring = replace(wiring, runtime=fake_runtime(FakeClock(), alive=lambda _lock: True))
    invoke(wiring, state, "run", "acme.yaml")
    [file] = (state / "runs").glob("*.jsonl")
    file.write_text("\n".join(file.read_text().splitlines()[:-1]) + "\n")
    store = wiring.open_store(StoreLocation(state, None))
    run = store.get_run(file.stem)
    assert run is not None
    store.save_run(replace(run, status=Status.RUNNING, finished_at=None))
    store.acquire_lock(LockRecord(DELIVERY.id, run.id, "alice", "test-host", 1001, T0))
    store.close()
    code, shown, warned = invoke(wiring, state, "logs", run.id)
    assert code == 0
    assert LOG_CUT not in shown
    assert "no end marker" in warned


def test_a_plan_killed_in_a_step_is_settled_and_its_log_cut_by_logs(tmp_path: Path) -> None:
    wiring, state = cli_runner(tmp_path)
    assert invoke(wiring, state, "plan", "acme.yaml")[0] == 0
    [file] = (state / "runs").glob("*.jsonl")
    file.write_text("\n".join(file.read_text().splitlines()[:-1]) + "\n")  # no log_ended
    store = wiring.open_store(StoreLocation(state, None))
    run = store.get_run(file.stem)
    assert run is not None
    assert (run.mode, run.pid) == (Mode.PLAN, 1001)  # the process that planned, on test-host
    store.save_run(replace(run, status=Status.RUNNING, finished_at=None))
    store.close()
    code, shown, warned = invoke(wiring, state, "logs", run.id)
    assert code == 0
    assert f" {LOG_CUT} " in shown.splitlines()[-1]
    assert "no end marker" not in warned
    assert json.loads(file.read_text().splitlines()[-1])["event"] == LOG_CUT
    code, shown, _ = invoke(wiring, state, "show", run.id, "--json")
    reason = json.loads(shown)["run"]["reason"]
    assert reason.startswith("its process (pid 1001 on test-host) is gone: the plan stopped")


@pytest.mark.parametrize("process", ["gone", "alive"])
def test_a_plan_killed_after_its_end_has_its_log_cut_once_its_process_is_gone(
    tmp_path: Path, process: str
) -> None:
    gone = process == "gone"
    wiring, state = cli_runner(tmp_path)
    wiring = replace(wiring, runtime=fake_runtime(FakeClock(), alive=lambda _lock: not gone))
    invoke(wiring, state, "plan", "acme.yaml")
    [file] = (state / "runs").glob("*.jsonl")
    file.write_text("\n".join(file.read_text().splitlines()[:-1]) + "\n")  # killed before it
    code, shown, warned = invoke(wiring, state, "logs", file.stem)
    assert code == 0
    last = json.loads(file.read_text().splitlines()[-1])
    if gone:
        assert (last["event"], last["status"]) == (LOG_CUT, "succeeded")
        assert "after the run ended succeeded" in shown
        assert "no end marker" not in warned
        invoke(wiring, state, "logs", file.stem)
        assert file.read_text().count(LOG_CUT) == 1  # cut once
    else:
        assert last["event"] != LOG_CUT
        assert "no end marker" in warned
    code, shown, _ = invoke(wiring, state, "show", file.stem, "--json")
    assert json.loads(shown)["run"]["status"] == "succeeded"  # its status stands
