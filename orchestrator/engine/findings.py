"""Findings: a failed check opens an action item; the same check passing again closes it.

Any step whose outputs carry check results (``{"hosts": {host: {"checks": [...]}}}``, see
``orchestrator.engine.ports.platform_checks``) is reconciled with the delivery's action items when
it finishes, by ``FindingsObserver``, which the engine always runs:

- a failed check with no open item for its host and name opens one (opened by ``buddycheck``),
  naming the check, the host, what was expected and what was found;
- an open item whose check now passes, or is no longer made, is closed by ``buddycheck``, saying
  in which run;
- an item a person closed by hand (``orchestrator actions close``, audited) while its check still
  failed is an accepted finding: the same check finding the same thing opens no new item, and a
  step judging its results with ``failing`` does not fail for it. A check that finds something
  else opens a new item.

Only the hosts a step reports on are reconciled: a run that checked one host leaves the items of
the others alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from orchestrator.engine.delivery import Delivery
from orchestrator.engine.gates import GateState
from orchestrator.engine.ports.platform_checks import CheckResult, result_from_json
from orchestrator.engine.status import Status
from orchestrator.store.protocol import AuditLog, Decisions
from orchestrator.store.records import (
    ActionItem,
    AuditEntry,
    HostRecord,
    JsonMap,
    PhaseRecord,
    RunRecord,
    StepRecord,
)

log = structlog.get_logger("orchestrator.engine")

#: Who opens and closes action items on the checks' word.
CHECKS = "buddycheck"

type Finding = tuple[str, str]  # (host, check name)


def results_in(outputs: JsonMap) -> list[CheckResult]:
    """The check results a step's outputs carry, host by host; none when it carries none."""
    hosts = outputs.get("hosts")
    if not isinstance(hosts, Mapping):
        return []
    found = []
    for host, entry in hosts.items():
        checks = entry.get("checks") if isinstance(entry, Mapping) else None
        if isinstance(checks, Sequence) and not isinstance(checks, str):
            found += [result_from_json(host, c) for c in checks if isinstance(c, Mapping)]
    return found


def _finding(result: CheckResult) -> Finding:
    return result.check.host, result.check.name


def accepted(items: Iterable[ActionItem]) -> set[tuple[str, str, str]]:
    """(host, check, found) of the items a person closed by hand: findings accepted as they are."""
    return {
        (str(i.host), str(i.check), str(i.found))
        for i in items
        if not i.open and i.closed_by != CHECKS and i.host and i.check
    }


def failing(results: Iterable[CheckResult], items: Iterable[ActionItem]) -> list[CheckResult]:
    """The failed results no person has accepted (``accepted``)."""
    ok = accepted(items)
    return [r for r in results if not r.passed and (*_finding(r), r.found) not in ok]


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What to do with the action items after a step reported ``results``."""

    to_open: tuple[CheckResult, ...]
    to_close: tuple[tuple[ActionItem, str], ...]


def reconcile(
    key: str, results: Sequence[CheckResult], items: Sequence[ActionItem], run_id: str
) -> Reconciliation:
    """Items to open for new failures and to close for checks that pass (or are gone), among the
    items step ``key`` opened for the hosts ``results`` report on."""
    hosts = {r.check.host for r in results}
    mine = [i for i in items if i.step_key == key and i.host in hosts]
    open_items = {(str(i.host), str(i.check)): i for i in mine if i.open}
    current = {_finding(r): r for r in results}
    to_open = tuple(r for r in failing(results, mine) if _finding(r) not in open_items)
    to_close = tuple(
        (item, f"check passed in run {run_id}" if finding in current
         else f"check no longer made (run {run_id})")
        for finding, item in open_items.items()
        if finding not in current or current[finding].passed
    )  # fmt: skip
    return Reconciliation(to_open, to_close)


def title(result: CheckResult) -> str:
    """An item's title: ``web-01: service nginx: expected running and enabled, found inactive``."""
    check = result.check
    return f"{check.host}: {check.name}: expected {check.expected}, found {result.found}"


class FindingsStore(Decisions, AuditLog, Protocol):
    """What the findings observer needs of the run store."""


class FindingsObserver:
    """Reconciles the delivery's action items with each finished step's check results."""

    def __init__(self, store: FindingsStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        self.delivery_id = ""

    def run_started(self, run: RunRecord, delivery: Delivery, *, resumed: bool) -> None:  # noqa: ARG002 - the protocol
        self.delivery_id = run.delivery_id

    def step_finished(self, step: StepRecord) -> None:
        if step.status not in {Status.SUCCEEDED, Status.FAILED}:
            return
        results = results_in(step.outputs)
        if not results:
            return
        items = self.store.list_action_items(self.delivery_id)
        plan = reconcile(step.key, results, items, step.run_id)
        for result in plan.to_open:
            self._open(step, result)
        for item, resolution in plan.to_close:
            self._close(step, item, resolution)

    def _open(self, step: StepRecord, result: CheckResult) -> None:
        check = result.check
        item = self.store.open_action_item(ActionItem(
            self.delivery_id, title(result), CHECKS, self.clock(), step.key,
            host=check.host, check=check.name, expected=check.expected, found=result.found,
        ))  # fmt: skip
        self._audit(step, "action_item_opened", item)
        log.warning("action_item_opened", item=item.id, host=check.host, check=check.name)

    def _close(self, step: StepRecord, item: ActionItem, resolution: str) -> None:
        assert item.id is not None  # noqa: S101 - items come from the store, with ids
        closed = self.store.close_action_item(item.id, CHECKS, resolution)
        self._audit(step, "action_item_closed", closed)
        log.info("action_item_closed", item=item.id, host=item.host, check=item.check)

    def _audit(self, step: StepRecord, action: str, item: ActionItem) -> None:
        detail = {"item": item.id, "host": item.host, "check": item.check,
                  "resolution": item.resolution}  # fmt: skip
        entry = AuditEntry(self.clock(), CHECKS, action, self.delivery_id, step.run_id, detail)
        self.store.append_audit(entry)

    def phase_started(self, phase: PhaseRecord) -> None: ...
    def gate_checked(self, run: RunRecord, state: GateState) -> None: ...
    def step_started(self, step: StepRecord, hosts: Sequence[str]) -> None: ...
    def host_finished(self, host: HostRecord) -> None: ...
    def phase_finished(self, phase: PhaseRecord) -> None: ...
    def run_finished(self, run: RunRecord) -> None: ...
