"""The spec's go-live checks, sent to the delivered platform by address, and judged.

    app_targets(spec, vip, addresses)   each http/tcp check with where it goes: an ``http`` check
                                        to the VIP (or to each host of its ``role``), a ``tcp``
                                        check to each host of its role
    run_app_checks(targets, probe)      one ``CheckResult`` per target (``AppProbe``)
    GoLiveChecksStep                    phase 7's ``golive.checks``: the results, and their
                                        fingerprint that the ``go_live`` approval signs

A check is named ``go-live <name>`` on its host (``vip`` for the VIP), so a failure opens an
action item like any buddycheck finding. ``manual`` checks are not run: the delivery manager's
``go_live`` approval confirms them, and the step lists them. Phase 6's cut-over smoke test runs
the same checks against the target before the switch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from orchestrator.adapters.inventory import vip_of
from orchestrator.engine.errors import Refused
from orchestrator.engine.ports.app_probe import AppProbe, HttpAnswer, HttpProbe, hostport
from orchestrator.engine.ports.platform_checks import Check, CheckResult
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.phases.base import ADDRESSES, AdapterSource, address_of, outputs_of
from orchestrator.phases.evidence import evidence_of
from orchestrator.phases.observed_step import outcome
from orchestrator.spec.model import DeliverySpec, GoLiveCheck
from orchestrator.store.records import Json, JsonMap

GO_LIVE_CHECKS = "golive.checks"
#: The host a check sent to the VIP is recorded on.
VIP = "vip"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class AppTarget:
    """One go-live check and one address it is sent to."""

    check: GoLiveCheck
    host: str  # a host's name, or ``vip``
    address: str

    def request(self) -> HttpProbe:
        """The request of an ``http`` check, by address."""
        url = urlsplit(self.check.url or "")
        if url.hostname is None:
            raise ValueError(f"go-live check {self.check.name} has no URL")
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        port = url.port or _DEFAULT_PORTS[url.scheme]
        return HttpProbe(url.scheme, self.address, port, target, url.hostname)

    def as_check(self) -> Check:
        """The check as the buddycheck's checks are recorded: ``go-live shop-home``."""
        return Check(self.host, f"go-live {self.check.name}", self.check.kind, self.expected())

    def expected(self) -> str:
        """What must come back, in words."""
        if self.check.kind == "tcp":
            return f"{hostport(self.address, int(self.check.port or 0))} accepts connections"
        status = self.check.expect_status or 200
        content = f" containing {self.check.content!r}" if self.check.content else ""
        return f"{self.request().shown()} answers {status}{content}"

    def described(self) -> Json:
        """The target as a step input."""
        check: Json = self.check.model_dump(mode="json", exclude_none=True)
        return {"check": check, "host": self.host, "address": self.address}


def app_targets(
    spec: DeliverySpec, vip: str | None, addresses: Mapping[str, str]
) -> list[AppTarget]:
    """Every http/tcp go-live check with each address it goes to, in the spec's order."""
    made = []
    for check in spec.go_live.checks:
        if check.kind == "manual":
            continue
        if check.role is None:  # http to the VIP (the spec is checked to have one)
            if vip is None:
                raise Refused(f"go-live check {check.name}: phase 1 reserved no VIP")
            made.append(AppTarget(check, VIP, vip))
            continue
        made += [
            AppTarget(check, host.name, addresses[host.name])
            for host in spec.expanded_hosts()
            if host.role == check.role
        ]
    return made


def manual_checks(spec: DeliverySpec) -> list[GoLiveCheck]:
    """The checks a person confirms (at the ``go_live`` gate)."""
    return [check for check in spec.go_live.checks if check.kind == "manual"]


def judge(target: AppTarget, answer: HttpAnswer | str | None) -> CheckResult:
    """A target's result from its answer (an ``HttpAnswer``, or a tcp check's refusal or
    ``None``)."""
    check = target.as_check()
    if not isinstance(answer, HttpAnswer):
        return CheckResult(check, passed=answer is None, found=answer or "accepts connections")
    if answer.status is None:
        return CheckResult(check, passed=False, found=f"no answer: {answer.error}")
    expected = target.check.expect_status or 200
    if answer.status != expected:
        return CheckResult(check, passed=False, found=f"status {answer.status}")
    content = target.check.content
    if content and content not in answer.body:
        return CheckResult(
            check, passed=False, found=f"status {answer.status}, without {content!r}"
        )
    found = f"status {answer.status}" + (f" containing {content!r}" if content else "")
    return CheckResult(check, passed=True, found=found)


def run_app_checks(targets: Sequence[AppTarget], probe: AppProbe) -> list[CheckResult]:
    """Send every target's check and judge what came back."""
    results = []
    for target in targets:
        if target.check.kind == "tcp":
            answer: HttpAnswer | str | None = probe.tcp(target.address, int(target.check.port or 0))
        else:
            answer = probe.http(target.request())
        results.append(judge(target, answer))
    return results


def delivered_targets(ctx: StepContext) -> list[AppTarget]:
    """The go-live checks of the delivery in ``ctx``, at the addresses phase 1 reserved."""
    addresses = {host.name: address_of(ctx, host) for host in ctx.spec.expanded_hosts()}
    return app_targets(ctx.spec, vip_of(outputs_of(ctx, ADDRESSES)), addresses)


@dataclass(frozen=True, slots=True)
class GoLiveChecksStep:
    """Send the go-live checks to the platform by address; the results are the ``go_live``
    approval's evidence. ``Rechecking``: every run asks again until the delivery manager approves
    going live on these results."""

    adapters: AdapterSource
    key: str = GO_LIVE_CHECKS
    title: str = "Run the go-live checks against the platform, by address"
    settled_by: str = "go_live"

    def inputs(self, ctx: StepContext) -> JsonMap:
        if ADDRESSES not in ctx.outputs:  # planning before phase 1
            return {"waiting_for": ADDRESSES}
        manual = [c.model_dump(mode="json", exclude_none=True) for c in manual_checks(ctx.spec)]
        return {"targets": [t.described() for t in delivered_targets(ctx)], "manual": manual}

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        if ADDRESSES not in ctx.outputs:
            return [Change("check", f"go-live {c.name}", c.kind) for c in ctx.spec.go_live.checks]
        checks = [t.as_check() for t in delivered_targets(ctx)]
        manual = [Change("confirm", f"go-live {c.name}", f"at the go_live gate: {c.description}")
                  for c in manual_checks(ctx.spec)]  # fmt: skip
        return [Change("check", f"{c.host}: {c.name}", c.expected) for c in checks] + manual

    def apply(self, ctx: StepContext) -> Result:
        probe = self.adapters().app_probe
        if probe is None:
            raise Refused("no application probe is wired for this site")
        results = run_app_checks(delivered_targets(ctx), probe)
        manual = [f"{c.name}: {c.description}" for c in manual_checks(ctx.spec)]
        judged = outcome(results)
        outputs = {**judged.outputs, "evidence": evidence_of(results), "manual": list(manual)}
        return Result(judged.status, outputs=outputs, error=judged.error)
