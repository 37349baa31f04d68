"""Phase 7's application monitoring (``golive.monitoring``): the platform is watched as it runs
for the customer, and its alerts reach the operations team.

    1. routes     every alert the delivery will raise (its go-live checks' and its monitoring
                  checks', with the customer's labels and the team's routing label) is routed by
                  the site's Alertmanager to the receiver the site names for the spec's
                  ``operations.team`` (``AlertRouting``, read only); otherwise the step fails and
                  nothing is activated
    2. checks     the spec's ``monitoring.checks`` are published again with ``live=True``: those
                  with ``activate: go_live`` start alerting, and every rule now carries the
                  customer's labels and the team's (``CheckMonitoring``)
    3. go-live    each ``go_live.checks`` item of kind ``http`` or ``tcp`` becomes probes of the
                  delivery's addresses and an alert rule (``AppMonitoring``); ``manual`` checks
                  have nothing to probe

The labels every alert of the delivery carries from here on: ``customer`` (the customer's name),
``tenant``, ``delivery``, ``check``, and the site's routing label (``monitoring.alertmanager.
route_label``, e.g. ``team``) with the team's value. The step's inputs are everything it
publishes, so a second run with the same spec, records and site is skipped, and a run after a
change publishes only what changed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from orchestrator.adapters.prometheus import check_rules
from orchestrator.adapters.prometheus_app import ALERT, alert_labels
from orchestrator.engine.errors import Refused
from orchestrator.engine.ports.alert_routing import AlertPolicy, AlertRouting, TeamRoute
from orchestrator.engine.ports.app_monitoring import AppChecks, GoLiveProbe
from orchestrator.engine.ports.app_probe import hostport
from orchestrator.engine.ports.check_monitoring import resolve
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.phases.app_checks import VIP, AppTarget, delivered_targets
from orchestrator.phases.base import REACHABILITY, AdapterSource
from orchestrator.phases.monitoring import CHECKS, check_hosts
from orchestrator.spec import DeliverySpec
from orchestrator.spec.model import GoLiveCheck
from orchestrator.store.records import Json, JsonMap

MONITORING = "golive.monitoring"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def probe_of(target: AppTarget) -> GoLiveProbe:
    """The probe of one go-live check at one address, as ``golive.checks`` sends it: by address,
    with the URL's host name as ``Host``."""
    check, host = target.check, None if target.host == VIP else target.host
    if check.kind == "tcp":
        return GoLiveProbe(check.name, "tcp", hostport(target.address, int(check.port or 0)), host)
    request = target.request()
    where = hostport(request.address, request.port)
    if request.port == _DEFAULT_PORTS.get(request.scheme):
        where = where.rsplit(":", 1)[0]
    url = f"{request.scheme}://{where}{request.target}"
    return GoLiveProbe(check.name, "http", url, host, request.host, check.expect_status or 200,
                       check.content)  # fmt: skip


def app_probes(ctx: StepContext) -> tuple[GoLiveProbe, ...]:
    """Every probe of the delivery's ``http`` and ``tcp`` go-live checks."""
    return tuple(probe_of(target) for target in delivered_targets(ctx))


def team_route(spec: DeliverySpec, policy: AlertPolicy) -> TeamRoute:
    """The route of the spec's operations team; ``Refused`` when the site has none for it."""
    team = spec.operations.team
    route = policy.teams.get(team)
    if route is None:
        known = ", ".join(sorted(policy.teams)) or "none"
        raise Refused(
            f"the site routes no alerts for operations team {team!r} "
            f"(monitoring.alertmanager.teams names: {known})"
        )
    return route


def delivery_labels(spec: DeliverySpec, route: TeamRoute) -> dict[str, str]:
    """The labels every alert of the delivery carries after go-live."""
    return {"customer": spec.customer.name, "tenant": spec.customer.tenant,
            route.label: route.value}  # fmt: skip


def alerts(
    spec: DeliverySpec, labels: Mapping[str, str], probes: Sequence[GoLiveProbe]
) -> list[dict[str, str]]:
    """The label sets of every alert rule of the delivery (go-live and monitoring checks), each
    with its ``alertname``, once each."""
    found: dict[str, dict[str, str]] = {}
    for check in spec.monitoring.checks:
        for made in check_rules(spec.id, check, labels):
            rule = made if isinstance(made, Mapping) else {}
            named = {**_strings(rule.get("labels")), "alertname": str(rule.get("alert"))}
            found.setdefault(repr(sorted(named.items())), named)
    for probe in probes:
        named = {**alert_labels(spec.id, probe.check, probe.kind, labels), "alertname": ALERT}
        found.setdefault(repr(sorted(named.items())), named)
    return list(found.values())


def _strings(value: Json) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def route_problem(team: str, route: TeamRoute, labels: Mapping[str, str],
                  found: Sequence[str]) -> str | None:  # fmt: skip
    """Why an alert with ``labels``, routed to ``found``, does not reach the team; ``None`` if
    it does."""
    if route.receiver in found:
        return None
    reached = ", ".join(found) or "no receiver"
    return (
        f"the Alertmanager routes alert {labels.get('alertname')} of check {labels.get('check')} "
        f"to {reached}, not to {route.receiver} (operations team {team!r}): give it a route "
        f'matching {route.label}="{route.value}" to {route.receiver}'
    )


def verify_routes(
    routing: AlertRouting, team: str, route: TeamRoute, label_sets: Sequence[Mapping[str, str]]
) -> int:
    """Every label set reaches the team's receiver; ``Refused`` naming each that does not. The
    number of label sets tested."""
    found = [(labels, routing.receivers(labels)) for labels in label_sets]
    problems = [p for labels, to in found if (p := route_problem(team, route, labels, to))]
    if problems:
        raise Refused("; ".join(dict.fromkeys(problems)))
    return len(label_sets)


@dataclass(frozen=True, slots=True)
class MonitoringStep:
    """Activate application monitoring: routes checked, go-live checks probed and alerting."""

    adapters: AdapterSource
    key: str = MONITORING
    title: str = "Activate application monitoring"

    def inputs(self, ctx: StepContext) -> JsonMap:
        spec = ctx.spec
        checks = [c.model_dump(mode="json", exclude_none=True) for c in spec.monitoring.checks]
        if REACHABILITY not in ctx.outputs:  # planning before the machines are up
            return {"waiting_for": REACHABILITY, "checks": checks}
        policy = self.adapters().alert_policy
        route = policy.teams.get(spec.operations.team)
        hosts = {h.name: {"role": h.role, "address": h.address} for h in check_hosts(ctx)}
        return {
            "checks": checks,
            "hosts": hosts,
            "probes": [_probe_json(p) for p in app_probes(ctx)],
            "route": [route.label, route.value, route.receiver] if route else None,
            "customer": [spec.customer.name, spec.customer.tenant],
            "alert_after": policy.alert_after,
            # phase 3 publishes the checks silent (not live); when it has published them again
            # since, they must be made live again, even if nothing else changed
            "checks_published_by": (ctx.outputs.get(CHECKS) or {}).get("published_by"),
        }

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        spec, policy = ctx.spec, self.adapters().alert_policy
        route = policy.teams.get(spec.operations.team)
        team = spec.operations.team
        changes = [
            Change("route", f"alerts of {spec.id}", f"to receiver {route.receiver} of team "
                   f'{team}, by {route.label}="{route.value}"') if route else
            Change("refuse", f"alerts of {spec.id}", f"the site routes no alerts for team {team}")
        ]  # fmt: skip
        changes += [Change("activate", f"check {c.name}", f"{c.kind}, a go-live monitoring check")
                    for c in spec.monitoring.checks if c.activate == "go_live"]  # fmt: skip
        if REACHABILITY not in ctx.outputs:
            return changes + [Change("probe", f"go-live check {c.name}", f"{c.kind}, once the "
                              "hosts are up") for c in _probed(spec)]  # fmt: skip
        return changes + [
            Change("probe", f"go-live check {p.check}", _describe(p, policy.alert_after))
            for p in app_probes(ctx)
        ]

    def apply(self, ctx: StepContext) -> Result:
        spec, adapters = ctx.spec, self.adapters()
        route = team_route(spec, adapters.alert_policy)
        labels = delivery_labels(spec, route)
        probes = app_probes(ctx)
        if adapters.alert_routing is None:
            raise Refused("the site names no Alertmanager (monitoring.alertmanager): go-live "
                          "alerts would reach nobody")  # fmt: skip
        tested = verify_routes(adapters.alert_routing, spec.operations.team, route,
                               alerts(spec, labels, probes))  # fmt: skip
        changed = self._publish(ctx, labels, probes)
        return Result(changed=changed, outputs={
            "receiver": route.receiver, "team": spec.operations.team,
            "labels": dict(labels), "routes_tested": tested,
            "probes": [_probe_json(p) for p in probes],
            "active": [c.name for c in spec.monitoring.checks],
            "summary": summary(spec, route, probes, adapters.alert_policy.alert_after),
        })  # fmt: skip

    def _publish(self, ctx: StepContext, labels: Mapping[str, str],
                 probes: Sequence[GoLiveProbe]) -> bool:  # fmt: skip
        adapters, spec = self.adapters(), ctx.spec
        changed = False
        if spec.monitoring.checks:
            if adapters.checks is None:
                raise Refused("no monitoring system is configured to run the spec's checks")
            checks = resolve(spec.id, spec.monitoring.checks, check_hosts(ctx), live=True,
                             labels=labels)  # fmt: skip
            changed |= adapters.checks.publish_checks(checks)
        if adapters.app_monitoring is None:
            if probes:
                raise Refused("no monitoring system is configured to probe the go-live checks")
            return changed
        app = AppChecks(spec.id, tuple(probes), labels, adapters.alert_policy.alert_after)
        return adapters.app_monitoring.publish_app_checks(app) or changed


def summary(
    spec: DeliverySpec, route: TeamRoute, probes: Sequence[GoLiveProbe], alert_after: str
) -> list[Json]:
    """What was switched on, one line each, for the final report."""
    team = spec.operations.team
    routed = f'{route.receiver}, the receiver of {team} ({route.label}="{route.value}")'
    lines: list[Json] = [f"alerts go to {routed}; the Alertmanager's routes were tested"]
    lines += [f"go-live check {p.check}: {_describe(p, alert_after)}" for p in probes]
    lines += [f"monitoring check {c.name} ({c.kind}) alerts from go-live on"
              for c in spec.monitoring.checks if c.activate == "go_live"]  # fmt: skip
    return lines


def _probed(spec: DeliverySpec) -> Iterator[GoLiveCheck]:
    return (c for c in spec.go_live.checks if c.kind != "manual")


def _probe_json(probe: GoLiveProbe) -> JsonMap:
    return {"check": probe.check, "kind": probe.kind, "target": probe.target,
            "host": probe.host, "host_header": probe.host_header,
            "expect_status": probe.expect_status, "content": probe.content}  # fmt: skip


def _describe(probe: GoLiveProbe, alert_after: str) -> str:
    what = probe.target
    if probe.kind == "http":
        what += f" as {probe.host_header}" if probe.host_header else ""
        what += f", status {probe.expect_status}"
        what += f", containing {probe.content!r}" if probe.content else ""
    return f"{what} on {probe.where}; alerts after {alert_after}"
