"""Shared pieces of the phase 2-3 integration tests: a spec, a phase 1 stand-in, the adapters."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from orchestrator.adapters.netbox import NetBoxIpam
from orchestrator.adapters.ssh import ParamikoProbe
from orchestrator.engine import Change, Phase, Result, StepContext
from orchestrator.engine.ports.app_monitoring import AppChecks
from orchestrator.engine.ports.check_monitoring import DeliveryChecks
from orchestrator.engine.retry import RetryPolicy
from orchestrator.lab import backup as lab_backup
from orchestrator.lab.hosts import destroy_host
from orchestrator.lab.netbox import read_netbox_env
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.prometheus import targets_dir
from orchestrator.lab.site import site_file
from orchestrator.phases import base
from orchestrator.phases.release import release
from orchestrator.site import load_site
from orchestrator.spec import DeliverySpec
from orchestrator.spec.loader import parse_spec
from orchestrator.store.records import Json, JsonMap
from orchestrator.testing import InMemoryRunStore
from orchestrator.wiring import Wiring

SPEC = """
id: {id}
title: Phase 2-3 test platform
customer: {{name: Acme B.V. ({tenant}), tenant: {tenant}}}
delivery_manager: {{name: Sanne Jansen, email: sanne@hosting.example.com}}
lead_engineer: {{name: Joris Bakker, email: joris@hosting.example.com}}
preconditions:
  quote: {{signed: true}}
  data_processing_agreement: {{signed: true}}
access:
  users:
    - name: joris
      sudo: true
      ssh_keys: [{joris_key}]
    - name: femke
      roles: [web]
      ssh_keys: [{femke_key}]
network:
  site: lab
  vlan_group: lab-vlans
  parent_prefix: 10.213.128.0/17
  prefix_length: 28
  load_balancer: {{backend_role: web, ports: [{{port: 80}}]}}
hosts:
  - {{name: "{prefix}lb-{{n:02d}}", role: lb, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
  - {{name: "{prefix}web-{{n:02d}}", role: web, count: 2, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
  - {{name: "{prefix}db-{{n:02d}}", role: db, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
software:
  lb: {{packages: [haproxy]}}
  web: {{packages: [nginx], services: [nginx]}}
  db: {{packages: [postgresql]}}
tuning:
  web:
    sysctl: {{net.core.somaxconn: 4096}}
    limits: [{{domain: www-data, item: nofile, value: 65536}}]
backups:
  db: {{schedule: "30 2 * * *", retention: {{days: 30, count: 30}}, paths: [/etc/postgresql]}}
  web: {{schedule: "@daily", retention: {{days: 14}}, paths: [/var/www]}}
operations: {{team: Ops B, email: ops-b@hosting.example.com}}
"""


JORIS_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T joris"
FEMKE_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM7ivAnno65GdkRODERguDepSw/tem4Jg73zA7b+0xlR femke"


def make_spec(delivery: str, prefix: str, edits: Mapping[str, str] | None = None) -> DeliverySpec:
    """The test platform's spec; ``edits`` replaces pieces of its YAML text (old -> new)."""
    text = SPEC.format(
        id=delivery, tenant=delivery, prefix=prefix, joris_key=JORIS_KEY, femke_key=FEMKE_KEY
    )
    for old, new in (edits or {}).items():
        if old not in text:
            raise ValueError(f"the test spec has no {old!r}")
        text = text.replace(old, new)
    return parse_spec(text, "test.yaml")


def addresses_for(spec: DeliverySpec, network: str) -> JsonMap:
    """What phase 1's ``network.addresses`` would record: hosts from ``network``.2, VIP last."""
    base_ip = network.rsplit(".", 1)[0]
    hosts: dict[str, Json] = {
        h.name: {"address": f"{base_ip}.{10 + i}/24", "netbox_id": i + 1, "role": h.role}
        for i, h in enumerate(spec.expanded_hosts())
    }
    return {"hosts": hosts, "vip": {"address": f"{base_ip}.100/24", "netbox_id": 99},
            "prefix": f"{base_ip}.0/24", "gateway": None}  # fmt: skip


def address_of(spec: DeliverySpec, network: str, host: str) -> str:
    """The address ``addresses_for`` gives ``host``, without its prefix length."""
    names = [h.name for h in spec.expanded_hosts()]
    return f"{network.rsplit('.', 1)[0]}.{10 + names.index(host)}"


@dataclass(frozen=True, slots=True)
class FixedAddresses:
    """Phase 1's ``network.addresses`` stand-in for runs without NetBox: fixed lab addresses.

    Phase 2's ``base.netbox_record`` needs the real phase 1 (the VMs it writes to): runs with this
    stand-in leave that step out."""

    outputs: JsonMap
    key: str = "network.addresses"
    title: str = "Reserve an IP address per host (stand-in)"

    def inputs(self, ctx: StepContext) -> JsonMap:  # noqa: ARG002 - the Step protocol
        return self.outputs

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:  # noqa: ARG002 - the Step protocol
        return []

    def apply(self, ctx: StepContext) -> Result:  # noqa: ARG002 - the Step protocol
        return Result(outputs=self.outputs)


def phase1_standin(outputs: JsonMap) -> Phase:
    return Phase(1, "network", "Network (stand-in)", (FixedAddresses(outputs),))


def lab_wiring(paths: LabPaths, state: Path) -> Wiring:
    """The composition root on the lab's site file, as the CLI builds it for `--site`."""
    return Wiring(load_site(site_file(paths)), state)


def lab_adapters(paths: LabPaths, state: Path, *, wait: float = 60.0) -> base.Adapters:
    """The lab site's adapters, with a probe that gives up sooner than a real run's."""
    adapters = lab_wiring(paths, state).adapters
    probe = adapters.probe
    assert isinstance(probe, ParamikoProbe)
    probe_wait = RetryPolicy(attempts=10_000, initial_backoff=0.25, max_backoff=2.0, deadline=wait)
    access = replace(probe.access, connect_timeout=5.0)
    return replace(adapters, probe=replace(probe, wait=probe_wait, access=access))


def clean_delivery(delivery: str, hosts: Sequence[str], paths: LabPaths) -> None:
    """Remove a test delivery's lab hosts, NetBox objects, backups and monitoring (only that
    delivery's)."""
    for host in hosts:
        destroy_host(host, paths=paths)
    netbox = read_netbox_env(paths)
    release(NetBoxIpam(netbox.url, netbox.token), InMemoryRunStore(), delivery, "test")
    lab_backup.forget_delivery(paths, delivery)
    forget_monitoring(delivery, paths)


def forget_monitoring(delivery: str, paths: LabPaths) -> None:
    """Take a test delivery out of the lab's Prometheus: its hosts' targets, its checks, and its
    go-live probes, rules and blackbox modules (what ``orchestrator release`` removes first)."""
    with tempfile.TemporaryDirectory() as state:
        adapters = Wiring(load_site(site_file(paths)), Path(state)).adapters
        if adapters.checks is not None:
            adapters.checks.publish_checks(DeliveryChecks(delivery, ()))
        if adapters.app_monitoring is not None:
            adapters.app_monitoring.publish_app_checks(AppChecks(delivery, ()))
    for target in targets_dir(paths).glob(f"{delivery}-*.json"):
        target.unlink()
