"""Releasing a delivery's reservations: everything carrying its key, in reverse order, nothing else.

``release`` is what ``orchestrator release DELIVERY`` does, and what a failed phase 1 does unless
``--keep-on-failure`` is given (``release_after_failure``). An object NetBox refuses to delete
(a tenant another delivery still uses) is kept and reported. The release is written to the audit
log; the phase-1 steps include the number of releases in their inputs, so a later run redoes them.

Given the delivery's ``Workspace``, ``release`` also forgets its pinned host keys and generated
passwords (the shared state in the run store, and the local files). A failed phase 1 does not:
its rollback undoes reservations, and the passwords hosts may already use are kept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import structlog

from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.errors import Refused
from orchestrator.engine.ports.ipam import RELEASE_ORDER, Ipam, Kind, Owned
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.status import Status
from orchestrator.phases.reservations import RELEASED, has_intents
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import AuditEntry, Json, RunRecord

log = structlog.get_logger("orchestrator.phases.release")


@dataclass(frozen=True, slots=True)
class Released:
    """What a release removed and what NetBox would not let go, per kind."""

    removed: dict[Kind, list[Owned]] = field(default_factory=dict)
    kept: dict[Kind, str] = field(default_factory=dict)
    forgotten: int = 0  # pins and generated passwords forgotten with the delivery

    def counts(self) -> dict[str, Json]:
        """Kind to number removed, for the audit log."""
        return {kind.value: len(items) for kind, items in self.removed.items() if items}


def owned_by(ipam: Ipam, delivery: str) -> dict[Kind, list[Owned]]:
    """Every object carrying the delivery's key, per kind, in release order."""
    return {kind: list(ipam.owned(kind, delivery).values()) for kind in RELEASE_ORDER}


#: Transient NetBox errors during a release are retried (a bulk delete of VMs can be slow).
RELEASE_RETRY = RetryPolicy(attempts=5, initial_backoff=1.0, jitter=1.0, deadline=300.0)


def release(  # noqa: PLR0913 - the release's collaborators
    ipam: Ipam,
    store: RunStore,
    delivery: str,
    who: str,
    run_id: str | None = None,
    *,
    retry: RetryPolicy = RELEASE_RETRY,
    workspace: Workspace | None = None,
) -> Released:
    """Remove the delivery's keyed objects, newest kind first, and, given its ``workspace``, its
    pins and generated passwords; record it in the audit log."""
    result = Released()
    for kind in RELEASE_ORDER:  # read just before deleting: NetBox cascades (VM -> its addresses)
        retry.call(functools.partial(_release_kind, ipam, kind, delivery, result))
    kept: dict[str, Json] = {kind.value: why for kind, why in result.kept.items()}
    detail: dict[str, Json] = {"removed": result.counts(), "kept": kept}
    if workspace is not None:
        result = replace(result, forgotten=workspace.forget(delivery))
        detail["state_forgotten"] = result.forgotten
    store.append_audit(AuditEntry(datetime.now(UTC), who, RELEASED, delivery, run_id, detail))
    log.info("reservations_released", delivery=delivery, **detail)
    return result


def _release_kind(ipam: Ipam, kind: Kind, delivery: str, result: Released) -> None:
    _remove(ipam, kind, list(ipam.owned(kind, delivery).values()), result)


def _remove(ipam: Ipam, kind: Kind, items: Sequence[Owned], result: Released) -> None:
    if not items:
        return
    try:
        ipam.delete(kind, [item.id for item in items])
    except Refused as exc:
        result.kept[kind] = str(exc)
        return
    result.removed[kind] = list(items)


def phase1_failed(store: RunStore, run: RunRecord) -> bool:
    """Whether phase 1 ended ``failed`` (the target said no) in ``run``."""
    return any(p.number == 1 and p.status is Status.FAILED for p in store.list_phases(run.id))


def release_after_failure(
    ipam: Callable[[], Ipam], store: RunStore, run: RunRecord
) -> Released | None:
    """Release the delivery's reservations if phase 1 failed in ``run`` and reserved anything."""
    if not phase1_failed(store, run) or not has_intents(store.list_audit(run.delivery_id)):
        return None
    return release(ipam(), store, run.delivery_id, run.who, run.id)
