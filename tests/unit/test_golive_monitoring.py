"""Phase 7's application monitoring: go-live checks rendered as blackbox modules, probe targets
and rules; the shared blackbox configuration; the site's Alertmanager settings; the routes
checked; and the ``golive.monitoring`` step with fakes (facts in, changes out, no-change too)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.adapters.alertmanager import matcher, receivers_of
from orchestrator.adapters.blackbox_config import BlackboxConfig, update_modules
from orchestrator.adapters.inventory import probe_ports
from orchestrator.adapters.prometheus import BLACKBOX_MODULES
from orchestrator.adapters.prometheus_app import (
    ALERT,
    http_module,
    modules,
    quote_meta,
    rules,
    targets,
)
from orchestrator.adapters.prometheus_files import FileAppMonitoring, FilePrometheus
from orchestrator.cli.site import blackbox_config_line, team_lines
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.errors import Refused
from orchestrator.engine.ports.alert_routing import AlertPolicy, TeamRoute
from orchestrator.engine.ports.app_monitoring import AppChecks, GoLiveProbe
from orchestrator.engine.ports.check_monitoring import DeliveryChecks
from orchestrator.engine.step import StepContext
from orchestrator.lab import alertmanager as lab_alertmanager
from orchestrator.lab import prometheus as lab_prometheus
from orchestrator.lab.paths import LabPaths
from orchestrator.phases import base
from orchestrator.phases.golive_monitoring import (
    MonitoringStep,
    alerts,
    delivery_labels,
    route_problem,
    verify_routes,
)
from orchestrator.phases.monitoring import CHECKS
from orchestrator.site import SiteError, load_site
from orchestrator.spec import DeliverySpec
from orchestrator.spec.loader import parse_spec
from orchestrator.store.records import Json
from orchestrator.testing import fake_adapters
from orchestrator.testing_alerts import InMemoryAppMonitoring, ScriptedAlertRouting, routing_to
from tests.integration.phase23_support import addresses_for
from tests.unit.test_site import SITE

DELIVERY = "gl-unit"
SPEC = f"""
id: {DELIVERY}
customer: {{name: "Acme \\"Shop\\" B.V.", tenant: acme}}
delivery_manager: {{name: Sanne Jansen, email: sanne@hosting.example.com}}
lead_engineer: {{name: Joris Bakker, email: joris@hosting.example.com}}
preconditions: {{quote: {{signed: true}}, data_processing_agreement: {{signed: true}}}}
network: {{site: lab, vlan_group: lab-vlans, parent_prefix: 10.213.128.0/17, prefix_length: 28,
          load_balancer: {{backend_role: web, ports: [{{port: 443}}]}}}}
hosts:
  - {{name: "web-{{n:02d}}", role: web, count: 2, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
monitoring:
  checks:
    - {{name: web-port, kind: tcp, roles: [web], port: 80}}
    - {{name: checkout, kind: http, roles: [web], port: 80, path: /checkout, activate: go_live}}
go_live:
  checks:
    - {{name: shop, kind: http, url: "https://shop.acme.example.nl/", content: Welcome (to) Acme}}
    - {{name: api, kind: http, url: "http://api.acme.example.nl:8080/v1?x=1", role: web,
       expect_status: 204}}
    - {{name: web-port, kind: tcp, role: web, port: 443}}
    - {{name: dns, kind: manual, description: the name points to the VIP}}
operations: {{team: Ops B, email: ops-b@hosting.example.com}}
"""
ROUTE = TeamRoute("team", "ops-b", "ops-b-pager")
POLICY = AlertPolicy({"Ops B": ROUTE}, "30s")
HTTP = GoLiveProbe("shop", "http", "https://10.213.202.100/", None, "shop.acme.example.nl", 200,
                "Welcome (to) the $hop")  # fmt: skip
TCP = GoLiveProbe("web-port", "tcp", "10.213.202.10:443", "web-01")
LABELS = {"customer": "Acme B.V.", "tenant": "acme", "team": "ops-b"}


def _spec() -> DeliverySpec:
    return parse_spec(SPEC, "golive.yaml")


def _checks(*probes: GoLiveProbe) -> AppChecks:
    return AppChecks(DELIVERY, probes or (HTTP, TCP), LABELS, "30s")


# --- rendering ---------------------------------------------------------------------------------


def test_an_http_check_gets_a_module_with_its_host_status_and_literal_content() -> None:
    module: Any = http_module(HTTP)
    assert module["prober"] == "http"
    http = module["http"]
    assert http["headers"] == {"Host": "shop.acme.example.nl"}
    assert http["tls_config"] == {"server_name": "shop.acme.example.nl"}  # https: SNI and cert
    assert http["valid_status_codes"] == [200]
    assert http["fail_if_body_not_matches_regexp"] == [r"Welcome \(to\) the \$hop"]
    assert http["follow_redirects"] is False


def test_a_plain_http_check_with_a_port_names_no_tls_and_no_content_match() -> None:
    probe = GoLiveProbe("api", "http", "http://10.0.0.5:8080/v1", "web-01", "api.example:8080", 204)
    module: Any = http_module(probe)
    http = module["http"]
    assert http["headers"] == {"Host": "api.example:8080"}
    assert "tls_config" not in http
    assert "fail_if_body_not_matches_regexp" not in http
    assert http["valid_status_codes"] == [204]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("plain text", "plain text"), ("a.b*c", r"a\.b\*c"), ("[x]{1}^$|\\", r"\[x\]\{1\}\^\$\|\\")],
)
def test_content_is_quoted_as_go_quotes_meta_characters(text: str, expected: str) -> None:
    assert quote_meta(text) == expected


def test_only_http_checks_get_modules_named_by_delivery_and_check() -> None:
    assert sorted(modules(_checks())) == [f"golive_{DELIVERY}_shop"]


def test_targets_carry_the_check_module_and_host() -> None:
    groups: Any = targets(_checks())
    assert groups == [
        {"targets": ["https://10.213.202.100/"],
         "labels": {"delivery": DELIVERY, "check": "shop", "kind": "http",
                    "module": f"golive_{DELIVERY}_shop", "stage": "go_live"}},
        {"targets": ["10.213.202.10:443"],
         "labels": {"delivery": DELIVERY, "check": "web-port", "kind": "tcp",
                    "module": "tcp_connect", "stage": "go_live", "host": "web-01"}},
    ]  # fmt: skip


def test_one_rule_per_check_with_the_customer_and_team_labels_held_for_alert_after() -> None:
    twice = _checks(HTTP, TCP, replace(TCP, host="web-02", target="10.213.202.11:443"))
    data: Any = rules(twice)
    (group,) = data["groups"]
    assert group["name"] == f"golive-{DELIVERY}"
    by_check = {r["labels"]["check"]: r for r in group["rules"]}
    assert sorted(by_check) == ["shop", "web-port"]
    tcp = by_check["web-port"]
    assert tcp["alert"] == ALERT
    assert tcp["for"] == "30s"
    assert tcp["expr"] == (
        f'probe_success{{job="probe",delivery="{DELIVERY}",check="web-port",stage="go_live"}} == 0'
    )
    assert tcp["labels"] == {**LABELS, "delivery": DELIVERY, "check": "web-port", "kind": "tcp",
                             "severity": "critical", "stage": "go_live"}  # fmt: skip


# --- the blackbox exporter's configuration ------------------------------------------------------


class RecordedBlackbox(BlackboxConfig):
    """A ``BlackboxConfig`` whose reloads are recorded (or refused), with no exporter to ask."""

    reloads: list[Any]
    refuse: bool

    def __init__(self, path: Path, *, refuse: bool = False) -> None:
        super().__init__(path, "http://127.0.0.1:9")
        object.__setattr__(self, "reloads", [])
        object.__setattr__(self, "refuse", refuse)

    def reload(self) -> None:
        self.reloads.append(yaml.safe_load(self.path.read_text()))
        if self.refuse:
            raise Refused("error parsing config file")


def _modules(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    found: dict[str, Any] = data["modules"]
    return found


def test_a_delivery_s_modules_replace_its_own_and_keep_every_other(tmp_path: Path) -> None:
    path = tmp_path / "blackbox.yml"
    path.write_text(yaml.safe_dump({"modules": {
        "http_2xx": {"prober": "http"}, f"golive_{DELIVERY}_old": {"prober": "http"},
        "golive_other_shop": {"prober": "http"},
    }}))  # fmt: skip
    blackbox = RecordedBlackbox(path)
    assert blackbox.replace_modules(f"golive_{DELIVERY}_", modules(_checks()))
    assert sorted(_modules(path)) == [f"golive_{DELIVERY}_shop", "golive_other_shop", "http_2xx"]
    assert len(blackbox.reloads) == 1
    assert not blackbox.replace_modules(f"golive_{DELIVERY}_", modules(_checks()))
    assert len(blackbox.reloads) == 1
    assert blackbox.replace_modules(f"golive_{DELIVERY}_", {})
    assert sorted(_modules(path)) == ["golive_other_shop", "http_2xx"]
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_an_unchanged_file_keeps_its_comments(tmp_path: Path) -> None:
    path = tmp_path / "blackbox.yml"
    text = "# ours\nmodules:\n  http_2xx: {prober: http}  # the site's\n"
    path.write_text(text)
    assert not update_modules(path, lambda m: {**m, "http_2xx": {"prober": "http"}})
    assert path.read_text() == text


def test_a_refused_configuration_is_put_back_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "blackbox.yml"
    text = "modules:\n  http_2xx: {prober: http}\n"
    path.write_text(text)
    blackbox = RecordedBlackbox(path, refuse=True)
    with pytest.raises(Refused, match="error parsing"):
        blackbox.replace_modules(f"golive_{DELIVERY}_", modules(_checks()))
    assert path.read_text() == text
    assert len(blackbox.reloads) == 2  # the new one, then the old again


def test_a_file_that_is_not_a_blackbox_configuration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "blackbox.yml"
    path.write_text("modules: [a, b]\n")
    with pytest.raises(Refused, match="no `modules` mapping"):
        RecordedBlackbox(path).replace_modules("golive_x_", {})


class RecordedPrometheus(FilePrometheus):
    """A ``FilePrometheus`` whose reloads are counted, with no Prometheus to ask."""

    def reload(self) -> None:
        counts: list[int] = self.__dict__.setdefault("reloads", [])
        counts.append(1)


def test_file_app_monitoring_writes_targets_rules_and_modules_and_removes_them(
    tmp_path: Path,
) -> None:
    prometheus = RecordedPrometheus(tmp_path / "targets", tmp_path / "rules", "http://127.0.0.1:9")
    blackbox = RecordedBlackbox(tmp_path / "blackbox.yml")
    monitoring = FileAppMonitoring(prometheus, blackbox)
    assert monitoring.publish_app_checks(_checks())
    probes = tmp_path / "targets" / "probes" / f"golive_{DELIVERY}.json"
    rule_file = tmp_path / "rules" / f"golive_{DELIVERY}.yml"
    assert [g["labels"]["check"] for g in json.loads(probes.read_text())] == ["shop", "web-port"]
    assert "GoLiveCheckFailed" in rule_file.read_text()
    assert list(_modules(tmp_path / "blackbox.yml")) == [f"golive_{DELIVERY}_shop"]
    assert not monitoring.publish_app_checks(_checks())
    assert monitoring.publish_app_checks(AppChecks(DELIVERY, ()))
    assert not probes.exists()
    assert not rule_file.exists()
    assert _modules(tmp_path / "blackbox.yml") == {}


def test_http_checks_need_the_site_s_blackbox_configuration(tmp_path: Path) -> None:
    prometheus = RecordedPrometheus(tmp_path / "targets", tmp_path / "rules", "http://127.0.0.1:9")
    with pytest.raises(Refused, match=r"monitoring\.blackbox_config"):
        FileAppMonitoring(prometheus, None).publish_app_checks(_checks())
    assert FileAppMonitoring(prometheus, None).publish_app_checks(_checks(TCP))  # tcp: standard


# --- the site -----------------------------------------------------------------------------------

ALERTMANAGER = """\
  blackbox_config: /etc/prometheus/blackbox.yml
  go_live_alert_after: 2m
  alertmanager:
    url: http://alertmanager.example.net:9093
    teams:
      Operations team B: {receiver: ops-b-pager, label: ops-b}
      Operations: {receiver: ops}
"""


def _site(tmp_path: Path, section: str) -> Path:
    text = SITE.replace("  scraper_networks:", section + "  scraper_networks:")
    path = tmp_path / "ams1.yaml"
    path.write_text(text)
    return path


def test_a_site_names_its_alertmanager_and_a_route_per_team(tmp_path: Path) -> None:
    monitoring = load_site(_site(tmp_path, ALERTMANAGER)).monitoring
    assert monitoring.alertmanager is not None
    assert monitoring.alertmanager.route_label == "team"
    teams = monitoring.alertmanager.teams
    assert (teams["Operations team B"].value(), teams["Operations"].value()) == ("ops-b", "ops")
    assert monitoring.go_live_alert_after == "2m"
    assert monitoring.blackbox_config == Path("/etc/prometheus/blackbox.yml")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("    url: http", "    route_label: customer\n    url: http"),
        ("    url: http", "    route_label: 9team\n    url: http"),
        ("go_live_alert_after: 2m", "go_live_alert_after: soon"),
    ],
)
def test_routing_labels_and_durations_are_checked(tmp_path: Path, edit: str, message: str) -> None:
    with pytest.raises(SiteError) as caught:
        load_site(_site(tmp_path, ALERTMANAGER.replace(edit, message)))
    (problem,) = caught.value.problems
    assert "monitoring." in str(problem)


def test_a_site_without_teams_is_refused(tmp_path: Path) -> None:
    section = "  alertmanager: {url: 'http://am.example.net:9093', teams: {}}\n"
    with pytest.raises(SiteError, match="teams"):
        load_site(_site(tmp_path, section))


# --- routes ------------------------------------------------------------------------------------


def test_a_route_reaching_the_team_s_receiver_is_no_problem() -> None:
    assert route_problem("Ops B", ROUTE, {"alertname": ALERT}, ("ops-b-pager", "archive")) is None


def test_a_route_elsewhere_says_where_and_how_to_fix_it() -> None:
    problem = route_problem("Ops B", ROUTE, {"alertname": ALERT, "check": "shop"}, ("default",))
    assert problem == (
        "the Alertmanager routes alert GoLiveCheckFailed of check shop to default, not to "
        "ops-b-pager (operations team 'Ops B'): give it a route matching team=\"ops-b\" to "
        "ops-b-pager"
    )


def test_every_alert_of_the_delivery_is_tested_once() -> None:
    spec = _spec()
    labels = delivery_labels(spec, ROUTE)
    assert labels == {"customer": 'Acme "Shop" B.V.', "tenant": "acme", "team": "ops-b"}
    sets = alerts(spec, labels, (HTTP, TCP, replace(TCP, host="web-02")))
    named = sorted((s["alertname"], s["check"]) for s in sets)
    assert named == [("CheckHttpFailed", "checkout"), ("CheckTcpFailed", "web-port"),
                     (ALERT, "shop"), (ALERT, "web-port")]  # fmt: skip
    assert all(s["team"] == "ops-b" and s["delivery"] == DELIVERY for s in sets)
    routing = routing_to("team", {"ops-b": "ops-b-pager"})
    assert verify_routes(routing, "Ops B", ROUTE, sets) == 4
    with pytest.raises(Refused, match="to unrouted, not to ops-b-pager"):
        verify_routes(routing_to("team", {"ops-a": "ops-b-pager"}), "Ops B", ROUTE, sets)


# --- the step -----------------------------------------------------------------------------------


class RecordedChecks:
    """A ``CheckMonitoring`` that keeps what it was given; changed when it differs."""

    def __init__(self) -> None:
        self.published: list[DeliveryChecks] = []

    def publish_checks(self, checks: DeliveryChecks) -> bool:
        changed = not self.published or self.published[-1] != checks
        self.published.append(checks)
        return changed


def _ctx(spec: DeliverySpec) -> StepContext:
    addresses: Any = addresses_for(spec, "10.213.202.0")
    reached: dict[str, Json] = {
        name: {"address": entry["address"].split("/")[0]}
        for name, entry in addresses["hosts"].items()
    }
    outputs: dict[str, Mapping[str, Json]] = {
        base.ADDRESSES: addresses, base.REACHABILITY: {"hosts": reached},
    }  # fmt: skip
    return StepContext(delivery_from_spec(spec), "run-1", 7, outputs)


def _step(
    tmp_path: Path, routing: ScriptedAlertRouting | None, policy: AlertPolicy = POLICY
) -> tuple[MonitoringStep, RecordedChecks, InMemoryAppMonitoring]:
    checks, app = RecordedChecks(), InMemoryAppMonitoring()
    adapters = replace(fake_adapters(tmp_path), checks=checks, app_monitoring=app,
                       alert_routing=routing, alert_policy=policy)  # fmt: skip
    return MonitoringStep(lambda: adapters), checks, app


def test_the_step_routes_then_activates_the_checks_and_probes_the_go_live_ones(
    tmp_path: Path,
) -> None:
    routing = routing_to("team", {"ops-b": "ops-b-pager"})
    step, checks, app = _step(tmp_path, routing)
    result = step.apply(_ctx(_spec()))
    assert result.changed
    assert result.outputs["receiver"] == "ops-b-pager"
    assert result.outputs["routes_tested"] == 5  # 2 monitoring checks, 3 go-live checks
    summary: Any = result.outputs["summary"]
    assert summary[0].startswith('alerts go to ops-b-pager, the receiver of Ops B (team="ops-b")')
    assert summary[-1] == "monitoring check checkout (http) alerts from go-live on"
    assert len(summary) == 7  # the route, 5 probes, 1 activated check
    (published,) = checks.published
    assert published.live
    assert [c.name for c in published.active()] == ["web-port", "checkout"]
    assert published.labels == delivery_labels(_spec(), ROUTE)
    installed = app.installed[DELIVERY]
    assert installed.alert_after == "30s"
    assert [(p.check, p.target, p.host, p.host_header) for p in installed.probes] == [
        ("shop", "https://10.213.202.100/", None, "shop.acme.example.nl"),
        ("api", "http://10.213.202.10:8080/v1?x=1", "web-01", "api.acme.example.nl"),
        ("api", "http://10.213.202.11:8080/v1?x=1", "web-02", "api.acme.example.nl"),
        ("web-port", "10.213.202.10:443", "web-01", None),
        ("web-port", "10.213.202.11:443", "web-02", None),
    ]
    shop, api = installed.probes[:2]
    assert (shop.content, shop.expect_status) == ("Welcome (to) Acme", 200)
    assert (api.content, api.expect_status) == (None, 204)
    assert {a["team"] for a in routing.asked} == {"ops-b"}


def test_a_second_apply_changes_nothing(tmp_path: Path) -> None:
    step, _checks_port, _app = _step(tmp_path, routing_to("team", {"ops-b": "ops-b-pager"}))
    ctx = _ctx(_spec())
    assert step.apply(ctx).changed
    assert not step.apply(ctx).changed
    assert step.inputs(ctx) == step.inputs(ctx)


def test_checks_published_again_by_phase_3_are_made_live_again(tmp_path: Path) -> None:
    """Phase 3 publishes the checks silent: a later run that re-applies it (its inputs changed)
    changes phase 7's inputs too, so the same run makes them live again."""
    step, _checks_port, _app = _step(tmp_path, routing_to("team", {"ops-b": "ops-b-pager"}))
    ctx = _ctx(_spec())

    def published_by(run_id: str) -> StepContext:
        checks: dict[str, Json] = {"active": [], "pending": [], "published_by": run_id}
        return replace(ctx, outputs={**ctx.outputs, CHECKS: checks})

    assert step.inputs(published_by("run-1")) == step.inputs(published_by("run-1"))
    assert step.inputs(published_by("run-1")) != step.inputs(published_by("run-2"))


def test_a_route_that_misses_the_team_activates_nothing(tmp_path: Path) -> None:
    step, checks, app = _step(tmp_path, routing_to("team", {}))
    with pytest.raises(Refused, match="not to ops-b-pager"):
        step.apply(_ctx(_spec()))
    assert checks.published == []
    assert app.published == []


@pytest.mark.parametrize(
    ("routing", "policy", "message"),
    [
        (None, POLICY, r"names no Alertmanager \(monitoring\.alertmanager\)"),
        (ScriptedAlertRouting(), AlertPolicy({"Ops A": ROUTE}), "no alerts for operations team"),
    ],
)
def test_without_a_route_for_the_team_the_step_is_refused(
    tmp_path: Path, routing: ScriptedAlertRouting | None, policy: AlertPolicy, message: str
) -> None:
    step, _checks_port, app = _step(tmp_path, routing, policy)
    with pytest.raises(Refused, match=message):
        step.apply(_ctx(_spec()))
    assert app.published == []


def test_the_plan_says_where_alerts_go_and_what_is_probed(tmp_path: Path) -> None:
    step, checks, app = _step(tmp_path, ScriptedAlertRouting())
    planned = [str(c) for c in step.plan(_ctx(_spec()))]
    assert planned == [
        f'route alerts of {DELIVERY} (to receiver ops-b-pager of team Ops B, by team="ops-b")',
        "activate check checkout (http, a go-live monitoring check)",
        (
            "probe go-live check shop (https://10.213.202.100/ as shop.acme.example.nl, status "
            "200, containing 'Welcome (to) Acme' on vip; alerts after 30s)"
        ),
        (
            "probe go-live check api (http://10.213.202.10:8080/v1?x=1 as api.acme.example.nl, "
            "status 204 on web-01; alerts after 30s)"
        ),
        (
            "probe go-live check api (http://10.213.202.11:8080/v1?x=1 as api.acme.example.nl, "
            "status 204 on web-02; alerts after 30s)"
        ),
        "probe go-live check web-port (10.213.202.10:443 on web-01; alerts after 30s)",
        "probe go-live check web-port (10.213.202.11:443 on web-02; alerts after 30s)",
    ]
    assert checks.published == []
    assert app.published == []


# --- orchestrator site check --------------------------------------------------------------------


def test_site_check_tests_each_team_s_route() -> None:
    policy = AlertPolicy({"Ops B": ROUTE, "Ops A": TeamRoute("team", "ops-a", "ops-a-mail")})
    lines = list(team_lines(policy, routing_to("team", {"ops-b": "ops-b-pager"})))
    assert [(line.name, line.ok) for line in lines] == [
        ("alert route Ops A", False),
        ("alert route Ops B", True),
    ]
    assert "to unrouted, not to ops-a-mail" in lines[0].detail
    assert lines[1].detail == 'team="ops-b" reaches ops-b-pager'


def test_site_check_reads_the_blackbox_configuration(tmp_path: Path) -> None:
    path = tmp_path / "blackbox.yml"
    path.write_text("modules: {icmp: {prober: icmp}, tcp_connect: {prober: tcp}}\n")
    assert blackbox_config_line(path).ok
    assert blackbox_config_line(path).detail.endswith("2 module(s)")
    path.write_text("modules: [icmp]\n")
    assert not blackbox_config_line(path).ok


def test_the_firewall_opens_the_go_live_checks_ports_of_a_role_to_the_scrapers() -> None:
    spec = _spec()
    assert probe_ports(spec, "web") == [80, 443, 8080]  # monitoring's, go-live tcp and http
    assert probe_ports(spec, "db") == []


# --- the lab's Alertmanager ---------------------------------------------------------------------


def test_the_lab_routes_each_team_to_its_webhook_and_sends_resolved_alerts() -> None:
    config = json.loads(lab_alertmanager.config_text())
    routes = {r["matchers"][0]: r["receiver"] for r in config["route"]["routes"]}
    assert routes == {'team="operations-team-b"': "operations-team-b",
                      'team="operations"': "operations", 'team="ops-b"': "ops-b"}  # fmt: skip
    assert config["route"]["receiver"] == lab_alertmanager.UNROUTED
    hooks = {r["name"]: r.get("webhook_configs") for r in config["receivers"]}
    assert hooks["ops-b"] == [{"url": "http://127.0.0.1:9097/ops-b", "send_resolved": True}]
    assert hooks[lab_alertmanager.UNROUTED] is None
    prometheus = json.loads(lab_prometheus.config_text(LabPaths(Path("/lab"), Path("/cache"))))
    assert prometheus["alerting"] == {
        "alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:9093"]}]}]
    }


def test_lab_up_keeps_the_deliveries_modules_and_repairs_its_own() -> None:
    ours: dict[str, Json] = {f"golive_{DELIVERY}_shop": {"prober": "http"}, "icmp": {"prober": "x"}}
    modules_now = lab_prometheus.with_standard_modules(ours)
    assert modules_now[f"golive_{DELIVERY}_shop"] == {"prober": "http"}
    assert modules_now["icmp"] == BLACKBOX_MODULES["icmp"]


# --- amtool's arguments and answer --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "argument"),
    [
        ("team", "ops-b", 'team="ops-b"'),
        ("customer", 'Acme "Shop", café\\', 'customer="Acme \\"Shop\\", café\\\\"'),
    ],
)
def test_labels_are_given_to_amtool_as_quoted_matchers(
    name: str, value: str, argument: str
) -> None:
    assert matcher(name, value) == argument


def test_amtool_s_receivers_are_read_from_its_first_line() -> None:
    assert receivers_of("ops-b,archive\n") == ("ops-b", "archive")
    assert receivers_of("\nunrouted\n") == ("unrouted",)
    assert receivers_of("") == ()


def test_the_lab_s_alertmanager_listens_on_loopback_alone() -> None:
    argv = lab_prometheus.alertmanager_argv(LabPaths(Path("/lab"), Path("/cache")))
    assert argv[0] == "/usr/bin/prometheus-alertmanager"
    assert "--web.listen-address=127.0.0.1:9093" in argv
    assert "--cluster.listen-address=" in argv  # no gossip port: one Alertmanager
    assert "--config.file=/lab/prometheus/alertmanager.yml" in argv
