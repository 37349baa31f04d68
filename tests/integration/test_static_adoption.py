"""An existing server adopted on the real lab: NetBox and a lab host made beforehand.

A lab host stands in for a customer's server: its VM is recorded in the lab NetBox first, as an
operator would (interface, address as primary IP, its real host key in ``ssh_host_key``). A
delivery with a ``static`` group of that host then runs phase 1 and phase 2 up to
``base.netbox_record`` (``base.configure`` is left out to keep the test quick): the VM and its
address are left where they are, the host's key is checked against NetBox's, and only a missing
platform is written. With another host's key in NetBox, or none, the host is refused. Everything
the test made (the delivery's objects, the VM, the lab host) is removed at the end, and at the
start should an earlier session have left it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.netbox import NetBoxIpam
from orchestrator.adapters.netbox_rest import NetBoxApi
from orchestrator.engine import Engine, RetryPolicy, RunOutcome, RunRequest
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.errors import Refused
from orchestrator.engine.gates import Gate
from orchestrator.engine.phase import PhaseRange
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD
from orchestrator.engine.ports.reachability import fingerprint
from orchestrator.engine.status import Status
from orchestrator.lab import lab
from orchestrator.lab.hosts import LabHost, create_host, destroy_host
from orchestrator.lab.netbox import read_netbox_env
from orchestrator.lab.paths import LabPaths
from orchestrator.phases import all_phases
from orchestrator.phases.netbox_steps import Placement
from orchestrator.phases.release import release
from orchestrator.spec.loader import parse_spec
from orchestrator.store.records import HostRecord, Json
from orchestrator.testing import InMemoryRunStore, approve_gates
from tests.integration.phase23_support import lab_adapters, lab_wiring

DELIVERY = "st-static"
HOST, ADDRESS = "st-static-01", "10.213.1.50"
SPEC = f"""
id: {DELIVERY}
customer: {{name: Static B.V. ({DELIVERY}), tenant: {DELIVERY}}}
delivery_manager: {{name: Sanne Jansen, email: sanne@hosting.example.com}}
lead_engineer: {{name: Joris Bakker, email: joris@hosting.example.com}}
preconditions:
  quote: {{signed: true}}
  data_processing_agreement: {{signed: true}}
network: {{site: lab, vlan_group: lab-vlans, parent_prefix: 10.213.128.0/17, prefix_length: 29}}
hosts:
  - {{name: "st-static-{{n:02d}}", role: web, image: debian-12, provider: static,
     addresses: [{ADDRESS}], size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
operations: {{team: Ops B, email: ops-b@hosting.example.com}}
"""
STEPS = ("base.machines", "base.reachability", "base.netbox_record")
VM_PATH, IP_PATH = "virtualization/virtual-machines/", "ipam/ip-addresses/"


@dataclass
class Server:
    """The lab host and its VM in NetBox, recorded before the delivery."""

    host: LabHost
    vm: int
    interface: int
    ip: int
    api: NetBoxApi

    def vm_row(self) -> dict[str, Any]:
        return dict(self.api.get(VM_PATH, id=self.vm)[0])

    def ip_row(self) -> dict[str, Any]:
        return dict(self.api.get(IP_PATH, id=self.ip)[0])

    def record_key(self, key: str | None) -> None:
        self.api.patch(VM_PATH, self.vm, {"custom_fields": {HOST_KEY_FIELD: key}})


def _api(paths: LabPaths) -> NetBoxApi:
    info = read_netbox_env(paths)
    return NetBoxApi(info.url, info.token)


def _clean(paths: LabPaths) -> None:
    """Remove the delivery's objects, the server's VM and address, and the lab host."""
    info = read_netbox_env(paths)
    release(NetBoxIpam(info.url, info.token), InMemoryRunStore(), DELIVERY, "test")
    api = _api(paths)
    for row in api.get(IP_PATH, address=ADDRESS, fields="id"):
        api.delete(IP_PATH, int(row["id"]))
    for row in api.get(VM_PATH, name=HOST, fields="id"):
        api.delete(VM_PATH, int(row["id"]))
    destroy_host(HOST, paths=paths)


def _record(api: NetBoxApi, host: LabHost) -> Server:
    """The VM as an operator records it: interface, address as primary IP, the host's key."""
    site = int(api.get("dcim/sites/", slug="lab", fields="id")[0]["id"])
    custom: dict[str, Json] = {HOST_KEY_FIELD: host.host_key}
    vm = int(api.post(VM_PATH, {"name": HOST, "site": site, "status": "active",
                                "custom_fields": custom})["id"])  # fmt: skip
    interface = int(api.post("virtualization/interfaces/",
                             {"virtual_machine": vm, "name": "eth0"})["id"])  # fmt: skip
    held: dict[str, Json] = {"address": f"{ADDRESS}/24", "assigned_object_id": interface,
                             "assigned_object_type": "virtualization.vminterface"}  # fmt: skip
    ip = int(api.post(IP_PATH, held)["id"])
    api.patch(VM_PATH, vm, {"primary_ip4": ip})
    return Server(host, vm, interface, ip, api)


@pytest.fixture(scope="module")
def server(
    lab_up: lab.LabUp,  # noqa: ARG001 - brings the lab up first
    lab_paths: LabPaths,
) -> Iterator[Server]:
    _clean(lab_paths)
    api = _api(lab_paths)
    platforms = {row["slug"] for row in api.get("dcim/platforms/", fields="slug")}
    try:
        yield _record(api, create_host(HOST, ADDRESS, paths=lab_paths))
    finally:
        _clean(lab_paths)
        for row in api.get("dcim/platforms/", slug="debian-12", fields="id"):
            if "debian-12" not in platforms:  # made by this test: removed unless used since
                with contextlib.suppress(Refused):
                    api.delete("dcim/platforms/", int(row["id"]))


@dataclass
class Delivery:
    """Phase 1 and phase 2 up to ``base.netbox_record``, as the lab site wires them."""

    paths: LabPaths
    state: Path

    def run(self, steps: tuple[str, ...] = STEPS) -> tuple[InMemoryRunStore, RunOutcome]:
        """A run with a new store: every step runs again and reads NetBox."""
        wiring = lab_wiring(self.paths, self.state)
        adapters = lab_adapters(self.paths, self.state, wait=20.0)
        placement = Placement(wiring.site.netbox.clusters, wiring.site.netbox.interface)
        network, base = all_phases(
            lambda: wiring.ipam, lambda: adapters, lambda: wiring.records, placement
        )[:2]
        kept = tuple(e for e in base.entries if not isinstance(e, Gate) and e.key in steps)
        base = replace(base, entries=kept)
        store = InMemoryRunStore()
        delivery = delivery_from_spec(parse_spec(SPEC, "static.yaml"))
        approve_gates(store, delivery, "preconditions")
        retry = RetryPolicy(attempts=2, initial_backoff=1.0, deadline=60.0)
        engine = Engine(store, (network, base), retry=retry)
        return store, engine.run(RunRequest(delivery, "tester", phases=PhaseRange(1, 2)))


def _host(store: InMemoryRunStore, outcome: RunOutcome, step: str) -> HostRecord:
    return next(h for h in store.list_hosts(outcome.run.id, step) if h.host == HOST)


def _unchanged(row: dict[str, Any]) -> dict[str, Any]:
    """What phase 1 and 2 must leave as it is on the server's records."""
    return {k: v for k, v in row.items() if k not in {"last_updated", "platform", "display"}}


def test_an_existing_server_is_adopted_and_its_key_checked_against_netbox(
    server: Server, lab_paths: LabPaths, tmp_path: Path
) -> None:
    vm_before, ip_before = server.vm_row(), server.ip_row()
    delivery = Delivery(lab_paths, tmp_path)
    store, outcome = delivery.run()
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason

    machines = store.latest_step(DELIVERY, "network.machines")
    assert machines is not None
    assert machines.outputs == {"vms": {}, "existing": {HOST: {"kind": "vm", "id": server.vm}}}
    addresses = store.latest_step(DELIVERY, "network.addresses")
    assert addresses is not None
    hosts: Any = addresses.outputs["hosts"]
    assert (hosts[HOST]["address"], hosts[HOST]["netbox_id"]) == (f"{ADDRESS}/24", server.ip)
    vm_after, ip_after = server.vm_row(), server.ip_row()
    assert _unchanged(ip_after) == _unchanged(ip_before)  # not moved, not keyed, not changed
    assert ip_after["assigned_object_id"] == server.interface
    assert _unchanged(vm_after) == _unchanged(vm_before)  # primary IP, key, status as they were
    assert vm_after["custom_fields"][HOST_KEY_FIELD] == server.host.host_key
    assert (vm_before["platform"], vm_after["platform"]["slug"]) == (None, "debian-12")

    reached = _host(store, outcome, "base.reachability")
    assert reached.status is Status.SUCCEEDED
    assert reached.outputs["host_key"] == " ".join(server.host.host_key.split()[:2])
    record = store.latest_step(DELIVERY, "base.netbox_record")
    assert record is not None
    assert record.outputs["updated"] == [HOST]  # the platform it lacked, nothing else

    again_store, again = delivery.run()  # with the pin: nothing new, nothing written
    assert again.run.status is Status.SUCCEEDED, again.run.reason
    assert not _host(again_store, again, "base.reachability").changed  # not pinned now
    record = again_store.latest_step(DELIVERY, "base.netbox_record")
    assert record is not None
    assert record.outputs["updated"] == []
    assert _unchanged(server.vm_row()) == _unchanged(vm_after)


def test_a_key_netbox_does_not_record_refuses_the_server(
    server: Server, smoke_hosts: list[LabHost], lab_paths: LabPaths, tmp_path: Path
) -> None:
    other = smoke_hosts[0].host_key  # lab-01's key, read, never touched
    delivery = Delivery(lab_paths, tmp_path)
    try:
        assert delivery.run()[1].run.status is Status.SUCCEEDED  # the host's own key is pinned
        server.record_key(other)
        store, outcome = delivery.run()
        assert outcome.run.status is Status.FAILED
        reached = _host(store, outcome, "base.reachability")
        assert reached.status is Status.FAILED  # the pin matches, NetBox's key does not
        assert (
            f"host key of {HOST} ({ADDRESS}) changed: expected {fingerprint(other)}, "
            f"shown {fingerprint(server.host.host_key)}"
        ) in str(reached.error)

        server.record_key(None)
        store, outcome = delivery.run()
        assert outcome.run.status is Status.FAILED
        machine = _host(store, outcome, "base.machines")
        assert machine.status is Status.FAILED
        assert "records no SSH host key" in str(machine.error)
        assert "never trusted on first use" in str(machine.error)
        assert store.list_hosts(outcome.run.id, "base.reachability") == []
    finally:
        server.record_key(server.host.host_key)


def test_an_existing_server_gets_security_updates_only(
    server: Server, lab_paths: LabPaths, tmp_path: Path
) -> None:
    """The site's upgrade policy for servers that already ran: never a blind dist-upgrade."""
    del server
    store, outcome = Delivery(lab_paths, tmp_path).run((*STEPS, "base.configure"))
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    tasks = {t.name: t.status for t in _host(store, outcome, "base.configure").tasks}
    assert tasks["base_updates : Install every update"] is Status.SKIPPED
    assert tasks["base_updates : Install the security updates"] is Status.SUCCEEDED
