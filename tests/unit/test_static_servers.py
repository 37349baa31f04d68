"""Existing (``static``) servers with fakes, facts in and changes out: phase 1 adopts them (their
address stays where it is, no VM is made), a release leaves them alone."""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from typing import Any

from orchestrator.engine import Engine, RunOutcome, RunRequest
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import PhaseRange
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD
from orchestrator.engine.ports.ipam import Kind
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.status import Status
from orchestrator.phases.netbox_steps import RECORD_IT
from orchestrator.phases.network import network_phase
from orchestrator.phases.release import release
from orchestrator.store.records import JsonMap, StepRecord
from orchestrator.testing import (
    InMemoryIpam,
    InMemoryRunStore,
    approve_gates,
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


class Lab:
    """NetBox with the two web servers recorded beforehand (s-web-01 a VM, s-web-02 a device),
    and phase 1 on it."""

    def __init__(self, keys: tuple[str | None, ...] = (KEY_1, KEY_2)) -> None:
        self.ipam = RecordingIpam()
        self.vm = self.ipam.existing_server(
            Kind.VM, "s-web-01", "192.0.2.21/24", {HOST_KEY_FIELD: keys[0]}
        )
        self.device = self.ipam.existing_server(
            Kind.DEVICE, "s-web-02", "192.0.2.22/24", {HOST_KEY_FIELD: keys[1]}
        )
        self.store = InMemoryRunStore()
        approve_gates(self.store, DELIVERY, "preconditions")

    def engine(self) -> Engine:
        return Engine(self.store, (network_phase(lambda: self.ipam),), retry=RETRY,
                      runtime=fake_runtime())  # fmt: skip

    def run(self, last: int = 1) -> RunOutcome:
        return self.engine().run(RunRequest(DELIVERY, "tester", phases=PhaseRange(1, last)))

    def plan(self, first: int = 1, last: int = 1) -> list[str]:
        request = RunRequest(DELIVERY, "tester", phases=PhaseRange(first, last))
        outcome = self.engine().plan(request)
        return [str(change) for step in outcome.steps for change in step.changes]

    def step(self, key: str) -> StepRecord:
        found = self.store.latest_step(DELIVERY.id, key)
        assert found is not None, f"{key} did not run"
        return found

    def servers(self) -> dict[Kind, dict[int, object]]:
        """What NetBox holds that the delivery did not make: rows without a key."""
        return {kind: {i: deepcopy(r) for i, r in rows.items() if not r.key}
                for kind, rows in self.ipam.rows.items()}  # fmt: skip


def writes(calls: Sequence[str]) -> list[str]:
    return [call for call in calls if call.split()[0] in WRITES]


# --- phase 1 -----------------------------------------------------------------------------------


def test_phase_1_adopts_the_servers_and_makes_vms_for_the_other_hosts_only() -> None:
    lab = Lab()
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


def test_the_balancer_services_go_on_the_servers_carrying_the_delivery_key() -> None:
    lab = Lab()
    lab.run(last=1)
    services = {row.key: (row.fields["parent_object_type"], row.fields["parent_object_id"])
                for row in lab.ipam.rows[Kind.SERVICE].values()}  # fmt: skip
    assert services == {
        "unit-static/service/s-web-01/tcp-80": ("virtualization.virtualmachine", lab.vm),
        "unit-static/service/s-web-02/tcp-80": ("dcim.device", lab.device),
    }


def test_a_release_removes_what_the_delivery_made_and_leaves_the_servers() -> None:
    lab = Lab()
    before = lab.servers()
    lab.run(last=1)
    release(lab.ipam, lab.store, DELIVERY.id, "tester")
    assert lab.servers() == before
    assert all(not row.key for rows in lab.ipam.rows.values() for row in rows.values())


def test_plan_names_the_adopted_servers_and_addresses() -> None:
    lab = Lab()
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


def test_a_static_address_netbox_lacks_is_refused_before_anything_is_reserved() -> None:
    lab = Lab()
    gone = next(i for i, r in lab.ipam.rows[Kind.IP].items() if r.value == "192.0.2.22/24")
    del lab.ipam.rows[Kind.IP][gone]
    planned, ran = _refusal(lab, "network.addresses")
    expected = f"static host s-web-02: NetBox has no address 192.0.2.22; {RECORD_IT}"
    assert planned == ran == expected
    assert "ssh_host_key" in expected
    assert [c for c in writes(lab.ipam.calls) if "ip" in c or "vm" in c] == []


def test_a_static_address_on_no_server_is_refused_before_a_vm_is_made() -> None:
    lab = Lab()
    ip = next(i for i, r in lab.ipam.rows[Kind.IP].items() if r.value == "192.0.2.22/24")
    lab.ipam.rows[Kind.IP][ip].links = {}  # recorded, but on no interface
    planned, ran = _refusal(lab, "network.machines")
    assert planned == ran
    assert ran.startswith(
        f"static host s-web-02: NetBox address 192.0.2.22/24 (#{ip}) is on no VM's or device's "
        "interface; phase 1 adopts an existing server, it never records one"
    )
    assert not [c for c in writes(lab.ipam.calls) if c.endswith(("vm", "vminterface"))]
