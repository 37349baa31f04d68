"""Phase 4's ``buddycheck.observed``: ask the monitoring system and NetBox, not the hosts, whether
they match the delivered platform.

    buddycheck.observed   per host: ``monitoring up``, ``monitoring check <name>`` per spec check
                          on its roles (``MonitoringStatus``: Prometheus's API), ``netbox
                          address``, ``netbox platform``, ``netbox host key`` (``HostRecords``,
                          and ``Ipam.find`` for a record without a primary IP)

"Reality" is what phase 2 found (``base.reachability``: the address the host answered on, its OS
and pinned host key); it is compared with what NetBox records now. The checks and their
judgement are pure (``orchestrator.phases.observed``); this step gathers the facts. A system that
cannot be asked fails its checks with the reason, never the step: the buddycheck reports what it
found, and the step is ``failed`` when any check failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from orchestrator.engine.errors import OrchestratorError
from orchestrator.engine.ports.check_monitoring import CheckHost, resolve
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD, HostRecords, RecordRef
from orchestrator.engine.ports.ipam import Ipam, Kind
from orchestrator.engine.ports.monitoring_status import Observed
from orchestrator.engine.ports.platform_checks import Check, CheckResult
from orchestrator.engine.status import Status
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.phases.base import (
    REACHABILITY,
    AdapterSource,
    RecordsSource,
    host_facts,
    per_host,
)
from orchestrator.phases.netbox_steps import IpamSource
from orchestrator.phases.observed import (
    NO_PROMETHEUS,
    Reality,
    Recorded,
    judge_monitoring,
    judge_netbox,
    monitoring_checks,
    netbox_checks,
)
from orchestrator.store.records import Json, JsonMap

OBSERVED = "buddycheck.observed"
FIELDS = ("primary_ip4", "primary_ip6", "platform", "custom_fields")
#: What a monitoring system says of what it has not scraped, probed or evaluated yet: right after
#: phase 3 registered a target, a probe or a rule, the answer may be one of these for a while.
NOT_YET = ("no scrape target", "no probe result", "not evaluated", "no rule loaded",
           "no reason given")  # fmt: skip
SETTLE_SECONDS = 120.0
#: How long a failing monitoring check is asked again: its last probe or rule evaluation may
#: predate the services phase 3 started (a scrape interval or two).
RECHECK_SECONDS = 60.0
POLL_SECONDS = 5.0


def unsettled(result: CheckResult) -> bool:
    """Whether a failed monitoring result may only mean "not looked at yet"."""
    return (not result.passed and result.check.kind == "monitoring"
            and any(mark in result.found for mark in NOT_YET))  # fmt: skip


@dataclass(frozen=True, slots=True)
class ObservedStep:
    """Ask Prometheus and NetBox whether they see the delivered hosts as phase 2 found them."""

    adapters: AdapterSource
    ipam: IpamSource
    records: RecordsSource
    key: str = OBSERVED
    title: str = "Monitoring and NetBox agree with the delivered hosts"
    settle: float = SETTLE_SECONDS  # how long to ask again while monitoring has not looked yet
    recheck: float = RECHECK_SECONDS  # how long to ask again while a monitoring check fails
    pause: Callable[[float], None] = time.sleep
    settled_by: str = "buddycheck"

    def inputs(self, ctx: StepContext) -> JsonMap:
        """The hosts and checks. What Prometheus and NetBox say changes without anything of ours
        changing, so the step is ``Rechecking``: it asks again on every run until the buddycheck
        is signed off."""
        checks = [c.model_dump(mode="json", exclude_none=True) for c in ctx.spec.monitoring.checks]
        return {"hosts": list(_hosts(ctx)), "checks": checks}

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        realities = realities_of(ctx) if REACHABILITY in ctx.outputs else {}
        return [Change("check", f"{c.host}: {c.name}", c.expected)
                for c in _checks(ctx, realities)]  # fmt: skip

    def apply(self, ctx: StepContext) -> Result:
        """The results, asked again every few seconds while the monitoring system has not yet
        scraped, probed or evaluated what phase 3 registered (up to ``settle``), or while a
        monitoring check fails on an answer that may predate it (up to ``recheck``)."""
        started = time.monotonic()
        results = self._results(ctx)
        while self._again(results, time.monotonic() - started):
            self.pause(POLL_SECONDS)
            results = self._results(ctx)
        return outcome(results)

    def _again(self, results: Sequence[CheckResult], elapsed: float) -> bool:
        failing = [r for r in results if not r.passed and r.check.kind == "monitoring"]
        if any(unsettled(r) for r in failing) and elapsed < self.settle:
            return True
        return bool(failing) and elapsed < self.recheck

    def _results(self, ctx: StepContext) -> list[CheckResult]:
        realities = realities_of(ctx)
        monitoring = self._observe(ctx.delivery.id)
        recorded = self._recorded(realities)
        return [
            judge_monitoring(c, monitoring) if c.kind == "monitoring"
            else judge_netbox(c, realities.get(c.host), recorded.get(c.host, "not read"))
            for c in _checks(ctx, realities)
        ]  # fmt: skip

    def _observe(self, delivery: str) -> Observed | str:
        status = self.adapters().monitoring_status
        if status is None:
            return NO_PROMETHEUS
        try:
            return status.observe(delivery)
        except OrchestratorError as exc:
            return f"could not ask the monitoring system: {exc}"

    def _recorded(self, realities: Mapping[str, Reality]) -> Mapping[str, Recorded | str]:
        try:
            return read_recorded(list(realities.values()), self.records(), self.ipam())
        except OrchestratorError as exc:
            return dict.fromkeys(realities, f"could not read NetBox: {exc}")


def _hosts(ctx: StepContext) -> dict[str, str]:
    """The spec's hosts and their roles."""
    return {h.name: h.role for h in ctx.spec.expanded_hosts()}


def _checks(ctx: StepContext, realities: Mapping[str, Reality]) -> list[Check]:
    """Every check of the step, per host: monitoring first, then NetBox."""
    hosts = [CheckHost(name, role, "") for name, role in _hosts(ctx).items()]
    resolved = resolve(ctx.delivery.id, ctx.spec.monitoring.checks, hosts, live=False)
    monitoring = monitoring_checks(resolved, hosts)
    return [
        check
        for host in hosts
        for check in (*(c for c in monitoring if c.host == host.name),
                      *netbox_checks(host.name, realities.get(host.name)))
    ]  # fmt: skip


def realities_of(ctx: StepContext) -> dict[str, Reality]:
    """What phase 2 found on each host it reached, with the NetBox record describing it."""
    return {
        f.host: Reality(f.host, f.record, str(per_host(ctx, REACHABILITY, f.host)["address"]),
                        f.platform, f.host_key)
        for f in host_facts(ctx)
    }  # fmt: skip


def read_recorded(
    realities: Sequence[Reality], records: HostRecords, ipam: Ipam
) -> dict[str, Recorded | str]:
    """What NetBox records now for each host: one read per kind of record, and an address
    look-up for a record without a primary IP."""
    rows: dict[RecordRef, JsonMap] = {}
    for kind in sorted({r.record.kind for r in realities}):
        ids = [r.record.id for r in realities if r.record.kind is kind]
        rows |= {RecordRef(kind, i): row for i, row in records.fields(kind, ids, FIELDS).items()}
    return {r.host: _recorded(r, rows.get(r.record), ipam) for r in realities}


def _recorded(reality: Reality, row: JsonMap | None, ipam: Ipam) -> Recorded | str:
    if row is None:
        return f"NetBox has no {reality.record.what} #{reality.record.id} any more"
    family = "primary_ip6" if ":" in reality.address else "primary_ip4"
    primary = _text(row.get(family), "address")
    custom = row.get("custom_fields")
    key = custom.get(HOST_KEY_FIELD) if isinstance(custom, Mapping) else None
    return Recorded(
        primary.split("/")[0] if primary else None,
        _text(row.get("platform"), "slug"),
        str(key) if key else None,
        None if primary else _holds(ipam, reality),
    )


def _text(value: Json, name: str) -> str | None:
    """A nested object's field (``{"address": ...}``), as NetBox links them."""
    found = value.get(name) if isinstance(value, Mapping) else None
    return str(found) if found else None


def _holds(ipam: Ipam, reality: Reality) -> bool:
    """Whether NetBox has the host's address on an interface of its record."""
    found = ipam.find(Kind.IP, reality.address)
    return found is not None and found.links.get(reality.record.kind.value) == reality.record.id


def outcome(results: Sequence[CheckResult]) -> Result:
    """The step's result: ``failed`` when any check failed; every result, per host."""
    checks: dict[str, list[Json]] = {}
    for result in results:
        checks.setdefault(result.check.host, []).append(result.as_json())
    hosts: dict[str, Json] = {host: {"checks": found} for host, found in checks.items()}
    failed = [f"{r.check.host}: {r.check.name}" for r in results if not r.passed]
    return Result(
        status=Status.FAILED if failed else Status.SUCCEEDED,
        outputs={"hosts": hosts},
        error=f"{len(failed)} checks failed: {', '.join(failed)}" if failed else None,
    )
