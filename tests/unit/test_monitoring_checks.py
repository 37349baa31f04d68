"""The spec's monitoring checks: resolved to hosts, rendered as Prometheus rules and probe targets,
published by phase 3's step (with a fake port), and the lab's mirror swap and Prometheus config."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.inventory import HostRecord, Topology, inventory
from orchestrator.adapters.prometheus import BLACKBOX_MODULES, render, selector
from orchestrator.engine import Engine, RunRequest
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.errors import Refused
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.engine.ports.check_monitoring import (
    CheckHost,
    DeliveryChecks,
    resolve,
    systemd_unit,
)
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.status import Status
from orchestrator.engine.step import StepContext
from orchestrator.lab import mirror
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.prometheus import config_text
from orchestrator.phases import base, software
from orchestrator.phases.monitoring import CHECKS, ChecksStep
from orchestrator.spec import DeliverySpec
from orchestrator.spec.loader import parse_spec
from orchestrator.testing import InMemoryRunStore, fake_adapters, fake_runtime, unwired
from tests.integration.phase23_support import addresses_for, phase1_standin

SPEC = """
id: mon-unit
customer: {name: Acme B.V., tenant: mon-unit}
delivery_manager: {name: Sanne Jansen, email: sanne@hosting.example.com}
lead_engineer: {name: Joris Bakker, email: joris@hosting.example.com}
preconditions: {quote: {signed: true}, data_processing_agreement: {signed: true}}
network: {site: lab, vlan_group: lab-vlans, parent_prefix: 10.213.128.0/17, prefix_length: 28}
hosts:
  - {name: "web-{n:02d}", role: web, count: 2, image: debian-12, provider: lab,
     size: {cpus: 1, memory_mb: 1024, disk_gb: 10}}
  - {name: db-01, role: db, image: debian-12, provider: lab,
     size: {cpus: 1, memory_mb: 1024, disk_gb: 10}}
software:
  web: {packages: [nginx]}
  db: {packages: [postgresql]}
monitoring:
  checks:
    - {name: web-port, kind: tcp, roles: [web], port: 80}
    - {name: web-health, kind: http, roles: [web], port: 8080, path: /health, expect_status: 204}
    - {name: alive, kind: ping}
    - {name: data-disk, kind: disk, roles: [db], mount: /var/lib/postgresql, critical: 90}
    - {name: disks, kind: disk}
    - {name: load, kind: load, roles: [db], warning: 3}
    - {name: postgres, kind: process, roles: [db], process: postgresql@15-main.service}
    - {name: php, kind: process, roles: [web], process: php-fpm, activate: go_live}
    - {name: checkout, kind: http, roles: [web], port: 80, path: /checkout, activate: go_live}
operations: {team: Ops B, email: ops-b@hosting.example.com}
"""
HOSTS = (
    CheckHost("web-01", "web", "10.213.202.10"),
    CheckHost("web-02", "web", "10.213.202.11"),
    CheckHost("db-01", "db", "10.213.202.12"),
)


def _spec(text: str = SPEC) -> DeliverySpec:
    return parse_spec(text, "monitoring.yaml")


def _checks(*, live: bool = False) -> DeliveryChecks:
    spec = _spec()
    return resolve(spec.id, spec.monitoring.checks, HOSTS, live=live)


def _rules(checks: DeliveryChecks) -> dict[str, list[dict[str, Any]]]:
    """The rendered rules of the active checks, by check name."""
    groups = json.loads(render(checks.delivery, checks.active()).rules)["groups"]
    assert [g["name"] for g in groups] == ["checks-mon-unit"]
    by_check: dict[str, list[dict[str, Any]]] = {}
    for rule in groups[0]["rules"]:
        by_check.setdefault(rule["labels"]["check"], []).append(rule)
    return by_check


def test_checks_resolve_to_the_hosts_of_their_roles() -> None:
    checks = {c.name: [h.name for h in c.hosts] for c in _checks().checks}
    assert checks["web-port"] == ["web-01", "web-02"]
    assert checks["alive"] == ["web-01", "web-02", "db-01"]
    assert checks["postgres"] == ["db-01"]


def test_go_live_checks_wait_until_phase_7() -> None:
    assert [c.name for c in _checks().pending()] == ["php", "checkout"]
    assert "php" not in _rules(_checks())
    assert [c.name for c in _checks(live=True).pending()] == []
    assert "checkout" in _rules(_checks(live=True))


def test_probes_are_one_target_per_host_with_the_check_labels() -> None:
    checks = _checks()
    targets = json.loads(render(checks.delivery, checks.active()).probes)
    found = {(t["labels"]["check"], t["labels"]["host"]): (t["targets"], t["labels"]["module"])
             for t in targets}  # fmt: skip
    assert found == {
        ("web-port", "web-01"): (["10.213.202.10:80"], "tcp_connect"),
        ("web-port", "web-02"): (["10.213.202.11:80"], "tcp_connect"),
        ("web-health", "web-01"): (["http://10.213.202.10:8080/health"], "http_any"),
        ("web-health", "web-02"): (["http://10.213.202.11:8080/health"], "http_any"),
        ("alive", "web-01"): (["10.213.202.10"], "icmp"),
        ("alive", "web-02"): (["10.213.202.11"], "icmp"),
        ("alive", "db-01"): (["10.213.202.12"], "icmp"),
    }
    assert {t["labels"]["delivery"] for t in targets} == {"mon-unit"}
    assert set(BLACKBOX_MODULES) == {"tcp_connect", "http_any", "icmp"}


def test_probe_rules_alert_on_failure_and_on_the_wrong_status() -> None:
    rules = _rules(_checks())
    probe = 'probe_success{job="probe",delivery="mon-unit",check="web-port"}'
    assert [(r["alert"], r["expr"]) for r in rules["web-port"]] == [
        ("CheckTcpFailed", f"{probe} == 0")
    ]
    (http,) = rules["web-health"]
    assert http["expr"].endswith('probe_http_status_code{job="probe",delivery="mon-unit",'
                                 'check="web-health"} != 204')  # fmt: skip
    assert http["labels"] == {"check": "web-health", "delivery": "mon-unit", "kind": "http",
                              "severity": "critical"}  # fmt: skip


def test_disk_rules_use_the_thresholds_and_watch_for_a_missing_mount() -> None:
    rules = _rules(_checks())
    data = rules["data-disk"]
    assert [(r["alert"], r["labels"]["severity"]) for r in data] == [
        ("CheckDiskFull", "critical"),
        ("CheckNoData", "warning"),
    ]
    assert data[0]["expr"].endswith("> 90")
    assert 'mountpoint="/var/lib/postgresql"' in data[0]["expr"]
    assert 'role=~"db"' in data[0]["expr"]
    assert "unless on (host)" in data[1]["expr"]
    defaults = rules["disks"]  # no thresholds in the spec: 80 warning, 90 critical
    assert [r["expr"].rsplit(" ", 1)[1] for r in defaults] == ["80", "90"]
    assert 'fstype!~"tmpfs|overlay|squashfs|ramfs"' in defaults[0]["expr"]


def test_load_is_per_cpu_and_process_is_a_systemd_unit() -> None:
    rules = _rules(_checks())
    (load,) = rules["load"]
    assert load["labels"]["severity"] == "warning"
    assert load["expr"].startswith('node_load5{job="node",delivery="mon-unit",role=~"db"} / on')
    assert load["expr"].endswith("> 3")
    down, missing = rules["postgres"]
    assert down["expr"] == ('node_systemd_unit_state{job="node",delivery="mon-unit",role=~"db",'
                            'name="postgresql@15-main.service",state="active"} == 0')  # fmt: skip
    assert missing["alert"] == "CheckNoData"
    assert systemd_unit("nginx") == "nginx.service"
    assert systemd_unit("postgresql@15-main.service") == "postgresql@15-main.service"


def test_label_values_are_quoted() -> None:
    assert selector(mountpoint='/srv/"odd"', role="=~a|b") == (
        '{mountpoint="/srv/\\"odd\\"",role=~"a|b"}'
    )


def test_process_checks_put_their_units_in_the_node_exporters_watch_list() -> None:
    spec = _spec()
    records = [HostRecord(h.name, h.role, h.address) for h in HOSTS]
    inv: Any = inventory(spec, Topology(records, None, None), {})
    hosts = inv["all"]["children"]
    assert hosts["db"]["hosts"]["db-01"]["watched_services"] == ["postgresql@15-main.service"]
    assert hosts["web"]["hosts"]["web-01"]["watched_services"] == ["nginx.service"]  # php: go-live


def test_the_firewall_opens_the_probed_ports_of_the_hosts_role() -> None:
    spec = _spec()
    records = [HostRecord(h.name, h.role, h.address) for h in HOSTS]
    inv: Any = inventory(spec, Topology(records, None, None), {})
    hosts = inv["all"]["children"]
    # tcp and http checks, go-live ones included (the port is open before they are activated)
    assert hosts["web"]["hosts"]["web-02"]["probe_ports"] == [80, 8080]
    assert hosts["db"]["hosts"]["db-01"]["probe_ports"] == []  # ping, disk, load, process only


# --- the phase 3 step ----------------------------------------------------------------------------


@dataclass
class RecordedChecks:
    """A ``CheckMonitoring`` that keeps what it was given; changed when it differs."""

    published: list[DeliveryChecks] = field(default_factory=list)

    def publish_checks(self, checks: DeliveryChecks) -> bool:
        changed = not self.published or self.published[-1] != checks
        self.published.append(checks)
        return changed


def _run(tmp_path: Path, spec: DeliverySpec, checks: RecordedChecks | None) -> Status:
    adapters = fake_adapters(tmp_path)
    if checks is not None:
        adapters = base.Adapters(
            adapters.machines, adapters.probe, adapters.playbooks, adapters.workspace,
            adapters.monitoring, adapters.management_networks, checks=checks,
        )  # fmt: skip
    real = base.phase(lambda: adapters, unwired, unwired)
    phases = (
        phase1_standin(addresses_for(spec, "10.213.202.0")),
        Phase(2, "base", "Base", tuple(
            s for s in real.steps if s.key != "base.netbox_record"
        )),  # phase 1 is a stand-in: no NetBox to write back to
        software.phase(lambda: adapters),
    )  # fmt: skip
    engine = Engine(InMemoryRunStore(), phases, retry=RetryPolicy(attempts=1),
                    runtime=fake_runtime())  # fmt: skip
    outcome = engine.run(RunRequest(delivery_from_spec(spec), "tester", phases=PhaseRange(1, 3)))
    return outcome.run.status


def test_phase_3_publishes_the_checks_with_the_hosts_addresses(tmp_path: Path) -> None:
    recorded = RecordedChecks()
    assert _run(tmp_path, _spec(), recorded) is Status.SUCCEEDED
    (published,) = recorded.published
    assert published.delivery == "mon-unit"
    assert not published.live
    port = next(c for c in published.checks if c.name == "web-port")
    assert [(h.name, h.address) for h in port.hosts] == [
        ("web-01", "10.213.202.10"),
        ("web-02", "10.213.202.11"),
    ]


def test_without_a_monitoring_system_checks_are_refused(tmp_path: Path) -> None:
    assert _run(tmp_path, _spec(), None) is Status.FAILED
    without_checks = SPEC[: SPEC.index("monitoring:")] + SPEC[SPEC.index("operations:") :]
    assert _run(tmp_path / "none", _spec(without_checks), None) is Status.SUCCEEDED


def test_the_step_plans_alerting_and_recorded_checks(tmp_path: Path) -> None:
    spec = _spec()
    ctx = StepContext(delivery_from_spec(spec), "run", 3)
    adapters = fake_adapters(tmp_path)
    step = ChecksStep(lambda: adapters)
    assert step.key == CHECKS
    changes = [str(c) for c in step.plan(ctx)]
    assert "monitor check web-port (tcp, the hosts of roles web)" in changes
    assert "record check checkout (http, alerts from go-live (phase 7))" in changes
    with pytest.raises(Refused):
        step.apply(ctx)  # the machines are not up: nothing to resolve the checks to


# --- the lab -------------------------------------------------------------------------------------


def test_a_new_mirror_is_swapped_in_with_one_rename(tmp_path: Path) -> None:
    old, new = tmp_path / "debian12-old", tmp_path / "debian12-new"
    old.mkdir()
    new.mkdir()
    link = tmp_path / "current"
    assert mirror.swap_in(old, link)
    assert not mirror.swap_in(old, link)
    assert mirror.swap_in(new, link)
    assert link.resolve() == new.resolve()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_mirror_is_keyed_by_its_package_list(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "systemd-timesyncd" in mirror.PACKAGES
    before = mirror.mirror_key()
    monkeypatch.setattr(mirror, "PACKAGES", (*mirror.PACKAGES, "chrony"))
    assert mirror.mirror_key() != before


def test_prometheus_loads_check_rules_and_probes_through_the_blackbox_exporter() -> None:
    paths = LabPaths(state=Path("/srv/checkout/.lab"), cache=Path("/srv/cache"))
    config = json.loads(config_text(paths))
    assert "/srv/checkout/.lab/prometheus/checks/*.yml" in config["rule_files"]
    assert not [f for f in config["rule_files"] if "pending" in f]
    probe = next(job for job in config["scrape_configs"] if job["job_name"] == "probe")
    assert probe["metrics_path"] == "/probe"
    probes = "/srv/checkout/.lab/prometheus/targets/probes/*.json"
    assert probe["file_sd_configs"][0]["files"] == [probes]
    assert {"target_label": "__address__", "replacement": "127.0.0.1:9115"} in probe[
        "relabel_configs"
    ]
