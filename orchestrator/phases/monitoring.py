"""Phase 3's monitoring of the extra software: the spec's ``monitoring.checks`` in the monitoring
system.

    software.monitoring   each check resolved to the hosts of its roles (addresses from the
                          records) and published through the ``CheckMonitoring`` port: checks
                          with ``activate: build`` alert from now on, those with
                          ``activate: go_live`` are recorded and stay silent until phase 7

The step runs once for the delivery, after the playbook (which points the node exporter's
systemd collector at the units that ``process`` checks watch). Publishing replaces the delivery's
earlier checks, so a check removed from the spec disappears from the monitoring system.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orchestrator.engine.errors import Refused
from orchestrator.engine.ports.check_monitoring import CheckHost, DeliveryChecks, resolve
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.phases.base import REACHABILITY, AdapterSource, expanded, outputs_of, per_host
from orchestrator.store.records import JsonMap

CHECKS = "software.monitoring"


def check_hosts(ctx: StepContext) -> tuple[CheckHost, ...]:
    """The delivery's reached hosts, with their roles and addresses."""
    reached = outputs_of(ctx, REACHABILITY).get("hosts")
    return tuple(
        CheckHost(name, host.role, str(per_host(ctx, REACHABILITY, name)["address"]))
        for name, host in expanded(ctx).items()
        if isinstance(reached, Mapping) and name in reached
    )


@dataclass(frozen=True, slots=True)
class ChecksStep:
    """Publish the spec's monitoring checks; ``live`` (phase 7) activates the go-live ones."""

    adapters: AdapterSource
    key: str = CHECKS
    title: str = "The spec's monitoring checks in the monitoring system"
    live: bool = False

    def inputs(self, ctx: StepContext) -> JsonMap:
        checks = [c.model_dump(mode="json", exclude_none=True) for c in ctx.spec.monitoring.checks]
        if REACHABILITY not in ctx.outputs:  # planning before the machines are up
            return {"waiting_for": REACHABILITY, "checks": checks}
        hosts = {h.name: {"role": h.role, "address": h.address} for h in check_hosts(ctx)}
        return {"checks": checks, "hosts": hosts, "live": self.live}

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        hosts = check_hosts(ctx) if REACHABILITY in ctx.outputs else ()
        resolved = resolve(ctx.delivery.id, ctx.spec.monitoring.checks, hosts, live=self.live)
        return [
            Change("monitor", f"check {c.name}", f"{c.check.kind}, {_on(c.hosts, c.check.roles)}")
            for c in resolved.active()
        ] + [
            Change("record", f"check {c.name}", f"{c.check.kind}, alerts from go-live (phase 7)")
            for c in resolved.pending()
        ]

    def apply(self, ctx: StepContext) -> Result:
        resolved = resolve(ctx.delivery.id, ctx.spec.monitoring.checks, check_hosts(ctx),
                           live=self.live)  # fmt: skip
        port = self.adapters().checks
        if port is None:
            if resolved.checks:
                raise Refused("no monitoring system is configured to run the spec's checks")
            return Result(outputs=_outputs(resolved, ctx.run_id))
        changed = port.publish_checks(resolved)
        return Result(changed=changed, outputs=_outputs(resolved, ctx.run_id))


def _on(hosts: Sequence[CheckHost], roles: Sequence[str] | None) -> str:
    where = f"roles {', '.join(roles)}" if roles else "every role"
    return f"{len(hosts)} hosts ({where})" if hosts else f"the hosts of {where}"


def _outputs(resolved: DeliveryChecks, run_id: str) -> JsonMap:
    """What was published, and by which run: phase 7 publishes the checks again (live) whenever
    a later run of this step has replaced them (see ``golive_monitoring.MonitoringStep``)."""
    return {
        "active": [c.name for c in resolved.active()],
        "pending": [c.name for c in resolved.pending()],
        "published_by": run_id,
    }
