"""The monitoring integration test's delivery: two web hosts with the spec's monitoring checks."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engine import Engine, RetryPolicy, RunOutcome, RunRequest, ThreadedRunner
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.engine.ports.check_monitoring import DeliveryChecks
from orchestrator.lab.hosts import destroy_host
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.prometheus import targets_dir
from orchestrator.phases import base, software
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

DELIVERY = "mon-lab"
NETBOX_WRITE_BACK = "base.netbox_record"
NETWORK = "10.213.202.0"

SPEC = f"""
id: {DELIVERY}
customer: {{name: Monitoring B.V., tenant: {DELIVERY}}}
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
hosts:
  - {{name: "mon-web-{{n:02d}}", role: web, count: 2, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
software:
  web: {{packages: [nginx], services: [nginx]}}
monitoring:
  checks:
    - {{name: web-port, kind: tcp, roles: [web], port: 80}}
    - {{name: web-health, kind: http, roles: [web], port: 80, path: /health}}
    - {{name: web-ping, kind: ping}}
    - {{name: root-disk, kind: disk, warning: 80, critical: 95}}
    - {{name: nginx-running, kind: process, roles: [web], process: nginx}}
    - {{name: load, kind: load, critical: 4}}
    - {{name: shop-checkout, kind: http, roles: [web], port: 80, path: /checkout,
       activate: go_live}}
operations: {{team: Ops B, email: ops-b@hosting.example.com}}
"""


def make_spec() -> DeliverySpec:
    return parse_spec(SPEC, "monitoring.yaml")


@dataclass
class MonitoredPlatform:
    """The delivery, the lab it runs on and the adapters (with the lab Prometheus for checks)."""

    spec: DeliverySpec
    paths: LabPaths
    state: Path
    adapters: base.Adapters

    @classmethod
    def make(cls, paths: LabPaths, state: Path) -> MonitoredPlatform:
        return cls(make_spec(), paths, state, lab_adapters(paths, state, wait=20.0))

    def hosts(self) -> list[str]:
        return [h.name for h in self.spec.expanded_hosts()]

    def store(self, name: str) -> SqlRunStore:
        return SqlRunStore.open(f"sqlite:///{self.state / name}.db")

    def run(self, store: SqlRunStore) -> RunOutcome:
        phases = (
            phase1_standin(addresses_for(self.spec, NETWORK)),
            self.phase2(),
            software.phase(lambda: self.adapters),
        )
        retry = RetryPolicy(attempts=2, initial_backoff=1.0, deadline=120.0)
        engine = Engine(store, phases, retry=retry, runner=ThreadedRunner())
        request = RunRequest(delivery_from_spec(self.spec), "tester", phases=PhaseRange(1, 3))
        return engine.run(request)

    def phase2(self) -> Phase:
        """Phase 2 without its NetBox write-back: phase 1 here is a stand-in, not NetBox."""
        real = base.phase(lambda: self.adapters, unwired, unwired)
        entries = tuple(s for s in real.steps if s.key != NETBOX_WRITE_BACK)  # it has no gates
        return Phase(real.number, real.name, real.title, entries)

    def address(self, host: str) -> str:
        return address_of(self.spec, NETWORK, host)

    def ssh(self, host: str, command: str) -> str:
        known = self.adapters.workspace.known_hosts(DELIVERY)
        argv = ["ssh", "-i", str(self.paths.ssh_key), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
                f"root@{self.address(host)}", command]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    def remove(self) -> None:
        """Destroy the hosts and take the delivery out of the lab's Prometheus."""
        for host in self.hosts():
            destroy_host(host, paths=self.paths)
        checks = self.adapters.checks
        assert checks is not None
        checks.publish_checks(DeliveryChecks(DELIVERY, ()))
        for target in targets_dir(self.paths).glob(f"{DELIVERY}-*.json"):
            target.unlink()
