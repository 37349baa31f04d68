"""Existing (``static``) servers with fakes, facts in and changes out: phase 1 adopts them (their
address stays where it is, no VM is made), phase 2 checks the host key NetBox records (never
trusted on first use) and writes back only a missing platform, a release leaves them alone."""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.machines import ProviderMachines, StaticMachines
from orchestrator.engine import Engine, RunOutcome, RunRequest
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import PhaseRange
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD
from orchestrator.engine.ports.ipam import Kind, Ref
from orchestrator.engine.ports.reachability import Reached, SshTarget, fingerprint
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.status import Status
from orchestrator.phases import base, software
from orchestrator.phases.netbox_steps import RECORD_IT
from orchestrator.phases.network import network_phase
from orchestrator.phases.release import release
from orchestrator.store.records import JsonMap, StepRecord
from orchestrator.testing import (
    InMemoryHostRecords,
    InMemoryIpam,
    InMemoryMachines,
    InMemoryRunStore,
    ScriptedProbe,
    approve_gates,
    fake_adapters,
    fake_runtime,
)
from tests.integration.phase23_support import make_spec

STATIC = "provider: static, addresses: [192.0.2.21, 192.0.2.22],"
SPEC = make_spec(
    "unit-static", "s-", {"role: web, count: 2, image: debian-12, provider: lab,": (
        f"role: web, count: 2, image: debian-12, {STATIC}")},
)  # fmt: skip
DELIVERY = delivery_from_spec(SPEC)
WEB = ("s-web-01", "s-web-02")
KEY_1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T"
KEY_2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM7ivAnno65GdkRODERguDepSw/tem4Jg73zA7b+0xlR"
OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKeyOth"
RETRY = RetryPolicy(attempts=3, initial_backoff=0.0)
WRITES = ("create", "allocate", "update", "delete")


class RecordingIpam(InMemoryIpam):
    """``InMemoryIpam`` that also remembers what each ``update`` sent."""

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[tuple[Kind, list[tuple[int, JsonMap]]]] = []

    def update(self, kind: Kind, changes: Sequence[tuple[int, JsonMap]]) -> None:
        self.updates.append((kind, list(changes)))
        super().update(kind, changes)

    def written_back(self) -> dict[tuple[Kind, int], JsonMap]:
        """Phase 2's updates (phase 1's link interfaces and primary IPs), by record."""
        return {(kind, ident): fields for kind, changes in self.updates for ident, fields in changes
                if "primary_ip4" not in fields and "assigned_object_id" not in fields}  # fmt: skip


class RecordingProbe(ScriptedProbe):
    """A ``ScriptedProbe`` whose static servers show their own keys, remembering each target."""

    def __init__(self, keys: dict[str, str] | None = None) -> None:
        super().__init__({"s-web-01": KEY_1, "s-web-02": KEY_2} | (keys or {}))
        self.targets: list[SshTarget] = []

    def reach(self, target: SshTarget) -> Reached:
        self.targets.append(target)
        return super().reach(target)


class Lab:
    """NetBox with the two web servers recorded beforehand (s-web-01 a VM, s-web-02 a device),
    and phases 1-3 on fakes."""

    def __init__(self, tmp_path: Path, keys: tuple[str | None, ...] = (KEY_1, KEY_2)) -> None:
        self.ipam = RecordingIpam()
        self.vm = self.ipam.existing_server(
            Kind.VM, "s-web-01", "192.0.2.21/24", {HOST_KEY_FIELD: keys[0]}
        )
        self.device = self.ipam.existing_server(
            Kind.DEVICE, "s-web-02", "192.0.2.22/24", {HOST_KEY_FIELD: keys[1]}
        )
        self.records = InMemoryHostRecords(self.ipam)
        self.probe = RecordingProbe()
        machines = ProviderMachines({"lab": InMemoryMachines(),
                                     "static": StaticMachines(lambda: self.records)})  # fmt: skip
        self.adapters = replace(fake_adapters(tmp_path, probe=self.probe), machines=machines)
        self.store = InMemoryRunStore()
        approve_gates(self.store, DELIVERY, "preconditions")

    def engine(self, store: InMemoryRunStore | None = None) -> Engine:
        phases = (
            network_phase(lambda: self.ipam),
            base.phase(lambda: self.adapters, lambda: self.ipam, lambda: self.records),
            software.phase(lambda: self.adapters),
        )
        if store is not None:
            approve_gates(store, DELIVERY, "preconditions")
        return Engine(store or self.store, phases, retry=RETRY, runtime=fake_runtime())

    def run(self, last: int = 2, store: InMemoryRunStore | None = None) -> RunOutcome:
        request = RunRequest(DELIVERY, "tester", phases=PhaseRange(1, last))
        return self.engine(store).run(request)

    def plan(self, first: int = 1, last: int = 1) -> list[str]:
        request = RunRequest(DELIVERY, "tester", phases=PhaseRange(first, last))
        outcome = self.engine().plan(request)
        return [str(change) for step in outcome.steps for change in step.changes]

    def step(self, key: str, store: InMemoryRunStore | None = None) -> StepRecord:
        found = (store or self.store).latest_step(DELIVERY.id, key)
        assert found is not None, f"{key} did not run"
        return found

    def servers(self) -> dict[Kind, dict[int, object]]:
        """What NetBox holds that the delivery did not make: rows without a key."""
        return {kind: {i: deepcopy(r) for i, r in rows.items() if not r.key}
                for kind, rows in self.ipam.rows.items()}  # fmt: skip

    def host_outputs(self, run_id: str, key: str) -> dict[str, JsonMap]:
        return {h.host: h.outputs for h in self.store.list_hosts(run_id, key)}


def writes(calls: Sequence[str]) -> list[str]:
    return [call for call in calls if call.split()[0] in WRITES]


# --- phase 1 -----------------------------------------------------------------------------------


def test_phase_1_adopts_the_servers_and_makes_vms_for_the_other_hosts_only(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    before = lab.servers()
    outcome = lab.run(last=1)
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    machines = lab.step("network.machines").outputs
    assert set(machines["vms"]) == {"s-lb-01", "s-db-01"}  # type: ignore[arg-type]
    assert machines["existing"] == {"s-web-01": {"kind": "vm", "id": lab.vm},
                                    "s-web-02": {"kind": "device", "id": lab.device}}  # fmt: skip
    assert lab.servers() == before  # the servers, their interfaces and addresses: untouched
    hosts: Any = lab.step("network.addresses").outputs["hosts"]
    adopted = {h: (hosts[h]["address"], hosts[h]["netbox_id"]) for h in WEB}
    ips = {row.value: ident for ident, row in lab.ipam.rows[Kind.IP].items() if not row.key}
    assert adopted == {"s-web-01": ("192.0.2.21/24", ips["192.0.2.21/24"]),
                       "s-web-02": ("192.0.2.22/24", ips["192.0.2.22/24"])}  # fmt: skip
    made = sorted(row.value for row in lab.ipam.rows[Kind.VM].values() if row.key)
    assert made == ["s-db-01", "s-lb-01"]


def test_the_balancer_services_go_on_the_servers_carrying_the_delivery_key(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    lab.run(last=1)
    services = {row.key: (row.fields["parent_object_type"], row.fields["parent_object_id"])
                for row in lab.ipam.rows[Kind.SERVICE].values()}  # fmt: skip
    assert services == {
        "unit-static/service/s-web-01/tcp-80": ("virtualization.virtualmachine", lab.vm),
        "unit-static/service/s-web-02/tcp-80": ("dcim.device", lab.device),
    }


def test_a_release_removes_what_the_delivery_made_and_leaves_the_servers(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    before = lab.servers()
    lab.run(last=1)
    release(lab.ipam, lab.store, DELIVERY.id, "tester")
    assert lab.servers() == before
    assert all(not row.key for rows in lab.ipam.rows.values() for row in rows.values())


def test_plan_names_the_adopted_servers_and_addresses(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    ips = {row.value: ident for ident, row in lab.ipam.rows[Kind.IP].items()}
    changes = lab.plan()
    assert f"adopt ip unit-static/ip/s-web-01 (192.0.2.21/24, #{ips['192.0.2.21/24']})" in changes
    assert f"adopt server s-web-01 (NetBox VM #{lab.vm}, left as it is)" in changes
    assert f"adopt server s-web-02 (NetBox device #{lab.device}, left as it is)" in changes
    assert writes(lab.ipam.calls) == []


def _refusal(lab: Lab, step: str) -> tuple[str, str]:
    """The refusal of ``step`` in a plan and in a run (which must reserve nothing)."""
    plan = lab.engine().plan(RunRequest(DELIVERY, "tester", phases=PhaseRange(1, 1)))
    planned = next(s for s in plan.steps if s.key == step)
    assert planned.status is Status.FAILED
    lab.ipam.calls.clear()
    outcome = lab.run(last=1)
    assert outcome.run.status is Status.FAILED
    ran = lab.step(step)
    assert ran.status is Status.FAILED
    return str(planned.error), str(ran.error)


def test_a_static_address_netbox_lacks_is_refused_before_anything_is_reserved(
    tmp_path: Path,
) -> None:
    lab = Lab(tmp_path)
    gone = next(i for i, r in lab.ipam.rows[Kind.IP].items() if r.value == "192.0.2.22/24")
    del lab.ipam.rows[Kind.IP][gone]
    planned, ran = _refusal(lab, "network.addresses")
    expected = f"static host s-web-02: NetBox has no address 192.0.2.22; {RECORD_IT}"
    assert planned == ran == expected
    assert "ssh_host_key" in expected
    assert [c for c in writes(lab.ipam.calls) if "ip" in c or "vm" in c] == []


def test_a_static_address_on_no_server_is_refused_before_a_vm_is_made(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    ip = next(i for i, r in lab.ipam.rows[Kind.IP].items() if r.value == "192.0.2.22/24")
    lab.ipam.rows[Kind.IP][ip].links = {}  # recorded, but on no interface
    planned, ran = _refusal(lab, "network.machines")
    assert planned == ran
    assert ran.startswith(
        f"static host s-web-02: NetBox address 192.0.2.22/24 (#{ip}) is on no VM's or device's "
        "interface; phase 1 adopts an existing server, it never records one"
    )
    assert not [c for c in writes(lab.ipam.calls) if c.endswith(("vm", "vminterface"))]


# --- phase 2 -----------------------------------------------------------------------------------


def test_a_static_server_must_show_the_key_netbox_records(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    outcome = lab.run()
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    expected = {t.name: t.expected_key for t in lab.probe.targets}
    assert (expected["s-web-01"], expected["s-web-02"]) == (KEY_1, KEY_2)
    assert expected["s-db-01"] == "ssh-ed25519 KEY-s-db-01"  # a made machine: its provider's key
    reached = lab.host_outputs(outcome.run.id, "base.reachability")
    assert (reached["s-web-01"]["host_key"], reached["s-web-02"]["host_key"]) == (KEY_1, KEY_2)


def test_plan_says_the_key_comes_from_netbox(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    assert "ensure machine s-web-02 (existing server at 192.0.2.22 (host key from NetBox))" in (
        lab.plan(last=2)
    )
    lab.run(last=1)
    changes = lab.plan(first=2, last=2)
    assert (f"ensure machine s-web-01 (existing server at 192.0.2.21 (NetBox VM #{lab.vm}; "
            "host key from NetBox))") in changes  # fmt: skip
    assert "reach ssh s-web-02 (check the host key NetBox records)" in changes
    assert "reach ssh s-db-01 (pin the host key on first contact)" in changes


def test_a_static_server_without_a_recorded_key_is_refused_never_pinned(tmp_path: Path) -> None:
    lab = Lab(tmp_path, keys=(KEY_1, None))
    outcome = lab.run()
    assert outcome.run.status is Status.FAILED
    machines = {h.host: h for h in lab.store.list_hosts(outcome.run.id, "base.machines")}
    assert machines["s-web-02"].status is Status.FAILED
    assert str(machines["s-web-02"].error).startswith(
        f"s-web-02 is an existing server and NetBox device #{lab.device} records no SSH host "
        f"key (custom field {HOST_KEY_FIELD}); an existing server's key is never trusted on "
        "first use. Read the key on the server itself"
    )
    assert "s-web-02" not in [t.name for t in lab.probe.targets]
    assert not lab.adapters.workspace.known_hosts(DELIVERY.id).exists() or (
        "192.0.2.22" not in lab.adapters.workspace.known_hosts(DELIVERY.id).read_text()
    )


def test_a_static_server_showing_another_key_than_netbox_is_refused(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    lab.probe.keys["s-web-01"] = OTHER
    outcome = lab.run()
    assert outcome.run.status is Status.FAILED
    reach = {h.host: h for h in lab.store.list_hosts(outcome.run.id, "base.reachability")}
    assert reach["s-web-01"].status is Status.FAILED
    assert str(reach["s-web-01"].error).startswith(
        f"host key of s-web-01 (192.0.2.21) changed: expected {fingerprint(KEY_1)}, shown "
        f"{fingerprint(OTHER)}; the expected key is the one its machine provider reported (for "
        "an existing server, the one NetBox records)"
    )
    assert [t.name for t in lab.probe.targets].count("s-web-01") == 1  # refused, not retried
    assert lab.probe.pins.get("192.0.2.21") is None


def test_a_key_changed_in_netbox_is_refused_even_where_the_old_one_is_pinned(
    tmp_path: Path,
) -> None:
    lab = Lab(tmp_path)
    assert lab.run().run.status is Status.SUCCEEDED
    lab.ipam.rows[Kind.VM][lab.vm].fields["custom_fields"] = {HOST_KEY_FIELD: OTHER}
    store = InMemoryRunStore()  # a new store: base.machines reads NetBox again
    outcome = lab.run(store=store)
    assert outcome.run.status is Status.FAILED
    reach = {h.host: h for h in store.list_hosts(outcome.run.id, "base.reachability")}
    assert f"changed: expected {fingerprint(OTHER)}, shown {fingerprint(KEY_1)}" in str(
        reach["s-web-01"].error
    )


@pytest.mark.parametrize("platform", [None, 4242])
def test_netbox_record_writes_a_static_servers_platform_only_where_missing(
    tmp_path: Path, platform: int | None
) -> None:
    lab = Lab(tmp_path)
    lab.ipam.rows[Kind.VM][lab.vm].fields["custom_fields"] = {HOST_KEY_FIELD: f"{KEY_1} root@web"}
    lab.ipam.rows[Kind.DEVICE][lab.device].fields["platform"] = platform
    outcome = lab.run()
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    debian = lab.ipam.refs[Ref.PLATFORM, "debian-12"]
    written = lab.ipam.written_back()
    assert written[Kind.VM, lab.vm] == {"platform": debian}  # the recorded key is never written
    assert ((Kind.DEVICE, lab.device) in written) is (platform is None)
    assert lab.ipam.rows[Kind.VM][lab.vm].fields["custom_fields"] == {
        HOST_KEY_FIELD: f"{KEY_1} root@web"
    }
    made = {row.value: ident for ident, row in lab.ipam.rows[Kind.VM].items() if row.key}
    for name, ident in made.items():  # a made machine's record: platform and pinned key
        pinned = {HOST_KEY_FIELD: f"ssh-ed25519 KEY-{name}"}
        assert written[Kind.VM, ident] == {"platform": debian, "custom_fields": pinned}
    recorded: Any = lab.step("base.netbox_record").outputs["hosts"]
    assert recorded["s-web-02"]["device"] == lab.device
    assert recorded["s-web-02"]["existing"] is True


def test_a_rerun_with_a_new_store_changes_nothing(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    assert lab.run(last=3).run.status is Status.SUCCEEDED
    before = lab.servers()
    lab.ipam.calls.clear()
    store = InMemoryRunStore()
    outcome = lab.run(last=2, store=store)
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    assert writes(lab.ipam.calls) == []
    assert lab.servers() == before
    assert lab.step("base.netbox_record", store).outputs["updated"] == []
    reach = {h.host: h for h in store.list_hosts(outcome.run.id, "base.reachability")}
    assert [(reach[h].outputs["host_key"], reach[h].changed) for h in WEB] == [
        (KEY_1, False), (KEY_2, False)  # the key NetBox records, already pinned: nothing new
    ]  # fmt: skip
