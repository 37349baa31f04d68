"""Running a delivery: checkpoints, skips, re-runs on changed inputs, hosts, retries, plans."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from orchestrator.engine import (
    BadInput,
    LoggingObserver,
    Mode,
    Phase,
    PhaseRange,
    Placeholder,
    Refused,
    Result,
    RetryPolicy,
    RunRequest,
    Status,
    StepContext,
    ThreadedRunner,
    Unreachable,
)
from orchestrator.engine.phase import Entry
from orchestrator.store import JsonMap
from orchestrator.testing import (
    EngineBench,
    InMemoryRunStore,
    RecordingObserver,
    ScriptedStep,
    keys_of,
    make_delivery,
)

DELIVERY = make_delivery()


def phases(*per_phase: Sequence[Entry]) -> tuple[Phase, ...]:
    return tuple(
        Phase(number, f"p{number}", f"Phase {number}", tuple(entries))
        for number, entries in enumerate(per_phase, start=1)
    )


def request(first: int = 1, last: int = 7) -> RunRequest:
    return RunRequest(DELIVERY, "alice", "orchestrator run acme.yaml", PhaseRange(first, last))


def statuses(store: InMemoryRunStore, run_id: str) -> dict[str, Status]:
    return {step.key: step.status for step in store.list_steps(run_id)}


@pytest.fixture
def bench() -> EngineBench:
    return EngineBench()


def test_a_run_applies_every_step_in_order_and_succeeds(bench: EngineBench) -> None:
    a, b, c = ScriptedStep("p1.a"), ScriptedStep("p1.b"), ScriptedStep("p2.c")
    outcome = bench.engine(phases([a, b], [c])).run(request(1, 2))
    assert outcome.run.status is Status.SUCCEEDED
    assert outcome.exit_code == 0
    assert (a.applied, b.applied, c.applied) == ([""], [""], [""])
    assert list(statuses(bench.store, outcome.run.id).values()) == [Status.SUCCEEDED] * 3
    assert [p.status for p in bench.store.list_phases(outcome.run.id)] == [Status.SUCCEEDED] * 2
    assert bench.store.get_lock(DELIVERY.id) is None


def test_a_step_not_implemented_fails_closed(bench: EngineBench) -> None:
    after = ScriptedStep("p1.after")
    outcome = bench.engine(phases([Placeholder("p1.todo", "Later"), after])).run(request(1, 1))
    assert outcome.run.status is Status.FAILED
    assert outcome.exit_code == 1
    assert after.applied == []
    [step] = bench.store.list_steps(outcome.run.id)
    assert (step.key, step.status, step.error) == ("p1.todo", Status.FAILED, "not implemented")
    assert outcome.run.reason == "step p1.todo failed: not implemented"


def test_a_rerun_skips_steps_done_with_the_same_inputs(bench: EngineBench) -> None:
    a, b = ScriptedStep("p1.a"), ScriptedStep("p1.b", uses=("p1.a",))
    catalogue = phases([a, b])
    bench.engine(catalogue).run(request(1, 1))
    again = bench.engine(catalogue).run(request(1, 1))
    assert again.run.status is Status.SUCCEEDED
    assert (a.applied, b.applied) == ([""], [""])
    assert statuses(bench.store, again.run.id) == {"p1.a": Status.SKIPPED, "p1.b": Status.SKIPPED}
    assert bench.store.list_steps(again.run.id)[0].outputs == {"by": "p1.a", "host": ""}


def test_changed_inputs_rerun_the_step_and_what_uses_its_outputs(bench: EngineBench) -> None:
    a = ScriptedStep("p1.a", depends_on={"vlan": 100})
    b, c = ScriptedStep("p1.b", uses=("p1.a",)), ScriptedStep("p1.c")
    catalogue = phases([a, b, c])
    bench.engine(catalogue).run(request(1, 1))
    a.depends_on = {"vlan": 200}
    again = bench.engine(catalogue).run(request(1, 1))
    assert statuses(bench.store, again.run.id) == {
        "p1.a": Status.SUCCEEDED,
        "p1.b": Status.SUCCEEDED,
        "p1.c": Status.SKIPPED,
    }
    assert (len(a.applied), len(b.applied), len(c.applied)) == (2, 2, 1)


def test_one_failed_host_does_not_stop_the_others(bench: EngineBench) -> None:
    hosts = ("web-01", "web-02", "web-03")
    step = ScriptedStep(
        "p1.updates", host_names=hosts, outcomes={"web-02": [Refused("apt said no")]}
    )
    after = ScriptedStep("p1.after")
    outcome = bench.engine(phases([step, after])).run(request(1, 1))
    assert outcome.run.status is Status.FAILED
    assert step.applied == ["web-01", "web-03"]
    assert after.applied == []
    results = {h.host: (h.status, h.error) for h in bench.store.list_hosts(outcome.run.id)}
    assert results == {
        "web-01": (Status.SUCCEEDED, None),
        "web-02": (Status.FAILED, "apt said no"),
        "web-03": (Status.SUCCEEDED, None),
    }
    [record, *_] = bench.store.list_steps(outcome.run.id)
    assert record.error == "web-02: apt said no"


def test_a_resume_retries_only_the_failed_hosts(bench: EngineBench) -> None:
    hosts = ("web-01", "web-02", "web-03")
    step = ScriptedStep("p1.updates", host_names=hosts, outcomes={"web-02": [Refused("no")]})
    catalogue = phases([step])
    failed = bench.engine(catalogue).run(request(1, 1))
    resumed = bench.engine(catalogue).resume(request(1, 1))
    assert resumed.run.id == failed.run.id
    assert resumed.run.status is Status.SUCCEEDED
    assert step.applied == ["web-01", "web-03", "web-02"]
    assert {h.host: h.status for h in bench.store.list_hosts(failed.run.id)} == dict.fromkeys(
        hosts, Status.SUCCEEDED
    )


def test_a_new_run_after_a_failure_carries_the_hosts_that_were_done(
    bench: EngineBench,
) -> None:
    step = ScriptedStep("p1.updates", host_names=("a", "b"), outcomes={"b": [Refused("no")]})
    catalogue = phases([step])
    bench.engine(catalogue).run(request(1, 1))
    again = bench.engine(catalogue).run(request(1, 1))
    assert step.applied == ["a", "b"]
    assert {h.host: h.status for h in bench.store.list_hosts(again.run.id)} == {
        "a": Status.SKIPPED,
        "b": Status.SUCCEEDED,
    }
    [record] = bench.store.list_steps(again.run.id)
    assert record.outputs == {"hosts": {"a": {"by": "p1.updates", "host": "a"},
                                        "b": {"by": "p1.updates", "host": "b"}}}  # fmt: skip


def test_hosts_run_in_threads_give_the_same_results(bench: EngineBench) -> None:
    hosts = tuple(f"web-{n:02d}" for n in range(1, 9))
    step = ScriptedStep("p1.updates", host_names=hosts, outcomes={"web-04": [Refused("no")]})
    outcome = bench.engine(phases([step]), runner=ThreadedRunner(4)).run(request(1, 1))
    assert outcome.run.status is Status.FAILED
    assert sorted(step.applied) == [h for h in hosts if h != "web-04"]
    assert len(bench.store.list_hosts(outcome.run.id)) == 8


def test_transient_errors_are_retried_as_the_policy_says(bench: EngineBench) -> None:
    step = ScriptedStep("p1.a", outcomes={"": [Unreachable("reset"), Unreachable("reset")]})
    retry = RetryPolicy(attempts=3, initial_backoff=0.01)
    outcome = bench.engine(phases([step]), retry=retry).run(request(1, 1))
    assert outcome.run.status is Status.SUCCEEDED
    assert step.attempts == 3


def test_transient_errors_beyond_the_policy_crash_the_run(bench: EngineBench) -> None:
    step = ScriptedStep("p1.a", outcomes={"": [Unreachable("reset")] * 3})
    retry = RetryPolicy(attempts=2, initial_backoff=0.01)
    with capture_logs() as logs:
        outcome = bench.engine(phases([step]), retry=retry).run(request(1, 1))
    assert outcome.run.status is Status.CRASHED
    assert outcome.exit_code == 5
    assert outcome.run.reason == "step p1.a crashed: gave up after retrying: reset"
    assert step.attempts == 2
    assert [e["event"] for e in logs if e["event"] == "attempt_failed"] == ["attempt_failed"]


def test_permanent_errors_are_never_retried(bench: EngineBench) -> None:
    step = ScriptedStep("p1.a", outcomes={"": [Refused("pool exhausted")]})
    outcome = bench.engine(phases([step]), retry=RetryPolicy(attempts=5)).run(request(1, 1))
    assert outcome.run.status is Status.FAILED
    assert step.attempts == 1


def test_a_bug_in_a_step_crashes_it_and_is_logged_with_its_traceback(
    bench: EngineBench,
) -> None:
    step = ScriptedStep("p1.a", outcomes={"": [ValueError("bad template")]})
    with capture_logs() as logs:
        outcome = bench.engine(phases([step])).run(request(1, 1))
    assert outcome.run.status is Status.CRASHED
    assert outcome.run.reason == "step p1.a crashed: ValueError: bad template"
    assert any(e["event"] == "step_raised" and e.get("exc_info") for e in logs)


def test_a_step_ending_in_a_status_it_may_not_end_in_crashes(bench: EngineBench) -> None:
    step = ScriptedStep("p1.a", outcomes={"": [Result(Status.WAITING)]})
    outcome = bench.engine(phases([step])).run(request(1, 1))
    [record] = bench.store.list_steps(outcome.run.id)
    assert (record.status, record.error) == (Status.CRASHED, "step said waiting")


class BrokenInputs(ScriptedStep):
    def inputs(self, ctx: StepContext) -> JsonMap:
        raise KeyError(ctx.delivery.id)


def test_a_step_whose_inputs_cannot_be_worked_out_crashes(bench: EngineBench) -> None:
    outcome = bench.engine(phases([BrokenInputs("p1.a")])).run(request(1, 1))
    assert outcome.run.status is Status.CRASHED
    [record] = bench.store.list_steps(outcome.run.id)
    assert record.error == "KeyError: 'acme-webshop'"


def test_phases_can_be_selected_once_the_earlier_ones_are_done(bench: EngineBench) -> None:
    a, b = ScriptedStep("p1.a"), ScriptedStep("p2.b", uses=("p1.a",))
    catalogue = phases([a], [b], [ScriptedStep("p3.c")])
    with pytest.raises(
        BadInput, match=r"cannot start at phase 2: earlier steps are not done \(p1.a\)"
    ):
        bench.engine(catalogue).run(request(2, 2))
    bench.engine(catalogue).run(request(1, 1))
    outcome = bench.engine(catalogue).run(request(2, 2))
    assert outcome.run.status is Status.SUCCEEDED
    assert (a.applied, b.applied) == ([""], [""])
    assert statuses(bench.store, outcome.run.id) == {"p2.b": Status.SUCCEEDED}
    assert bench.store.list_steps(outcome.run.id)[0].input_hash  # saw a's outputs


@pytest.mark.parametrize(("first", "last"), [(0, 1), (2, 1), (1, 4)])
def test_a_phase_range_outside_the_catalogue_is_bad_input(
    bench: EngineBench, first: int, last: int
) -> None:
    with pytest.raises(BadInput, match=r"not a range within 1\.\.3"):
        bench.engine(phases([], [], [])).run(request(first, last))


def test_observers_see_the_run_as_it_happens(bench: EngineBench) -> None:
    observer = RecordingObserver()
    step = ScriptedStep("p1.a", host_names=("web-01",))
    bench.engine(phases([step]), observers=[observer]).run(request(1, 1))
    assert [event for event, _subject in observer.events] == [
        "run_started",
        "phase_started",
        "step_started",
        "host_finished",
        "step_finished",
        "phase_finished",
        "run_finished",
    ]
    assert keys_of(observer.events, "host_finished") == ["p1.a@web-01"]


def test_every_log_line_carries_where_it_happened(bench: EngineBench) -> None:
    step = ScriptedStep("p1.a", host_names=("web-01",))
    with capture_logs(processors=[merge_contextvars]) as logs:
        outcome = bench.engine(phases([step]), observers=[LoggingObserver()]).run(request(1, 1))
    by_event = {entry["event"]: entry for entry in logs}
    assert set(by_event) >= {"run_started", "phase_started", "step_started", "host_succeeded",
                             "step_succeeded", "phase_succeeded", "run_succeeded"}  # fmt: skip
    host = by_event["host_succeeded"]
    assert (host["delivery"], host["run"], host["phase"], host["step"], host["host"]) == (
        DELIVERY.id, outcome.run.id, 1, "p1.a", "web-01"
    )  # fmt: skip
    assert "host" not in by_event["step_succeeded"]
    assert "step" not in by_event["phase_succeeded"]


def test_a_plan_changes_nothing_and_says_what_would_change(bench: EngineBench) -> None:
    a, b = ScriptedStep("p1.a"), ScriptedStep("p1.b")
    catalogue = phases([a, b, Placeholder("p1.todo", "Later")])
    bench.engine(phases([a])).run(request(1, 1))
    plan = bench.engine(catalogue).plan(request(1, 1))
    assert [(s.key, s.status) for s in plan.steps] == [
        ("p1.a", Status.SKIPPED),
        ("p1.b", Status.PENDING),
        ("p1.todo", Status.FAILED),
    ]
    assert [str(change) for change in plan.steps[1].changes] == ["create thing"]
    assert plan.steps[2].error == "not implemented"
    assert (a.applied, b.applied) == ([""], [])
    assert (plan.run.mode, plan.run.status) == (Mode.PLAN, Status.FAILED)
    assert bench.store.get_lock(DELIVERY.id) is None


def test_a_plan_is_no_checkpoint(bench: EngineBench) -> None:
    a = ScriptedStep("p1.a")
    bench.engine(phases([a])).plan(request(1, 1))
    outcome = bench.engine(phases([a])).run(request(1, 1))
    assert statuses(bench.store, outcome.run.id) == {"p1.a": Status.SUCCEEDED}
    assert [r.mode for r in bench.store.list_runs(DELIVERY.id)] == [Mode.APPLY, Mode.PLAN]
