"""The engine: seven phases of steps and gates, checkpointed in the run store, resumable.

    Engine(store, phases, observers=..., retry=..., runner=..., runtime=...)
        .plan(RunRequest) -> PlanOutcome        no side effects, no lock
        .run(RunRequest, then=None) -> RunOutcome
                                                skips steps done with the same inputs; ``then``
                                                (a ``WrapUp``) runs before the lock is given back
        .resume(RunRequest, run_id=None, then=None)
                                                continues the latest failed/crashed/waiting run
    approve(store, delivery_id, gate, authenticator, comment) -> GateDecision
    Notifications(channels, people).after_run(store, outcome, spec)
                                                tells the people who must act that a run stopped
                                                (``notifications``: who and what; ``notifying``)

Steps implement ``Step`` (``inputs``, ``hosts``, ``plan``, ``apply``) and return ``Result`` values;
errors are drawn in ``orchestrator.engine.errors``; retries are a ``RetryPolicy``. What steps need
from the world are the ports in ``orchestrator.engine.ports`` (Protocols and their value types, no
vendor library); the adapters in ``orchestrator.adapters`` implement them. The engine imports no
adapter, phase, CLI or lab module; it imports the store (``orchestrator.store``: records, the
``RunStore`` port, ``Status`` and ``Mode``), which imports no engine module.
"""

from orchestrator.engine.approvals import approve
from orchestrator.engine.delivery import Delivery, Person, delivery_from_spec, load_delivery
from orchestrator.engine.engine import Engine, RunOutcome, RunRequest, WrapUp
from orchestrator.engine.errors import (
    BadInput,
    Exhausted,
    GateRefused,
    NotAuthenticated,
    NotImplementedYet,
    OrchestratorError,
    PermanentError,
    Refused,
    RunLocked,
    ServerError,
    Throttled,
    TimedOut,
    TransientError,
    Unreachable,
    UsageError,
)
from orchestrator.engine.execution import Runtime
from orchestrator.engine.gates import (
    BUDDYCHECK,
    CUSTOMER_CONFIRMATION,
    GATES,
    GO_LIVE,
    OPS_ACCEPTANCE,
    PRECONDITIONS,
    Gate,
    GateState,
    Role,
)
from orchestrator.engine.interrupts import RunInterrupted, stop_on_signals
from orchestrator.engine.junit import junit_xml, write_junit
from orchestrator.engine.lock import LockOwner
from orchestrator.engine.observers import LoggingObserver, RunObserver
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.engine.planning import PlannedStep, PlanOutcome
from orchestrator.engine.report import RunReport
from orchestrator.engine.retry import NO_RETRY, RetryPolicy
from orchestrator.engine.runners import HostRunner, SerialRunner, ThreadedRunner
from orchestrator.engine.status import ExitCode, Mode, Status
from orchestrator.engine.step import Change, Placeholder, Result, Step, StepContext

__all__ = [
    "BUDDYCHECK",
    "CUSTOMER_CONFIRMATION",
    "GATES",
    "GO_LIVE",
    "NO_RETRY",
    "OPS_ACCEPTANCE",
    "PRECONDITIONS",
    "BadInput",
    "Change",
    "Delivery",
    "Engine",
    "Exhausted",
    "ExitCode",
    "Gate",
    "GateRefused",
    "GateState",
    "HostRunner",
    "LockOwner",
    "LoggingObserver",
    "Mode",
    "NotAuthenticated",
    "NotImplementedYet",
    "OrchestratorError",
    "PermanentError",
    "Person",
    "Phase",
    "PhaseRange",
    "Placeholder",
    "PlanOutcome",
    "PlannedStep",
    "Refused",
    "Result",
    "RetryPolicy",
    "Role",
    "RunInterrupted",
    "RunLocked",
    "RunObserver",
    "RunOutcome",
    "RunReport",
    "RunRequest",
    "Runtime",
    "SerialRunner",
    "ServerError",
    "Status",
    "Step",
    "StepContext",
    "ThreadedRunner",
    "Throttled",
    "TimedOut",
    "TransientError",
    "Unreachable",
    "UsageError",
    "WrapUp",
    "approve",
    "delivery_from_spec",
    "junit_xml",
    "load_delivery",
    "stop_on_signals",
    "write_junit",
]
