"""Phase 4, internal quality control: a second engineer verifies the platform.

    buddycheck.verify         one check per sold item on every host (``phases.checks``), carried
                              out on the hosts by the ``PlatformChecks`` adapter, reaching them
                              as the playbooks do (the delivery's inventory and pinned host keys)
    buddycheck.observed       checks asked of other systems: the monitoring system sees every
                              host and check up, NetBox records what phase 2 found
                              (``orchestrator.phases.observed_step``)
    buddycheck.action_items   the results' fingerprint, which the sign-off signs
                              (``orchestrator.phases.evidence``)

Failed checks become action items as each check step finishes; the ``buddycheck`` gate before
phase 5 needs every one closed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orchestrator.adapters.inventory import prefix_of, vip_of
from orchestrator.engine.batch import HostOutcomes
from orchestrator.engine.errors import OrchestratorError, Refused
from orchestrator.engine.phase import Phase
from orchestrator.engine.ports.platform_checks import Check, CheckResult, ChecksRun, PlatformChecks
from orchestrator.engine.status import Status
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.phases.base import (
    ADDRESSES,
    REACHABILITY,
    Adapters,
    AdapterSource,
    RecordsSource,
    balancer_hosts,
    delivery_inventory,
    per_host,
)
from orchestrator.phases.checks import Delivered, checks_for
from orchestrator.phases.evidence import EvidenceStep
from orchestrator.phases.netbox_steps import IpamSource
from orchestrator.phases.observed_step import ObservedStep
from orchestrator.store.records import Json, JsonMap, TaskRecord

VERIFY = "buddycheck.verify"


def delivered(ctx: StepContext, adapters: Adapters) -> Delivered:
    """What the records say about the platform, as far as the phases so far have recorded it."""
    addresses = ctx.outputs.get(ADDRESSES) or {}
    hosts = (ctx.outputs.get(REACHABILITY) or {}).get("hosts")
    seen = hosts if isinstance(hosts, Mapping) else {}
    return Delivered(
        owns_kernel=frozenset(name for name, entry in seen.items()
                              if isinstance(entry, Mapping) and entry.get("owns_kernel", True)),
        vip=vip_of(addresses),
        vip_holder=next(iter(balancer_hosts(ctx)), None),
        prefix=prefix_of(addresses),
        management_networks=tuple(adapters.management_networks),
    )  # fmt: skip


def task_of(result: CheckResult) -> TaskRecord:
    """A check's result as one task of its host: ``expected X; found Y``."""
    status = Status.SUCCEEDED if result.passed else Status.FAILED
    detail = f"expected {result.check.expected}; found {result.found}"
    return TaskRecord(result.check.name, status, changed=False, detail=detail)


def host_result(results: Sequence[CheckResult]) -> Result:
    """One host's checks as its step result: ``failed`` when any check failed (the target said
    no), with every result in the outputs and one task per check."""
    failed = [r.check.name for r in results if not r.passed]
    error = f"{len(failed)} of {len(results)} checks failed: {', '.join(failed)}"
    checks: list[Json] = [r.as_json() for r in results]
    return Result(
        status=Status.FAILED if failed else Status.SUCCEEDED,
        outputs={"checks": checks, "failed": len(failed)},
        error=error if failed else None,
        tasks=tuple(task_of(r) for r in results),
    )


def described(check: Check) -> Json:
    """A check as a step input: what is checked and what is expected (its parameters too)."""
    return {"name": check.name, "kind": check.kind, "expected": check.expected,
            "params": dict(check.params)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class VerifyStep:
    """Verify every host against what was sold: one check per sold item, per host.

    ``inputs()`` holds the checks, the inventory and the pinned host keys. The step is
    ``Rechecking``: until the buddycheck is signed off, every run of phase 4 really checks again
    (a re-run after fixing things must look at the platform as it is now, never reuse an earlier
    run's verdict); once the sign-off approves its results, they stand while the inputs stay the
    same. ``plan()`` lists the checks without running them.
    """

    adapters: AdapterSource
    key: str = VERIFY
    title: str = "Verify the platform against what was agreed"
    settled_by: str = "buddycheck"

    def hosts(self, ctx: StepContext) -> Sequence[str]:
        return [h.name for h in ctx.spec.expanded_hosts()]

    def inputs(self, ctx: StepContext) -> JsonMap:
        if REACHABILITY not in ctx.outputs:  # planning before the machines are up
            return {"waiting_for": REACHABILITY}
        adapters = self.adapters()
        return {
            "checks": [described(c) for c in self.checks(ctx, adapters)],
            "inventory": delivery_inventory(ctx, adapters),
            "pins": {h: per_host(ctx, REACHABILITY, h).get("host_key") for h in self.hosts(ctx)},
        }

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        checks = self.checks(ctx, self.adapters())
        return [Change("check", f"{c.host}: {c.name}", f"expect {c.expected}") for c in checks]

    def apply(self, ctx: StepContext) -> Result:
        host = str(ctx.host)
        outcome = self.apply_hosts(ctx, (host,))[host]
        if isinstance(outcome, OrchestratorError):
            raise outcome
        return outcome

    def apply_hosts(self, ctx: StepContext, hosts: Sequence[str]) -> HostOutcomes:
        adapters = self.adapters()
        checks = tuple(c for c in self.checks(ctx, adapters) if c.host in hosts)
        results = self.executor(adapters).run(self.request(ctx, adapters, checks))
        by_host: dict[str, list[CheckResult]] = {host: [] for host in hosts}
        for result in results:
            by_host.setdefault(result.check.host, []).append(result)
        return {host: host_result(by_host[host]) for host in hosts}

    def checks(self, ctx: StepContext, adapters: Adapters) -> tuple[Check, ...]:
        """The checks of every host, from the spec and the records."""
        return checks_for(ctx.spec, delivered(ctx, adapters))

    def request(self, ctx: StepContext, adapters: Adapters, checks: tuple[Check, ...]) -> ChecksRun:
        """The checks with the delivery's inventory and pins; the delivery's secrets are there to
        compare with (the database password) and to censor, never to send."""
        workspace, delivery = adapters.workspace, ctx.delivery.id
        known = workspace.known_secrets(delivery)  # none generated: a missing one fails its check
        names = {str(c.params["secret"]) for c in checks if "secret" in c.params}
        site = [resolve() for resolve in adapters.settings.site_secrets.values()]
        return ChecksRun(
            inventory=delivery_inventory(ctx, adapters),
            known_hosts=workspace.write_known_hosts(delivery),
            checks=checks,
            secrets={name: known[name] for name in sorted(names) if name in known},
            censor=(*known.values(), *site),
        )

    @staticmethod
    def executor(adapters: Adapters) -> PlatformChecks:
        if adapters.platform_checks is None:
            raise Refused("the site's adapters have no platform checks (phase 4)")
        return adapters.platform_checks


def phase(adapters: AdapterSource, ipam: IpamSource, records: RecordsSource) -> Phase:
    """The phase's steps, checking through ``adapters``, ``ipam`` and ``records``."""
    return Phase(
        number=4,
        name="buddycheck",
        title="Internal quality control (buddycheck)",
        entries=(
            VerifyStep(adapters),
            ObservedStep(adapters, ipam, records),
            EvidenceStep(),
        ),
    )


__all__ = ["VERIFY", "VerifyStep", "host_result", "phase", "task_of"]
