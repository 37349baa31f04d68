"""The public API of the engine, the store and the test helpers, pinned."""

from __future__ import annotations

import orchestrator.engine
import orchestrator.store
from orchestrator.cli import runs


def test_the_engine_exports_exactly_its_public_api() -> None:
    assert set(orchestrator.engine.__all__) == {
        "BUDDYCHECK", "CUSTOMER_CONFIRMATION", "GATES", "GO_LIVE", "NO_RETRY", "OPS_ACCEPTANCE",
        "PRECONDITIONS",
        "BadInput", "Change", "Delivery", "Engine", "Exhausted", "ExitCode", "Gate",
        "GateRefused", "GateState", "HostRunner", "LockOwner", "LoggingObserver", "Mode",
        "NotAuthenticated", "NotImplementedYet", "OrchestratorError", "PermanentError", "Person",
        "Phase", "PhaseRange", "Placeholder", "PlanOutcome", "PlannedStep", "Refused", "Result",
        "RetryPolicy", "Role", "RunInterrupted", "RunLocked", "RunObserver", "RunOutcome",
        "RunReport", "RunRequest", "Runtime", "SerialRunner", "ServerError", "Status", "Step",
        "StepContext", "ThreadedRunner", "Throttled", "TimedOut", "TransientError",
        "Unreachable", "UsageError", "WrapUp", "approve", "delivery_from_spec", "junit_xml",
        "load_delivery", "stop_on_signals", "write_junit",
    }  # fmt: skip
    for name in orchestrator.engine.__all__:
        assert getattr(orchestrator.engine, name) is not None


def test_the_store_exports_its_port_its_adapter_and_its_records() -> None:
    assert set(orchestrator.store.__all__) == {
        "ActionItem", "AuditEntry", "CheckIn", "DeliveryRecord", "EvaluationNote", "GateDecision",
        "HostRecord", "Json", "JsonMap", "LockRecord", "NotificationRecord", "PhaseRecord",
        "RunRecord", "RunStore", "SqlRunStore", "StateKind", "StepRecord", "StoreLocation",
        "TaskRecord", "UnknownParent", "open_store",
    }  # fmt: skip


def test_the_run_commands_are_registered_by_one_function() -> None:
    assert set(runs.__all__) == {
        "RunsWiring", "approve", "logs", "plan", "register", "resume", "run", "runs", "show",
        "status",
    }  # fmt: skip
