"""Runs whose process is gone: recorded ``crashed``, their log cut with a marker that says so.

A run is ``running`` in the store while its process holds the delivery's lock: the lock is taken
before the run is saved, and given back only after the run's final status is saved and what
follows it is done (release after a failure, notifications, reports, and last the log's
``log_ended`` line). A ``running`` apply run without its lock held by a live process
(``holder_alive``) was killed (``kill -9``, the machine went down, our own bug past every
handler). ``settle_abandoned`` finds such runs of a delivery and records what happened, so no
run and no step stays ``running`` without a process:

- the run ``crashed``, its reason naming the step it was in and that its process is gone;
- each step and phase still ``running`` ``crashed`` too;
- an audit entry ``run_abandoned``, and a ``log_cut`` line appended to the run's log in the
  store; the command line appends the same line to the run's log file (``Cut.line``);
- the dead process's lock removed (exactly that lock; the audit entry names the process).

A run that ended (its final status saved) while a dead process still holds its lock was killed
after its end, before its log's end marker: its status stands, and its log is cut the same way
(the line names the status it ended with) and its lock removed.

Plan runs hold no lock: a ``running`` plan run is abandoned when the process its record names
(``RunRecord.pid`` on ``host``) is gone, and is settled the same way. A plan run killed after its
end is cut when its log is read (``cut_ended_plan``). A lock, or a run, on another machine counts
as alive (``holder_alive``): only that machine, or ``--break-lock``, can say otherwise; so does a
run recorded before runs kept their process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from orchestrator.engine.status import Mode, Status
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import AuditEntry, LockRecord, RunRecord, StepRecord

#: The event that ends a log normally (with the run's status) and the one that marks a cut log.
LOG_ENDED = "log_ended"
LOG_CUT = "log_cut"


@dataclass(frozen=True, slots=True)
class Cut:
    """An abandoned run as settled: its record now, and the marker line ending its log."""

    run: RunRecord
    line: str


def abandoned_runs(
    store: RunStore, delivery_id: str, alive: Callable[[LockRecord], bool]
) -> list[RunRecord]:
    """The delivery's runs recorded ``running`` whose process is gone: apply runs without their
    lock held by a live process, plan runs whose own process is gone."""
    lock = store.get_lock(delivery_id)
    return [
        run
        for run in store.list_runs(delivery_id)
        if run.status is Status.RUNNING and _gone(run, lock, alive)
    ]


def _gone(run: RunRecord, lock: LockRecord | None, alive: Callable[[LockRecord], bool]) -> bool:
    if run.mode is Mode.APPLY:
        return not (lock is not None and lock.run_id == run.id and alive(lock))
    return not _process_alive(run, alive)


def _process_alive(run: RunRecord, alive: Callable[[LockRecord], bool]) -> bool:
    """Whether the process a run's record names may still run (unknown: yes), asked as for a
    lock it would hold."""
    if run.pid is None:
        return True
    return alive(LockRecord(run.delivery_id, run.id, run.who, run.host, run.pid, run.started_at))


def settle_abandoned(
    store: RunStore,
    delivery_id: str,
    *,
    alive: Callable[[LockRecord], bool],
    clock: Callable[[], datetime],
) -> list[Cut]:
    """Record each of ``abandoned_runs`` as ``crashed`` (run, running steps and phases) with
    a ``log_cut`` line in its stored log, and cut the log of a run killed after its end; the
    runs settled."""
    lock = store.get_lock(delivery_id)
    ended = _ended_unmarked(store, lock, alive)
    cuts = [settle(store, run, lock, clock()) for run in abandoned_runs(store, delivery_id, alive)]
    if ended is not None and lock is not None:
        last = _last_step(store.list_steps(ended.id))
        cuts.append(_cut(store, ended, last, lock, clock(), ended=True))
    return cuts


def _ended_unmarked(
    store: RunStore, lock: LockRecord | None, alive: Callable[[LockRecord], bool]
) -> RunRecord | None:
    """The run that ended but whose dead process still holds the lock, if any."""
    if lock is None or alive(lock):
        return None
    run = store.get_run(lock.run_id)
    return run if run is not None and run.status is not Status.RUNNING else None


def settle(store: RunStore, run: RunRecord, lock: LockRecord | None, now: datetime) -> Cut:
    """Record ``run`` as crashed because its process is gone; see ``settle_abandoned``."""
    steps = store.list_steps(run.id)
    last = _last_step(steps)
    process = _process(run, lock)
    where = f"in step {last.key}" if last is not None else "before its first step"
    reason = (
        f"its process ({process}) is gone: the run stopped {where}; resume continues"
        if run.mode is Mode.APPLY
        else f"its process ({process}) is gone: the plan stopped {where}"
    )
    for step in steps:
        if step.status is Status.RUNNING:
            store.save_step(replace(step, status=Status.CRASHED, finished_at=now, error=reason))
    for phase in store.list_phases(run.id):
        if phase.status is Status.RUNNING:
            store.save_phase(replace(phase, status=Status.CRASHED, finished_at=now))
    settled = replace(run, status=Status.CRASHED, finished_at=now, reason=reason)
    store.save_run(settled)
    return _cut(store, settled, last, lock, now, ended=False)


def _cut(  # noqa: PLR0913 - the run, where it stopped, whose lock, when, and how it ended
    store: RunStore,
    run: RunRecord,
    last: StepRecord | None,
    lock: LockRecord | None,
    now: datetime,
    *,
    ended: bool,
) -> Cut:
    """Audit ``run_abandoned``, the ``log_cut`` line in the stored log, the dead lock removed."""
    process = _process(run, lock)
    detail = {"last_step": last.key if last else "", "process": process}
    if ended:
        detail["ended"] = run.status.value
    store.append_audit(AuditEntry(now, run.who, "run_abandoned", run.delivery_id, run.id, detail))
    line = cut_line(run, last, process, now, ended=ended)
    store.append_log_lines(run.id, [line])
    if lock is not None and lock.run_id == run.id:
        store.break_lock(lock)
    return Cut(run, line)


def _last_step(steps: list[StepRecord]) -> StepRecord | None:
    running = [step for step in steps if step.status is Status.RUNNING]
    candidates = running or steps
    return candidates[-1] if candidates else None


def _process(run: RunRecord, lock: LockRecord | None) -> str:
    if lock is not None and lock.run_id == run.id:
        return f"pid {lock.pid} on {lock.host}"
    if run.pid is not None:
        return f"pid {run.pid} on {run.host}"
    return f"on {run.host}"


def cut_ended_plan(
    store: RunStore,
    run: RunRecord,
    last_event: str,
    *,
    alive: Callable[[LockRecord], bool],
    clock: Callable[[], datetime],
) -> Cut | None:
    """A plan run that ended but whose log (its last event ``last_event``) has no end marker and
    whose process is gone was killed after its end: its log is cut as an apply run's would be
    (``settle_abandoned``); None when it is not such a run."""
    if run.mode is not Mode.PLAN or run.status is Status.RUNNING:
        return None
    if last_event in {LOG_ENDED, LOG_CUT} or _process_alive(run, alive):
        return None
    last = _last_step(store.list_steps(run.id))
    return _cut(store, run, last, None, clock(), ended=True)


def cut_line(
    run: RunRecord, last: StepRecord | None, process: str, now: datetime, *, ended: bool = False
) -> str:
    """The JSON line that ends a cut log, shaped like the run's own lines; ``ended``: the run
    had ended (its status is given) when its process went."""
    event: dict[str, object] = {
        "event": LOG_CUT,
        "level": "error",
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "delivery": run.delivery_id,
        "run": run.id,
        "last_step": last.key if last is not None else None,
        "phase": last.phase if last is not None else None,
        "process": process,
        "reason": (
            f"the log ends abruptly after the run ended {run.status.value}: its process is gone"
            if ended
            else "the log ends abruptly: the run's process is gone"
        ),
    }
    if ended:
        event["status"] = run.status.value
    return json.dumps(event, sort_keys=True)
