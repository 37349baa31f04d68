"""The ``Ipam`` contract: the same assertions hold for ``InMemoryIpam`` (tests/unit/
test_phase1_contract.py) and ``NetBoxIpam`` (tests/integration/test_phase1_contract.py, against
the lab NetBox).

Each check takes the adapter and a delivery of its own (``fresh_delivery``); ``cleanup`` removes
what a check made. ``PARENT`` is the container prefix ``InMemoryIpam`` is seeded with, as the lab
NetBox is.
"""

from __future__ import annotations

import ipaddress
import secrets

import pytest

from orchestrator.engine import Exhausted, Refused
from orchestrator.engine.errors import KeyTaken
from orchestrator.engine.ports.ipam import Ipam, Kind, New, Note, Ref

PARENT = "10.213.128.0/17"


def fresh_delivery() -> str:
    return f"contract-{secrets.token_hex(3)}"


def a_prefix(ipam: Ipam, delivery: str, length: int = 29) -> int:
    parent = ipam.reference(Ref.PREFIX, PARENT)
    made = ipam.allocate(
        Kind.PREFIX, parent, delivery, [New(f"{delivery}/prefix", {"prefix_length": length})]
    )
    return made[0].id


def check_bulk_allocation_is_keyed_and_found_again(ipam: Ipam, delivery: str) -> None:
    prefix = a_prefix(ipam, delivery)
    items = [New(f"{delivery}/ip/h{n}", {"status": "active"}) for n in range(3)]
    made = ipam.allocate(Kind.IP, prefix, delivery, items)
    assert [m.key for m in made] == [i.key for i in items]
    assert len({m.value for m in made}) == 3
    found = ipam.owned(Kind.IP, delivery)
    assert {k: v.id for k, v in found.items()} == {m.key: m.id for m in made}
    assert ipam.find(Kind.IP, made[0].value) is not None


def check_a_taken_key_refuses_the_whole_request(ipam: Ipam, delivery: str) -> None:
    prefix = a_prefix(ipam, delivery)
    ipam.allocate(Kind.IP, prefix, delivery, [New(f"{delivery}/ip/a")])
    with pytest.raises(KeyTaken):
        ipam.allocate(Kind.IP, prefix, delivery, [New(f"{delivery}/ip/b"), New(f"{delivery}/ip/a")])
    assert set(ipam.owned(Kind.IP, delivery)) == {f"{delivery}/ip/a"}


def check_a_full_pool_is_exhausted_and_nothing_is_taken(ipam: Ipam, delivery: str) -> None:
    prefix = a_prefix(ipam, delivery, 30)  # two usable addresses
    assert len(ipam.free(Kind.IP, prefix, 5)) == 2
    with pytest.raises(Exhausted):
        ipam.allocate(Kind.IP, prefix, delivery, [New(f"{delivery}/ip/{n}") for n in range(3)])
    assert ipam.owned(Kind.IP, delivery) == {}


def check_delete_removes_by_id(ipam: Ipam, delivery: str) -> None:
    prefix = a_prefix(ipam, delivery)
    made = ipam.allocate(Kind.IP, prefix, delivery, [New(f"{delivery}/ip/x")])
    ipam.delete(Kind.IP, [made[0].id])
    ipam.delete(Kind.PREFIX, [prefix])
    assert ipam.owned(Kind.IP, delivery) == {}
    assert ipam.owned(Kind.PREFIX, delivery) == {}


def check_unknown_reference_is_refused(ipam: Ipam, _delivery: str) -> None:
    with pytest.raises(Refused):
        ipam.reference(Ref.SITE, "no-such-site")


def check_prepared_reads_follow_the_writes(ipam: Ipam, delivery: str) -> None:
    ipam.prepare(delivery, [(Ref.PREFIX, PARENT), (Ref.TENANT, delivery)])
    assert ipam.find(Kind.TENANT, delivery) is None
    tenant = New(f"{delivery}/tenant", {"name": delivery, "slug": delivery})
    made_tenant = ipam.create(Kind.TENANT, delivery, [tenant])[0]
    found = ipam.find(Kind.TENANT, delivery)
    assert found is not None
    assert found.id == made_tenant.id
    assert ipam.reference(Ref.TENANT, delivery) == made_tenant.id
    prefix = a_prefix(ipam, delivery)
    made = ipam.allocate(Kind.IP, prefix, delivery, [New(f"{delivery}/ip/{n}") for n in range(2)])
    assert set(ipam.owned(Kind.IP, delivery)) == {item.key for item in made}
    ipam.delete(Kind.IP, [made[0].id])
    assert set(ipam.owned(Kind.IP, delivery)) == {made[1].key}
    assert set(ipam.owned(Kind.TENANT, delivery)) == {tenant.key}


def check_a_tenant_is_found_by_name_and_its_name_is_not_given_twice(
    ipam: Ipam, delivery: str
) -> None:
    name = f"Contract {delivery}"
    ipam.prepare(delivery, [(Ref.TENANT, delivery)])
    assert ipam.tenant_named(name) is None
    made = ipam.create(
        Kind.TENANT, delivery, [New(f"{delivery}/tenant", {"name": name, "slug": delivery})]
    )[0]
    assert ipam.tenant_named(name) == made
    assert ipam.tenant_named(name.upper()) is None
    again = New(f"{delivery}/tenant-2", {"name": name, "slug": f"{delivery}-2"})
    with pytest.raises(Refused) as refused:
        ipam.create(Kind.TENANT, delivery, [again])
    assert not isinstance(refused.value, KeyTaken)
    assert set(ipam.owned(Kind.TENANT, delivery)) == {f"{delivery}/tenant"}


def check_a_gateway_recorded_first_is_never_allocated(ipam: Ipam, delivery: str) -> None:
    prefix = a_prefix(ipam, delivery)  # a /29: six usable addresses
    value = ipam.owned(Kind.PREFIX, delivery)[f"{delivery}/prefix"].value
    network = ipaddress.ip_network(value)
    host = str(next(network.hosts()))
    first = f"{host}/{network.prefixlen}"
    fields = {"address": first, "status": "reserved", "description": "gateway"}
    gateway = ipam.create(Kind.IP, delivery, [New(f"{delivery}/ip/gateway", fields)])[0]
    assert gateway.value == first
    assert first not in ipam.free(Kind.IP, prefix, 6)
    hosts = ipam.allocate(Kind.IP, prefix, delivery, [New(f"{delivery}/ip/h{n}") for n in range(5)])
    assert first not in {host.value for host in hosts}
    assert ipam.free(Kind.IP, prefix, 1) == []
    found = ipam.find(Kind.IP, host)  # by host, whatever the length
    assert found is not None
    assert (found.key, found.id) == (f"{delivery}/ip/gateway", gateway.id)
    assert ipam.owned(Kind.IP, delivery)[f"{delivery}/ip/gateway"].value == first


def check_an_address_held_is_refused_not_key_taken(ipam: Ipam, delivery: str) -> None:
    prefix = a_prefix(ipam, delivery)
    held = ipam.allocate(Kind.IP, prefix, delivery, [New(f"{delivery}/ip/host")])[0]
    host = held.value.split("/")[0]
    again = New(f"{delivery}/ip/gateway", {"address": f"{host}/24", "status": "reserved"})
    with pytest.raises(Refused) as refused:
        ipam.create(Kind.IP, delivery, [again])
    assert not isinstance(refused.value, KeyTaken)
    assert set(ipam.owned(Kind.IP, delivery)) == {f"{delivery}/ip/host"}
    found = ipam.find(Kind.IP, host)
    assert found is not None
    assert found.id == held.id


def check_statuses_are_read_and_changed_in_bulk(ipam: Ipam, delivery: str) -> None:
    prefix = a_prefix(ipam, delivery)
    assert ipam.owned(Kind.PREFIX, delivery)[f"{delivery}/prefix"].status == "active"
    items = [New(f"{delivery}/ip/h{n}", {"status": "reserved"}) for n in range(2)]
    made = ipam.allocate(Kind.IP, prefix, delivery, items)
    assert [item.status for item in made] == ["reserved", "reserved"]
    ipam.update(Kind.IP, [(item.id, {"status": "active"}) for item in made])
    ipam.update(Kind.PREFIX, [(prefix, {"status": "reserved"})])
    assert {item.status for item in ipam.owned(Kind.IP, delivery).values()} == {"active"}
    assert ipam.owned(Kind.PREFIX, delivery)[f"{delivery}/prefix"].status == "reserved"
    found = ipam.find(Kind.IP, made[0].value.split("/")[0])
    assert found is not None
    assert found.status == "active"


def check_keyed_journal_entries_are_read_back_once(ipam: Ipam, delivery: str) -> None:
    ipam.prepare(delivery, [(Ref.TENANT, delivery)])
    tenant = ipam.create(
        Kind.TENANT, delivery, [New(f"{delivery}/tenant", {"name": delivery, "slug": delivery})]
    )[0]
    assert ipam.notes(delivery) == {}
    key = f"{delivery}/journal/handover/0123abcd"
    entry = Note(Kind.TENANT, tenant.id, "handover document written", key)
    ipam.note([entry])
    ipam.note([entry])  # written once, whatever the retries
    assert ipam.notes(delivery) == {key: entry}
    assert ipam.notes(f"{delivery}-other") == {}
    assert tenant.status == ""


CHECKS = [
    check_prepared_reads_follow_the_writes,
    check_bulk_allocation_is_keyed_and_found_again,
    check_a_taken_key_refuses_the_whole_request,
    check_a_full_pool_is_exhausted_and_nothing_is_taken,
    check_delete_removes_by_id,
    check_unknown_reference_is_refused,
    check_a_tenant_is_found_by_name_and_its_name_is_not_given_twice,
    check_a_gateway_recorded_first_is_never_allocated,
    check_an_address_held_is_refused_not_key_taken,
    check_statuses_are_read_and_changed_in_bulk,
    check_keyed_journal_entries_are_read_back_once,
]


def cleanup(ipam: Ipam, delivery: str) -> None:
    for kind in (Kind.IP, Kind.PREFIX, Kind.TENANT):
        ipam.delete(kind, [item.id for item in ipam.owned(kind, delivery).values()])
