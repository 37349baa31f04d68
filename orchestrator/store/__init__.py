"""The run store: every delivery, run, phase, step, host, decision, audit line and lock."""

from orchestrator.store.location import StoreLocation, open_store
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import (
    ActionItem,
    AuditEntry,
    DeliveryRecord,
    EvaluationNote,
    GateDecision,
    HostRecord,
    Json,
    JsonMap,
    LockRecord,
    PhaseRecord,
    RunRecord,
    StepRecord,
    TaskRecord,
)
from orchestrator.store.sql import SqlRunStore

__all__ = [
    "ActionItem",
    "AuditEntry",
    "DeliveryRecord",
    "EvaluationNote",
    "GateDecision",
    "HostRecord",
    "Json",
    "JsonMap",
    "LockRecord",
    "PhaseRecord",
    "RunRecord",
    "RunStore",
    "SqlRunStore",
    "StepRecord",
    "StoreLocation",
    "TaskRecord",
    "open_store",
]
