"""The engine: plan, run and resume a delivery, one run per delivery at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import structlog
from structlog.contextvars import bound_contextvars

from orchestrator import __version__
from orchestrator.engine.abandoned import settle_abandoned
from orchestrator.engine.checkpoints import Checkpointer
from orchestrator.engine.delivery import Delivery
from orchestrator.engine.errors import BadInput
from orchestrator.engine.execution import Ending, Execution, Parts, Runtime
from orchestrator.engine.findings import FindingsObserver
from orchestrator.engine.gates import GateState
from orchestrator.engine.lock import claim
from orchestrator.engine.observers import Observers, RunObserver
from orchestrator.engine.phase import Phase, PhaseRange, check_catalogue
from orchestrator.engine.planning import Planning, PlanOutcome
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.runners import HostRunner, SerialRunner
from orchestrator.engine.status import ExitCode, Mode, Status
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import AuditEntry, JsonMap, LockRecord, RunRecord

log = structlog.get_logger("orchestrator.engine")


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What to run: which delivery, which phases, on whose behalf."""

    delivery: Delivery
    who: str
    command: str = "orchestrator run"
    phases: PhaseRange = field(default_factory=PhaseRange)
    break_lock: bool = False


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended, and the gate it waits at, if any."""

    run: RunRecord
    gate: GateState | None = None

    @property
    def exit_code(self) -> ExitCode:
        """What the command line exits with."""
        return ExitCode.of(self.run.status)


#: Work after a run's final status is saved that must finish before the delivery's lock is given
#: back: the command line's release after a failure, notifications, reports, and last the log's
#: end marker. A process killed during it leaves its lock, so the next command finds the run's
#: log cut (``orchestrator.engine.abandoned``).
type WrapUp = Callable[[RunOutcome], None]


class Engine:
    """Carries deliveries through their phases, recording everything in the run store."""

    def __init__(  # noqa: PLR0913 - each collaborator is a seam tests replace
        self,
        store: RunStore,
        phases: Sequence[Phase],
        *,
        observers: Sequence[RunObserver] = (),
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, so one default is safe
        runner: HostRunner = SerialRunner(),  # noqa: B008 - stateless
        runtime: Runtime = Runtime(),  # noqa: B008 - frozen, so one default is safe
    ) -> None:
        checkpointer = Checkpointer(store, runtime.clock)
        self.parts = Parts(
            store,
            check_catalogue(phases),
            Observers([checkpointer, FindingsObserver(store, runtime.clock), *observers]),
            retry,
            runner,
            runtime,
        )

    def plan(self, request: RunRequest) -> PlanOutcome:
        """Record a plan run: what each selected step would do; no side effects, no lock. The
        delivery's runs whose process is gone are settled first, as ``run`` does."""
        self.settle(request.delivery.id)
        run = self._new_run(request, Mode.PLAN)
        execution = Execution(self.parts, run, request.delivery)
        execution.outputs.update(self._checkpointed(request.delivery, request.phases.first)[0])
        planning = Planning(execution)
        with bound_contextvars(delivery=run.delivery_id, run=run.id):
            self.parts.observers.run_started(run, request.delivery, resumed=False)
            finished = self._finished(run, Ending(planning.go()))
        return PlanOutcome(finished, tuple(planning.steps), tuple(planning.gates))

    def run(self, request: RunRequest, *, then: WrapUp | None = None) -> RunOutcome:
        """Start a new run; steps done with the same inputs are skipped. ``then`` is called
        with the outcome while the delivery's lock is still held (see ``WrapUp``)."""
        self.settle(request.delivery.id)
        outputs = self._earlier_outputs(request.delivery, request.phases.first)
        run = self._new_run(request, Mode.APPLY)
        self._claim(run, break_lock=request.break_lock)
        return self._drive(run, request.delivery, outputs, resumed=False, then=then)

    def resume(
        self, request: RunRequest, run_id: str | None = None, *, then: WrapUp | None = None
    ) -> RunOutcome:
        """Continue the latest run of the delivery (or ``run_id``) where it stopped; ``then``
        as for ``run``."""
        self.settle(request.delivery.id)
        run = self.resumable(request.delivery, run_id)
        outputs = self._earlier_outputs(request.delivery, run.from_phase)
        resumed = replace(
            run, status=Status.RUNNING, finished_at=None, reason=None, who=request.who,
            command=request.command, host=self.parts.runtime.owner.host,
            pid=self.parts.runtime.owner.pid, version=__version__,
        )  # fmt: skip
        self._claim(resumed, break_lock=request.break_lock)
        return self._drive(resumed, request.delivery, outputs, resumed=True, then=then)

    def resumable(self, delivery: Delivery, run_id: str | None = None) -> RunRecord:
        """The run ``resume`` would continue; ``BadInput`` says why there is none."""
        runs = [r for r in self.parts.store.list_runs(delivery.id) if r.mode is Mode.APPLY]
        if not runs:
            raise BadInput(f"delivery {delivery.id} has no run to resume; start one with `run`")
        run = runs[0] if run_id is None else self.parts.store.get_run(run_id)
        if run is None or run.delivery_id != delivery.id or run.mode is not Mode.APPLY:
            raise BadInput(f"delivery {delivery.id} has no run {run_id}")
        return _check_resumable(run, runs[0], delivery)

    def settle(self, delivery_id: str) -> None:
        """Record the delivery's runs whose process is gone as crashed (``abandoned``)."""
        runtime = self.parts.runtime
        cuts = settle_abandoned(
            self.parts.store, delivery_id, alive=runtime.holder_alive, clock=runtime.clock
        )
        for cut in cuts:
            log.warning("run_abandoned", abandoned_run=cut.run.id, reason=cut.run.reason)

    def _new_run(self, request: RunRequest, mode: Mode) -> RunRecord:
        now = self.parts.runtime.clock()
        request.phases.check(self.parts.phases)
        return RunRecord(
            id=self.parts.runtime.run_id(now),
            delivery_id=request.delivery.id,
            mode=mode,
            status=Status.RUNNING,
            who=request.who,
            host=self.parts.runtime.owner.host,
            pid=self.parts.runtime.owner.pid,
            command=request.command,
            version=__version__,
            spec_hash=request.delivery.spec_hash,
            from_phase=request.phases.first,
            through_phase=request.phases.last,
            started_at=now,
        )

    def _drive(
        self,
        run: RunRecord,
        delivery: Delivery,
        outputs: dict[str, JsonMap],
        *,
        resumed: bool,
        then: WrapUp | None,
    ) -> RunOutcome:
        execution = Execution(self.parts, run, delivery)
        with bound_contextvars(delivery=delivery.id, run=run.id):
            try:
                self.parts.observers.run_started(run, delivery, resumed=resumed)
                ending = execution.go(outputs)
                outcome = RunOutcome(self._finished(run, ending), ending.gate)
                if then is not None:
                    then(outcome)
            except Exception:
                self.parts.store.release_lock(delivery.id, run.id)
                raise
        self.parts.store.release_lock(delivery.id, run.id)
        return outcome

    def _finished(self, run: RunRecord, ending: Ending) -> RunRecord:
        now = self.parts.runtime.clock()
        finished = replace(run, status=ending.status, reason=ending.reason, finished_at=now)
        self.parts.observers.run_finished(finished)
        return finished

    def _checkpointed(self, delivery: Delivery, first: int) -> tuple[dict[str, JsonMap], list[str]]:
        """Outputs of the steps before phase ``first`` that are done, and the keys of the rest."""
        outputs: dict[str, JsonMap] = {}
        missing: list[str] = []
        for phase in self.parts.phases[: first - 1]:
            for step in phase.steps:
                latest = self.parts.store.latest_step(delivery.id, step.key)
                if latest is not None and latest.status.done:
                    outputs[step.key] = latest.outputs
                else:
                    missing.append(step.key)
        return outputs, missing

    def _earlier_outputs(self, delivery: Delivery, first: int) -> dict[str, JsonMap]:
        outputs, missing = self._checkpointed(delivery, first)
        if missing:
            raise BadInput(
                f"cannot start at phase {first}: earlier steps are not done "
                f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})"
            )
        return outputs

    def _claim(self, run: RunRecord, *, break_lock: bool) -> None:
        """Take the delivery's lock for ``run``; a live holder raises ``RunLocked``."""
        owner, runtime = self.parts.runtime.owner, self.parts.runtime
        lock = LockRecord(run.delivery_id, run.id, run.who, owner.host, owner.pid, runtime.clock())
        taken = claim(self.parts.store, lock, runtime.holder_alive, break_lock=break_lock)
        if taken is not None:
            self._audit_lock(run, "lock_broken" if break_lock else "lock_taken_over", taken)

    def _audit_lock(self, run: RunRecord, action: str, held: LockRecord) -> None:
        detail: JsonMap = {k: str(v) for k, v in asdict(held).items()}
        now = self.parts.runtime.clock()
        self.parts.store.append_audit(
            AuditEntry(now, run.who, action, run.delivery_id, run.id, detail)
        )


def _check_resumable(run: RunRecord, latest: RunRecord, delivery: Delivery) -> RunRecord:
    if run.id != latest.id:
        raise BadInput(f"run {run.id} is not the latest run of {delivery.id}; that is {latest.id}")
    if run.status.done:
        raise BadInput(f"run {run.id} succeeded; nothing to resume (start a new run with `run`)")
    if run.spec_hash != delivery.spec_hash:
        raise BadInput(f"the spec changed since run {run.id}; start a new run with `run`")
    return run
