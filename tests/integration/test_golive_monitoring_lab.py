"""Phase 7's application monitoring on the real lab: a load balancer and a web host through phases
1-3, then ``golive.monitoring``; the go-live checks become blackbox probes (the http one through
the VIP with the customer's host name as ``Host``, never resolved) and rules; the lab's
Alertmanager routes their alerts to the operations team's webhook, where this test listens.

Stopping nginx makes the alert reach the webhook within the rule's ``for:`` (the lab site's
``go_live_alert_after``, 30 s) plus a scrape, an evaluation and the Alertmanager's group wait;
starting it again brings the resolved notification. Phase 1 is the stand-in with fixed lab
addresses (10.213.217.0/24); the delivery and its hosts are ``gl-*``, removed before and after.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from orchestrator.engine import Engine, RetryPolicy, RunOutcome, RunRequest, ThreadedRunner
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.engine.ports.app_monitoring import AppChecks
from orchestrator.engine.ports.check_monitoring import DeliveryChecks
from orchestrator.engine.status import Status
from orchestrator.lab import alertmanager, lab
from orchestrator.lab.hosts import destroy_host
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.prometheus import api, ensure_prometheus, targets_dir
from orchestrator.phases import base, software
from orchestrator.phases.golive_monitoring import MONITORING, MonitoringStep
from orchestrator.spec import DeliverySpec
from orchestrator.spec.loader import parse_spec
from orchestrator.store.sql import SqlRunStore
from orchestrator.testing import unwired
from tests.integration.phase23_support import (
    address_of,
    addresses_for,
    lab_adapters,
    phase1_standin,
)

DELIVERY = "gl-lab"
NETWORK = "10.213.217.0"
TEAM, RECEIVER = "Ops B", "ops-b"
SPEC = f"""
id: {DELIVERY}
customer: {{name: Golive B.V., tenant: {DELIVERY}}}
delivery_manager: {{name: Sanne Jansen, email: sanne@hosting.example.com}}
lead_engineer: {{name: Joris Bakker, email: joris@hosting.example.com}}
preconditions:
  quote: {{signed: true}}
  data_processing_agreement: {{signed: true}}
network:
  site: lab
  vlan_group: lab-vlans
  parent_prefix: 10.213.128.0/17
  prefix_length: 28
  load_balancer: {{backend_role: web, ports: [{{port: 80}}]}}
hosts:
  - {{name: gl-lb-01, role: lb, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
  - {{name: gl-web-01, role: web, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
software:
  lb: {{packages: [haproxy]}}
  web: {{packages: [nginx], services: [nginx]}}
monitoring:
  checks:
    - {{name: web-health, kind: http, roles: [web], port: 80, path: /health, activate: go_live}}
go_live:
  checks:
    - {{name: shop, kind: http, url: "http://shop.golive.example.nl/", content: Golive B.V. on}}
    - {{name: web-port, kind: tcp, role: web, port: 80}}
    - {{name: dns-switched, kind: manual, description: shop.golive.example.nl points to the VIP}}
operations: {{team: {TEAM}, email: ops-b@hosting.example.com}}
"""
#: Prometheus scrapes and evaluates every 5 s; the Alertmanager waits 2 s before a first
#: notification and 5 s between a group's notifications. Margin on top of the rule's ``for:``.
MARGIN = 40.0


@dataclass
class Webhook:
    """The operations team's webhook receiver: every notification the Alertmanager posts."""

    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def alerts(self, status: str, since: float) -> list[tuple[float, dict[str, Any]]]:
        """(arrival, alert) of each alert of the delivery notified with ``status`` after
        ``since``."""
        with self.lock:
            posts = list(self.received)
        return [
            (at, alert) for at, post in posts if at >= since for alert in post["alerts"]
            if alert["labels"].get("delivery") == DELIVERY and alert["status"] == status
        ]  # fmt: skip

    def wait(self, status: str, since: float, checks: set[str], seconds: float) -> float:
        """Seconds from ``since`` until every check in ``checks`` was notified with ``status``."""
        give_up = since + seconds
        while time.monotonic() < give_up:
            found = self.alerts(status, since)
            if checks <= {a["labels"].get("check") for _, a in found}:
                return max(at for at, a in found if a["labels"].get("check") in checks) - since
            time.sleep(0.5)
        pytest.fail(f"no {status} notification of {checks} within {seconds:.0f} s")


def _handler(webhook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == f"/{RECEIVER}":
                with webhook.lock:
                    webhook.received.append((time.monotonic(), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            del format, args

    return Handler


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    received = Webhook()
    server = ThreadingHTTPServer(alertmanager.WEBHOOK_LISTEN, _handler(received))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    server.shutdown()
    server.server_close()


@dataclass
class Platform:
    spec: DeliverySpec
    paths: LabPaths
    state: Path
    adapters: base.Adapters

    def phases(self) -> tuple[Phase, ...]:
        real = base.phase(lambda: self.adapters, unwired, unwired)
        phase2 = Phase(real.number, real.name, real.title,
                       tuple(s for s in real.steps if s.key != "base.netbox_record"))  # fmt: skip
        golive = Phase(7, "golive", "Go-live (monitoring only)",
                       (MonitoringStep(lambda: self.adapters),))  # fmt: skip
        skipped = tuple(Phase(n, f"phase{n}", f"Phase {n} (not part of this test)", ())
                        for n in (4, 5, 6))  # fmt: skip
        return (phase1_standin(addresses_for(self.spec, NETWORK)), phase2,
                software.phase(lambda: self.adapters), *skipped, golive)  # fmt: skip

    def run(self, store: SqlRunStore, last: int = 7) -> RunOutcome:
        retry = RetryPolicy(attempts=2, initial_backoff=1.0, deadline=120.0)
        engine = Engine(store, self.phases(), retry=retry, runner=ThreadedRunner())
        request = RunRequest(delivery_from_spec(self.spec), "tester", phases=PhaseRange(1, last))
        return engine.run(request)

    def ssh(self, host: str, command: str) -> str:
        known = self.adapters.workspace.known_hosts(DELIVERY)
        argv = ["ssh", "-i", str(self.paths.ssh_key), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
                f"root@{address_of(self.spec, NETWORK, host)}", command]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    def remove(self) -> None:
        for host in ("gl-lb-01", "gl-web-01"):
            destroy_host(host, paths=self.paths)
        checks, app = self.adapters.checks, self.adapters.app_monitoring
        assert checks is not None
        assert app is not None
        checks.publish_checks(DeliveryChecks(DELIVERY, ()))
        app.publish_app_checks(AppChecks(DELIVERY, ()))
        for target in targets_dir(self.paths).glob(f"{DELIVERY}-*.json"):
            target.unlink()


@pytest.fixture(scope="module")
def platform(
    lab_up: lab.LabUp,  # noqa: ARG001 - brings the lab up first
    lab_paths: LabPaths,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    state = tmp_path_factory.mktemp("golive")
    spec = parse_spec(SPEC, "golive.yaml")
    made = Platform(spec, lab_paths, state, lab_adapters(lab_paths, state, wait=20.0))
    made.remove()
    yield made
    made.remove()


def _rules() -> list[dict[str, Any]]:
    return [r for g in api("rules")["groups"] for r in g["rules"]
            if r["labels"].get("delivery") == DELIVERY]  # fmt: skip


def test_go_live_alerts_reach_the_operations_team_and_resolve(
    platform: Platform, webhook: Webhook
) -> None:
    started = time.monotonic()
    store = SqlRunStore.open(f"sqlite:///{platform.state / 'runs'}.db")
    built = platform.run(store, last=3)
    assert built.run.status is Status.SUCCEEDED, built.run.reason
    # The lab is shared by checkouts: another one's `lab up` may have rewritten the monitoring's
    # configuration since this session's; have it as this checkout's lab makes it (a no-op else).
    ensure_prometheus(platform.paths)
    outcome = platform.run(store)  # phases 1-3 are skipped: golive.monitoring
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    step = next(s for s in store.list_steps(outcome.run.id) if s.key == MONITORING)
    assert step.outputs["receiver"] == RECEIVER
    assert int(str(step.outputs["routes_tested"])) == 3  # web-health, shop, web-port
    delivered = time.monotonic() - started

    rules = {r["labels"]["check"]: r for r in _rules()}
    assert sorted(rules) == ["shop", "web-health", "web-port"]  # web-health: activated now
    for rule in rules.values():
        assert rule["labels"]["team"] == RECEIVER
        assert rule["labels"]["customer"] == "Golive B.V."
    assert rules["shop"]["duration"] == 30  # the lab site's go_live_alert_after

    again = platform.run(store)  # the same inputs: every step is skipped, nothing changes
    assert again.run.status is Status.SUCCEEDED, again.run.reason
    skipped = {s.key: s.status for s in store.list_steps(again.run.id)}
    assert skipped.get(MONITORING, Status.SKIPPED) is Status.SKIPPED

    stopped = time.monotonic()
    platform.ssh("gl-web-01", "systemctl stop nginx")
    fired = webhook.wait("firing", stopped, {"shop", "web-port"}, 30 + MARGIN)
    (_, alert), *_ = webhook.alerts("firing", stopped)
    labels = alert["labels"]
    assert {k: labels[k] for k in ("customer", "tenant", "team", "stage")} == {
        "customer": "Golive B.V.", "tenant": DELIVERY, "team": RECEIVER, "stage": "go_live",
    }  # fmt: skip

    restarted = time.monotonic()
    platform.ssh("gl-web-01", "systemctl start nginx")
    resolved = webhook.wait("resolved", restarted, {"shop", "web-port"}, MARGIN)
    print(  # noqa: T201 - measured times, for the report
        f"\ndelivered phases 1-3 and golive.monitoring in {delivered:.1f} s; alert reached "
        f"the team {fired:.1f} s after nginx stopped (for: 30 s); resolved {resolved:.1f} s "
        f"after it started; test {time.monotonic() - started:.1f} s"
    )
