"""The run store: every delivery, run, phase, step, host, decision, audit line and lock.

The records and the ``RunStore`` port are plain Python; the SQL adapter (``SqlRunStore``) and the
store's location (``StoreLocation``, ``open_store``) are imported on first use, so that importing a
record does not import SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from orchestrator.store.protocol import RunStore, UnknownParent
from orchestrator.store.records import (
    ActionItem,
    AuditEntry,
    CheckIn,
    DeliveryRecord,
    EvaluationNote,
    GateDecision,
    HostRecord,
    Json,
    JsonMap,
    LockRecord,
    NotificationRecord,
    PhaseRecord,
    RunRecord,
    StateKind,
    StepRecord,
    TaskRecord,
)

if TYPE_CHECKING:
    from orchestrator.store.location import StoreLocation, open_store
    from orchestrator.store.sql import SqlRunStore

#: What is imported on first use, and from where.
_ON_USE = {
    "SqlRunStore": "orchestrator.store.sql",
    "StoreLocation": "orchestrator.store.location",
    "open_store": "orchestrator.store.location",
}


def __getattr__(name: str) -> object:
    """``SqlRunStore``, ``StoreLocation`` and ``open_store``, imported when first asked for."""
    if name not in _ON_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_ON_USE[name]), name)


__all__ = [
    "ActionItem",
    "AuditEntry",
    "CheckIn",
    "DeliveryRecord",
    "EvaluationNote",
    "GateDecision",
    "HostRecord",
    "Json",
    "JsonMap",
    "LockRecord",
    "NotificationRecord",
    "PhaseRecord",
    "RunRecord",
    "RunStore",
    "SqlRunStore",
    "StateKind",
    "StepRecord",
    "StoreLocation",
    "TaskRecord",
    "UnknownParent",
    "open_store",
]
