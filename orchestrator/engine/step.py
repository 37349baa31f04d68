"""Steps: the units a phase is made of, and the values they return.

A step is idempotent. ``inputs()`` names what it depends on (its checkpoint is reused while they
stay the same), ``hosts()`` the hosts it works on (empty: it runs once for the delivery),
``plan()`` says what would change without changing anything, and ``apply()`` does the work — per
host when there are hosts. Failures are values: ``apply()`` returns a ``Result`` with a status, or
raises an ``OrchestratorError`` that the engine turns into one (see ``orchestrator.engine.errors``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from orchestrator.engine.delivery import Delivery
from orchestrator.engine.errors import NotImplementedYet
from orchestrator.engine.status import Status
from orchestrator.spec import DeliverySpec
from orchestrator.store.protocol import AuditLog
from orchestrator.store.records import JsonMap, TaskRecord


@dataclass(frozen=True, slots=True)
class StepContext:
    """What a step is given: the delivery, where in the run it is, and earlier steps' outputs.

    ``audit`` is the run store's append-only audit log, where a step that changes an outside
    system records its intent before the request goes out (``None`` when there is no store).
    """

    delivery: Delivery
    run_id: str
    phase: int
    outputs: Mapping[str, JsonMap] = field(default_factory=dict)
    host: str | None = None
    audit: AuditLog | None = None

    @property
    def spec(self) -> DeliverySpec:
        """The validated spec of the delivery."""
        if self.delivery.spec is None:
            raise RuntimeError(f"delivery {self.delivery.id} was built without a spec")
        return self.delivery.spec

    def for_host(self, host: str) -> StepContext:
        """The same context, for one host."""
        return replace(self, host=host)


@dataclass(frozen=True, slots=True)
class Change:
    """One thing a step would change: ``create vlan acme-webshop/vlan (vid from ams1-vlans)``."""

    action: str
    target: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action} {self.target}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True, slots=True)
class Result:
    """What ``apply()`` did, for the delivery or for one host."""

    status: Status = Status.SUCCEEDED
    changed: bool = False
    outputs: JsonMap = field(default_factory=dict)
    error: str | None = None
    tasks: tuple[TaskRecord, ...] = ()


class Step(Protocol):
    """One idempotent piece of a phase."""

    @property
    def key(self) -> str:
        """Stable key, ``<phase name>.<what>``; checkpoints are found by it."""
        ...

    @property
    def title(self) -> str:
        """What the step does, for people."""
        ...

    def inputs(self, ctx: StepContext) -> JsonMap:
        """What the step depends on; a change re-runs it."""
        ...

    def hosts(self, ctx: StepContext) -> Sequence[str]:
        """The hosts ``apply()`` runs on, one call each; empty for a delivery-wide step."""
        ...

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        """What ``apply()`` would change; no side effects."""
        ...

    def apply(self, ctx: StepContext) -> Result:
        """Do the work (for ``ctx.host`` when the step has hosts)."""
        ...


@runtime_checkable
class Rechecking(Protocol):
    """A step that looks at the platform as it is now (a check), so that a checkpoint of an
    earlier run never stands in for looking again — until the gate that signs its results off
    has an approval of them: from then on the verdict stands, and a run with the same inputs
    skips the step like any other. ``settled_by`` names that gate."""

    @property
    def settled_by(self) -> str:
        """The gate whose current approval settles the step's results."""
        ...


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A step that is part of the process but not written yet: it fails closed."""

    key: str
    title: str

    def inputs(self, ctx: StepContext) -> JsonMap:  # noqa: ARG002 - the Step protocol
        return {}

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:  # noqa: ARG002 - the Step protocol
        raise NotImplementedYet(self.key)

    def apply(self, ctx: StepContext) -> Result:  # noqa: ARG002 - the Step protocol
        raise NotImplementedYet(self.key)


def input_hash(key: str, inputs: JsonMap, hosts: Sequence[str]) -> str:
    """Fingerprint of a step's inputs and hosts (SHA-256 of canonical JSON)."""
    canonical = json.dumps(
        {"step": key, "inputs": inputs, "hosts": list(hosts)},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
