"""``buddycheck.observed`` on the real lab: two web hosts delivered through phases 1-3 (real
NetBox, lab hosts, Ansible, Prometheus), then phase 4's step asks Prometheus's API and NetBox.

The test makes records and reality disagree, one way each: a NetBox VM's ``ssh_host_key`` and
another VM's platform are changed through NetBox's API, and one host's node exporter is stopped
over SSH; exactly the checks those touch fail. Once restored, every check passes again. Every
phase 4 run is a new engine run (new inputs: the run id), so it really asks again. Prometheus
scrapes, probes and evaluates every 5 s (``orchestrator.lab.prometheus``): each look waits for a
few rounds, with deadlines that only bound a failing test. The delivery's NetBox objects, lab
hosts and Prometheus files are removed at the start and at the end.
"""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.netbox import NetBoxIpam
from orchestrator.adapters.netbox_rest import NetBoxApi
from orchestrator.engine import Engine, RetryPolicy, RunOutcome, RunRequest, ThreadedRunner
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.engine.ports.check_monitoring import DeliveryChecks
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD
from orchestrator.engine.ports.platform_checks import result_from_json
from orchestrator.engine.status import Status
from orchestrator.lab import lab
from orchestrator.lab.hosts import destroy_host
from orchestrator.lab.netbox import NetBoxInfo, read_netbox_env
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.prometheus import targets_dir
from orchestrator.logging import configured_logging
from orchestrator.phases import all_phases, base
from orchestrator.phases.netbox_steps import Placement
from orchestrator.phases.observed import ADDRESS, HOST_KEY, PLATFORM, UP, check_name
from orchestrator.phases.observed_step import OBSERVED, ObservedStep
from orchestrator.phases.release import release
from orchestrator.spec import DeliverySpec
from orchestrator.store.sql import SqlRunStore
from orchestrator.testing import InMemoryRunStore, approve_gates
from tests.integration.phase23_support import FEMKE_KEY, lab_adapters, lab_wiring, make_spec

DELIVERY = "ob-lab"
PREFIX = "ob-"
WEB1, WEB2 = "ob-web-01", "ob-web-02"
VMS = "virtualization/virtual-machines/"
SIZE = "size: {cpus: 1, memory_mb: 1024, disk_gb: 10}}\n"
MONITORING = """monitoring:
  checks:
    - {name: web-http, kind: http, roles: [web], port: 80}
    - {name: nginx-running, kind: process, roles: [web], process: nginx}
    - {name: shop-checkout, kind: http, roles: [web], port: 80, path: /checkout, activate: go_live}
operations: """
#: Two web hosts: the phase 2-3 test platform without balancer, database and backups.
EDITS = {
    '  - {name: "ob-lb-{n:02d}", role: lb, image: debian-12, provider: lab,\n     ' + SIZE: "",
    '  - {name: "ob-db-{n:02d}", role: db, image: debian-12, provider: lab,\n     ' + SIZE: "",
    "  load_balancer: {backend_role: web, ports: [{port: 80}]}\n": "",
    "  lb: {packages: [haproxy]}\n": "",
    "  db: {packages: [postgresql]}\n": "",
    '  db: {schedule: "30 2 * * *", retention: {days: 30, count: 30}, '
    "paths: [/etc/postgresql]}\n": "",
    '  web: {schedule: "@daily", retention: {days: 14}, paths: [/var/www]}\n': "",
    "backups:\n": "",
    "operations: ": MONITORING,
}
CHECKS = (UP, check_name("web-http"), check_name("nginx-running"), check_name("shop-checkout"),
          ADDRESS, PLATFORM, HOST_KEY)  # fmt: skip
OTHER_PLATFORM = {"name": "ob-test other OS", "slug": "ob-test-other-os"}

type Results = dict[tuple[str, str], tuple[bool, str]]


@dataclass
class Delivered:
    """The delivery on the lab: its engine (phases 1-3 and the observed step), NetBox, SSH."""

    spec: DeliverySpec
    paths: LabPaths
    state: Path
    adapters: base.Adapters
    netbox: NetBoxInfo
    store: SqlRunStore

    def engine(self) -> Engine:
        wiring = lab_wiring(self.paths, self.state)
        nb = wiring.site.netbox
        phases = all_phases(
            lambda: wiring.ipam, lambda: self.adapters, lambda: wiring.records,
            Placement(nb.clusters, nb.interface), nb.gateway_addresses,
        )[:3]  # fmt: skip
        observed = ObservedStep(lambda: self.adapters, lambda: wiring.ipam, lambda: wiring.records)
        phase4 = Phase(4, "buddycheck", "Internal quality control (this step only)", (observed,))
        retry = RetryPolicy(attempts=2, initial_backoff=1.0, deadline=120.0)
        return Engine(self.store, (*phases, phase4), retry=retry, runner=ThreadedRunner())

    def run(self, first: int, last: int) -> RunOutcome:
        request = RunRequest(
            delivery_from_spec(self.spec), "tester", phases=PhaseRange(first, last)
        )
        with configured_logging(console=io.StringIO()):
            return self.engine().run(request)

    def buddycheck(self) -> tuple[Status, Results]:
        """A phase 4 run of the step (a new run: it asks again); its status and results."""
        outcome = self.run(4, 4)
        step = self.store.latest_step(DELIVERY, OBSERVED)
        assert step is not None
        assert step.run_id == outcome.run.id
        hosts: Any = step.outputs["hosts"]
        results = {(host, r.check.name): (r.passed, r.found)
                   for host, entry in hosts.items() for value in entry["checks"]
                   for r in [result_from_json(host, value)]}  # fmt: skip
        return step.status, results

    def address(self, host: str) -> str:
        step = self.store.latest_step(DELIVERY, "base.reachability")
        assert step is not None
        hosts: Any = step.outputs["hosts"]
        return str(hosts[host]["address"])

    def vm(self, host: str) -> int:
        step = self.store.latest_step(DELIVERY, "network.machines")
        assert step is not None
        vms: Any = step.outputs["vms"]
        return int(vms[host])

    def ssh(self, host: str, command: str) -> str:
        known = self.adapters.workspace.known_hosts(DELIVERY)
        argv = ["ssh", "-i", str(self.paths.ssh_key), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
                f"root@{self.address(host)}", command]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    def api(self) -> NetBoxApi:
        return NetBoxApi(self.netbox.url, self.netbox.token)


def _clean(
    spec: DeliverySpec, paths: LabPaths, netbox: NetBoxInfo, adapters: base.Adapters
) -> None:
    """Remove this delivery's lab hosts, NetBox objects, Prometheus files and the test's platform
    (only this delivery's)."""
    for host in spec.expanded_hosts():
        destroy_host(host.name, paths=paths)
    release(NetBoxIpam(netbox.url, netbox.token), InMemoryRunStore(), DELIVERY, "test")
    checks = adapters.checks
    assert checks is not None
    checks.publish_checks(DeliveryChecks(DELIVERY, ()))
    for target in targets_dir(paths).glob(f"{DELIVERY}-*.json"):
        target.unlink()
    api = NetBoxApi(netbox.url, netbox.token)
    for row in api.get("dcim/platforms/", slug=OTHER_PLATFORM["slug"], fields="id"):
        api.delete("dcim/platforms/", int(row["id"]))


@pytest.fixture(scope="module")
def delivered(
    lab_up: lab.LabUp,  # noqa: ARG001 - brings the lab up first
    lab_paths: LabPaths,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Delivered]:
    spec = make_spec(DELIVERY, PREFIX, EDITS)
    netbox = read_netbox_env(lab_paths)
    state = tmp_path_factory.mktemp("observed")
    adapters = lab_adapters(lab_paths, state, wait=20.0)
    _clean(spec, lab_paths, netbox, adapters)  # a clean start: what an earlier session left goes
    store = SqlRunStore.open(f"sqlite:///{state / 'runs'}.db")
    delivery = delivery_from_spec(spec)
    store.save_delivery(delivery.record(datetime.now(UTC)))
    approve_gates(store, delivery, "preconditions")
    platform = Delivered(spec, lab_paths, state, adapters, netbox, store)
    try:
        outcome = platform.run(1, 3)
        assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
        yield platform
    finally:
        _clean(spec, lab_paths, netbox, adapters)


def _eventually(
    delivered: Delivered, done: Callable[[Results], bool], seconds: float = 120.0
) -> tuple[Status, Results]:
    """Phase 4 runs until ``done`` holds for its results or ``seconds`` passed; the last one."""
    give_up = time.monotonic() + seconds
    status, results = delivered.buddycheck()
    while not done(results) and time.monotonic() < give_up:
        time.sleep(3.0)
        status, results = delivered.buddycheck()
    return status, results


def _failed(results: Results) -> dict[tuple[str, str], str]:
    return {key: found for key, (passed, found) in results.items() if not passed}


def _all_pass(results: Results) -> bool:
    return not _failed(results)


def test_a_delivered_platform_passes_every_observed_check(delivered: Delivered) -> None:
    status, results = _eventually(delivered, _all_pass)  # the probes start after phase 3
    assert _failed(results) == {}
    assert status is Status.SUCCEEDED
    assert sorted(results) == sorted((h, c) for h in (WEB1, WEB2) for c in CHECKS)
    assert results[WEB1, ADDRESS] == (True, f"primary IP {delivered.address(WEB1)}")
    assert results[WEB1, PLATFORM] == (True, "platform debian-12")
    assert results[WEB2, check_name("web-http")] == (True, "probe ok, HTTP 200")
    assert results[WEB2, check_name("shop-checkout")] == (True, "not active")


def _patch_vm(delivered: Delivered, host: str, body: Mapping[str, Any]) -> None:
    delivered.api().patch(VMS, delivered.vm(host), dict(body))


def _vm_fields(delivered: Delivered, host: str) -> dict[str, Any]:
    (row,) = delivered.api().get(VMS, id=delivered.vm(host), fields="platform,custom_fields")
    return {"platform": row["platform"]["id"],
            "custom_fields": {HOST_KEY_FIELD: row["custom_fields"][HOST_KEY_FIELD]}}  # fmt: skip


def _target_down(delivered: Delivered, host: str) -> bool:
    status = delivered.adapters.monitoring_status
    assert status is not None
    return any(not t.up for t in status.observe(DELIVERY).targets if t.host == host)


def test_drift_fails_exactly_the_checks_it_touches_and_passes_once_restored(
    delivered: Delivered,
) -> None:
    assert _all_pass(_eventually(delivered, _all_pass)[1])
    web1, web2 = _vm_fields(delivered, WEB1), _vm_fields(delivered, WEB2)
    other = delivered.api().post("dcim/platforms/", dict(OTHER_PLATFORM))
    _patch_vm(delivered, WEB1, {"custom_fields": {HOST_KEY_FIELD: FEMKE_KEY}})  # not its key
    _patch_vm(delivered, WEB2, {"platform": other["id"]})
    delivered.ssh(WEB2, "systemctl stop prometheus-node-exporter")
    try:
        give_up = time.monotonic() + 60.0  # a scrape every 5 s
        while not _target_down(delivered, WEB2) and time.monotonic() < give_up:
            time.sleep(1.0)
        drifted = {(WEB1, HOST_KEY), (WEB2, PLATFORM), (WEB2, UP),
                   (WEB2, check_name("nginx-running"))}  # fmt: skip
        status, results = _eventually(delivered, lambda r: set(_failed(r)) == drifted, 90.0)
        failed = _failed(results)
        assert set(failed) == drifted, failed
        assert status is Status.FAILED
        assert failed[WEB2, PLATFORM] == f"platform {OTHER_PLATFORM['slug']}"
        assert failed[WEB2, UP].startswith(f"{delivered.address(WEB2)}:9100 down: ")
        assert (
            "no data: the host's node exporter target is not up"
            in (failed[WEB2, check_name("nginx-running")])
        )
    finally:
        _patch_vm(delivered, WEB1, web1)
        _patch_vm(delivered, WEB2, web2)
        delivered.ssh(WEB2, "systemctl start prometheus-node-exporter")
    status, results = _eventually(delivered, _all_pass)
    assert _failed(results) == {}
    assert status is Status.SUCCEEDED
