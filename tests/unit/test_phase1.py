"""Phase 1 against ``InMemoryIpam``: facts in, changes out — including the no-change case."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from orchestrator.engine import Delivery, Engine, RetryPolicy, RunRequest, Status, TimedOut
from orchestrator.engine.delivery import delivery_from_spec, load_delivery
from orchestrator.engine.phase import PhaseRange
from orchestrator.engine.ports.ipam import Kind, New, Note
from orchestrator.phases.netbox_steps import unwritten
from orchestrator.phases.network import network_phase
from orchestrator.phases.release import release, release_after_failure
from orchestrator.phases.reservations import PENDING, SETTLED, has_intents
from orchestrator.spec import DeliverySpec
from orchestrator.testing import EngineBench, InMemoryIpam, approve_gates

EXAMPLES = Path(__file__).parents[2] / "examples"
FULL = load_delivery(EXAMPLES / "full.yaml")
SMALL = load_delivery(EXAMPLES / "small.yaml")


def spec_of(delivery: Delivery) -> DeliverySpec:
    assert delivery.spec is not None
    return delivery.spec


def changed(delivery: Delivery, **network: object) -> Delivery:
    spec = spec_of(delivery)
    net = spec.network.model_copy(update=network)
    return delivery_from_spec(spec.model_copy(update={"network": net}))


def engine(bench: EngineBench, ipam: InMemoryIpam, retry: RetryPolicy | None = None) -> Engine:
    phases = (network_phase(lambda: ipam),)
    return bench.engine(phases, retry=retry or RetryPolicy(attempts=1))


def run(bench: EngineBench, ipam: InMemoryIpam, delivery: Delivery = FULL) -> Status:
    approve_gates(bench.store, delivery, "preconditions", "hardware_delivered")
    outcome = engine(bench, ipam).run(RunRequest(delivery, "tester", phases=PhaseRange(1, 1)))
    return outcome.run.status


def counts(ipam: InMemoryIpam) -> dict[Kind, int]:
    return {kind: len(rows) for kind, rows in ipam.rows.items() if rows}


EXPECTED_FULL = {
    Kind.TENANT: 1,
    Kind.CONTACT: 5,
    Kind.VLAN: 1,
    Kind.PREFIX: 1,
    Kind.IP: 5,  # the gateway, three hosts and the VIP
    Kind.VM: 3,
    Kind.VM_INTERFACE: 3,
    Kind.SERVICE: 4,
    Kind.DEVICE: 1,
}


def test_phase1_reserves_everything_keyed_and_returns_the_agreed_shapes() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    assert run(bench, ipam) is Status.SUCCEEDED
    assert counts(ipam) == EXPECTED_FULL
    addresses = bench.store.latest_step(FULL.id, "network.addresses")
    assert addresses is not None
    hosts = addresses.outputs["hosts"]
    assert isinstance(hosts, dict)
    assert set(hosts) == {"web-01", "web-02", "db-01"}
    web = hosts["web-01"]
    assert isinstance(web, dict)
    assert (web["address"], web["role"]) == ("10.213.128.2/28", "web")
    assert ipam.rows[Kind.IP][int(str(web["netbox_id"]))].key == "acme-webshop/ip/web-01"
    assert addresses.outputs["prefix"] == "10.213.128.0/28"
    assert addresses.outputs["gateway"] == ["10.213.128.1/28"]
    assert addresses.outputs["gateway_held"] == {}
    vip = addresses.outputs["vip"]
    assert isinstance(vip, dict)
    assert vip["address"] == "10.213.128.5/28"
    machines = bench.store.latest_step(FULL.id, "network.machines")
    assert machines is not None
    vms = machines.outputs["vms"]
    assert isinstance(vms, dict)
    assert set(vms) == set(hosts)
    assert all(
        row.key.startswith("acme-webshop/") for rows in ipam.rows.values() for row in rows.values()
    )


def test_every_vm_gets_its_address_on_eth0_as_primary_ip() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    run(bench, ipam)
    for vm_id, vm in ipam.rows[Kind.VM].items():
        ip = ipam.rows[Kind.IP][vm.links["primary_ip"] or 0]
        interface = ipam.rows[Kind.VM_INTERFACE][ip.links["interface"] or 0]
        assert interface.links["vm"] == vm_id
        assert vm.fields["status"] == "planned"


def test_a_rerun_with_a_fresh_store_adopts_everything_and_writes_nothing() -> None:
    ipam = InMemoryIpam()
    run(EngineBench(), ipam)
    before = counts(ipam)
    ipam.calls.clear()
    assert run(EngineBench(), ipam) is Status.SUCCEEDED
    assert counts(ipam) == before
    writes = [c for c in ipam.calls if c.split()[0] in {"create", "allocate", "update", "delete"}]
    assert writes == []
    assert len([call for call in ipam.calls if call != "prepare"]) <= 12


def test_intent_is_recorded_before_and_settled_after_each_create() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    run(bench, ipam)
    actions = [
        (e.action, e.detail["kind"]) for e in bench.store.list_audit(FULL.id) if "kind" in e.detail
    ]
    assert actions[:2] == [(PENDING, "tenant"), (SETTLED, "tenant")]
    pending = [kind for action, kind in actions if action == PENDING]
    settled = [kind for action, kind in actions if action == SETTLED]
    assert pending == settled
    assert "ip" in pending


def test_a_lost_response_is_healed_by_adoption_not_a_second_allocation() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    approve_gates(bench.store, FULL, "preconditions", "hardware_delivered")
    # allocate succeeds in NetBox but the answer is lost; the engine retries the step
    ipam.lost = [TimedOut("read timed out")]
    retry = RetryPolicy(attempts=3, initial_backoff=0)
    outcome = engine(bench, ipam, retry).run(RunRequest(FULL, "t", phases=PhaseRange(1, 1)))
    assert outcome.run.status is Status.SUCCEEDED
    assert counts(ipam) == EXPECTED_FULL


@pytest.mark.parametrize("position", range(0, 40, 3))
def test_a_transient_fault_anywhere_ends_with_exactly_the_expected_objects(position: int) -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    approve_gates(bench.store, FULL, "preconditions", "hardware_delivered")
    ipam.calls = ["warm-up"] * 0
    original = ipam._call  # noqa: SLF001 - inject a fault at call number ``position``

    def faulty(name: str) -> None:
        if len(ipam.calls) == position:
            ipam.lost.append(TimedOut("lost"))
        original(name)

    ipam._call = faulty  # type: ignore[method-assign]  # noqa: SLF001
    retry = RetryPolicy(attempts=3, initial_backoff=0)
    outcome = engine(bench, ipam, retry).run(RunRequest(FULL, "t", phases=PhaseRange(1, 1)))
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    assert counts(ipam) == EXPECTED_FULL


def someone_elses(ipam: InMemoryIpam, *addresses: str) -> list[int]:
    """Addresses somebody else recorded in NetBox (no key of ours)."""
    items = [New("", {"address": address, "status": "active"}) for address in addresses]
    made = ipam.create(Kind.IP, "", items)
    ipam.calls.clear()
    return [item.id for item in made]


def test_pool_exhaustion_fails_with_asked_and_free_and_is_released() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    small = changed(FULL, prefix_length=29)  # 6 usable: the gateway, 3 hosts and a VIP fit ...
    someone_elses(ipam, *(f"10.213.128.{n}/29" for n in range(3, 7)))  # ... but 4 are taken
    status = run(bench, ipam, small)
    assert status is Status.FAILED
    step = bench.store.latest_step(small.id, "network.addresses")
    assert step is not None
    assert step.error == "asked for 4 addresses from 10.213.128.0/29; 1 free (10.213.128.2/29)"
    runs = bench.store.list_runs(small.id)
    with capture_logs() as logs:
        released = release_after_failure(lambda: ipam, bench.store, runs[0])
    assert released is not None
    assert all(row.key == "" for row in ipam.rows[Kind.IP].values())  # the gateway went too
    assert counts(ipam) == {Kind.IP: 4}
    assert any(e["event"] == "reservations_released" for e in logs)


def test_release_removes_only_the_deliverys_keyed_objects_in_reverse_order() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    run(bench, ipam)
    other = delivery_from_spec(spec_of(SMALL))
    run(EngineBench(), ipam, other)
    theirs = counts(ipam)
    ipam.calls.clear()
    release(ipam, bench.store, FULL.id, "tester")
    deletes = [c.split()[1] for c in ipam.calls if c.startswith("delete")]
    assert deletes == [
        "device",
        "service",
        "vminterface",
        "vm",
        "ip",
        "prefix",
        "vlan",
        "contact",
        "tenant",
    ]
    left = counts(ipam)
    assert all(row.delivery == other.id for rows in ipam.rows.values() for row in rows.values())
    assert left[Kind.VM] == theirs[Kind.VM] - 3


def test_plan_lists_create_with_next_free_candidates() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    approve_gates(bench.store, FULL, "preconditions")
    plan = engine(bench, ipam).plan(RunRequest(FULL, "t", phases=PhaseRange(1, 1)))
    vlan = next(step for step in plan.steps if step.key == "network.vlan")
    assert [str(c) for c in vlan.changes] == [
        "create vlan acme-webshop/vlan (next free: vid 100 in lab-vlans, not yet reserved)"
    ]
    prefix = next(step for step in plan.steps if step.key == "network.prefix")
    assert "next free: 10.213.128.0/28, not yet reserved" in str(prefix.changes[0])
    assert counts(ipam) == {}


def test_hardware_waits_at_the_hardware_delivered_gate() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    approve_gates(bench.store, FULL, "preconditions")
    outcome = engine(bench, ipam).run(RunRequest(FULL, "t", phases=PhaseRange(1, 1)))
    assert outcome.run.status is Status.WAITING
    assert outcome.gate is not None
    assert outcome.gate.gate.name == "hardware_delivered"
    device = next(iter(ipam.rows[Kind.DEVICE].values()))
    assert device.fields["status"] == "planned"
    assert any(
        "hardware_delivered" in text and outcome.run.id in text for _k, _i, text in ipam.journal
    )


def test_journal_entries_are_written_once_at_the_end_of_the_phase() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    assert run(bench, ipam) is Status.SUCCEEDED
    assert ipam.calls.count("note") == 1
    delivery = FULL.id
    assert all(f"delivery {delivery}, run " in text for _kind, _id, text in ipam.journal)
    targets = {kind for kind, _id, _text in ipam.journal}
    assert {"tenant", "vlan", "prefix", "device"} <= targets
    written = len(ipam.journal)
    ipam.calls.clear()
    assert run(bench, ipam) is Status.SUCCEEDED
    assert "note" not in ipam.calls
    assert len(ipam.journal) == written


def lose_journal(ipam: InMemoryIpam) -> None:
    """Make NetBox lose every journal request (the run then stops ``crashed``)."""

    def note(entries: object) -> None:
        raise TimedOut(f"NetBox did not answer in time ({entries!r:.20})")

    ipam.note = note  # type: ignore[method-assign]


def test_journal_entries_left_by_a_crash_are_written_by_resume() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    approve_gates(bench.store, FULL, "preconditions", "hardware_delivered")
    lose_journal(ipam)
    request = RunRequest(FULL, "tester", phases=PhaseRange(1, 1))
    first = engine(bench, ipam).run(request)
    assert first.run.status is Status.CRASHED
    assert ipam.journal == []
    del ipam.note  # NetBox answers again
    again = engine(bench, ipam).resume(request, first.run.id)
    assert again.run.status is Status.SUCCEEDED
    assert len(ipam.journal) >= 4
    assert all(first.run.id in text for _kind, _id, text in ipam.journal)


def test_a_release_drops_journal_entries_not_yet_written() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    approve_gates(bench.store, FULL, "preconditions", "hardware_delivered")
    lose_journal(ipam)
    engine(bench, ipam).run(RunRequest(FULL, "tester", phases=PhaseRange(1, 1)))
    assert unwritten(bench.store.list_audit(FULL.id)) != []
    release(ipam, bench.store, FULL.id, "tester")
    assert unwritten(bench.store.list_audit(FULL.id)) == []


def test_a_lost_journal_answer_does_not_write_the_entries_twice() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    approve_gates(bench.store, FULL, "preconditions", "hardware_delivered")
    original = ipam.note

    def committed_then_lost(entries: Sequence[Note]) -> None:
        original(entries)
        del ipam.note
        raise TimedOut("NetBox did not answer in time (it may still commit)")

    ipam.note = committed_then_lost  # type: ignore[method-assign]
    outcome = engine(bench, ipam, RetryPolicy(attempts=2)).run(
        RunRequest(FULL, "tester", phases=PhaseRange(1, 1))
    )
    assert outcome.run.status is Status.SUCCEEDED
    assert ipam.calls.count("note") == 2
    assert len(ipam.journal) == len(ipam.journal_keys) >= 4


TAKEN = (
    "customer.name 'Acme B.V.' is already NetBox tenant #{id} (slug 'acme-holding'); set "
    "customer.tenant: acme-holding to deliver for that tenant, or give the customer another name"
)


def a_tenant(ipam: InMemoryIpam, name: str, slug: str) -> int:
    """A tenant somebody else made in NetBox (no key of ours)."""
    made = ipam.create(Kind.TENANT, "", [New("", {"name": name, "slug": slug})])
    ipam.calls.clear()
    return made[0].id


def test_plan_fails_the_tenant_step_when_the_customer_name_is_another_tenants() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    other = a_tenant(ipam, "Acme B.V.", "acme-holding")
    approve_gates(bench.store, FULL, "preconditions")
    plan = engine(bench, ipam).plan(RunRequest(FULL, "t", phases=PhaseRange(1, 1)))
    tenant = next(step for step in plan.steps if step.key == "network.tenant")
    assert (tenant.status, tenant.error) == (Status.FAILED, TAKEN.format(id=other))
    assert plan.run.status is Status.FAILED
    assert counts(ipam) == {Kind.TENANT: 1}


def test_run_fails_before_creating_anything_when_the_customer_name_is_taken() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    other = a_tenant(ipam, "Acme B.V.", "acme-holding")
    assert run(bench, ipam) is Status.FAILED
    step = bench.store.latest_step(FULL.id, "network.tenant")
    assert step is not None
    assert (step.status, step.error) == (Status.FAILED, TAKEN.format(id=other))
    assert counts(ipam) == {Kind.TENANT: 1}
    assert [call for call in ipam.calls if call.split()[0] in {"create", "allocate"}] == []
    assert not has_intents(bench.store.list_audit(FULL.id))


def test_the_name_is_looked_up_only_when_the_tenant_is_to_be_made() -> None:
    ipam = InMemoryIpam()
    assert run(EngineBench(), ipam) is Status.SUCCEEDED
    assert ipam.calls.count("tenant_named") == 1
    ipam.calls.clear()
    assert run(EngineBench(), ipam) is Status.SUCCEEDED  # adopts its own tenant
    assert "tenant_named" not in ipam.calls
    theirs = InMemoryIpam()
    a_tenant(theirs, "Acme B.V.", "acme")  # the spec's slug: adopted, whatever its name
    assert run(EngineBench(), theirs) is Status.SUCCEEDED
    assert "tenant_named" not in theirs.calls
