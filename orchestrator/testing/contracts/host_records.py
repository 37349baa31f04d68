"""Existing servers, as ``Ipam.find`` and ``HostRecords.fields`` see them: the same assertions hold
for the fakes (``InMemoryServers``: tests/unit/test_servers_contract.py) and for ``NetBoxIpam`` +
``NetBoxHostRecords`` (against the lab NetBox, tests/integration/test_servers_contract.py).

A server recorded before any delivery is a VM or device with an interface holding its address,
and its SSH host key in the custom field ``ssh_host_key``; phase 1 adopts it by its address and
phase 2 reads the key the server must show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.engine.ports.host_records import HOST_KEY_FIELD, HostRecords
from orchestrator.engine.ports.ipam import Ipam, Kind
from orchestrator.testing.host_records import InMemoryHostRecords
from orchestrator.testing.ipam import InMemoryIpam

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T"
#: Addresses no one else uses (the lab hands 10.213.1.50-59 to these tests).
VM_ADDRESS, DEVICE_ADDRESS, LOOSE_ADDRESS, NOWHERE = (f"10.213.1.{n}" for n in (57, 58, 59, 56))


class Servers(Protocol):
    """NetBox (or its fakes) with a way to record servers as an operator would, before phase 1."""

    @property
    def ipam(self) -> Ipam: ...

    @property
    def records(self) -> HostRecords: ...

    def server(self, kind: Kind, name: str, address: str, host_key: str | None) -> int:
        """A VM or device with an interface holding ``address`` (with its length); its id."""
        ...

    def address(self, address: str) -> int:
        """An address on no interface; its id."""
        ...


def check_an_address_is_found_without_its_length_with_the_vm_holding_it(world: Servers) -> None:
    vm = world.server(Kind.VM, "st-contract-vm", f"{VM_ADDRESS}/24", None)
    found = world.ipam.find(Kind.IP, VM_ADDRESS)
    assert found is not None
    assert (found.value, found.key) == (f"{VM_ADDRESS}/24", "")
    assert (found.links["vm"], found.links["device"]) == (vm, None)
    assert found.links["interface"] is not None


def check_an_address_is_found_with_the_device_holding_it(world: Servers) -> None:
    device = world.server(Kind.DEVICE, "st-contract-device", f"{DEVICE_ADDRESS}/24", None)
    found = world.ipam.find(Kind.IP, DEVICE_ADDRESS)
    assert found is not None
    assert (found.links["vm"], found.links["device"]) == (None, device)
    assert found.links["interface"] is not None


def check_an_address_on_no_interface_names_no_server(world: Servers) -> None:
    ident = world.address(f"{LOOSE_ADDRESS}/32")
    found = world.ipam.find(Kind.IP, LOOSE_ADDRESS)
    assert found is not None
    assert found.id == ident
    assert found.links == {"interface": None, "vm": None, "device": None}
    assert world.ipam.find(Kind.IP, NOWHERE) is None


def check_the_recorded_host_key_is_read_from_a_vm_and_a_device(world: Servers) -> None:
    vm = world.server(Kind.VM, "st-contract-vm", f"{VM_ADDRESS}/24", KEY)
    device = world.server(Kind.DEVICE, "st-contract-device", f"{DEVICE_ADDRESS}/24", None)
    names = ("platform", "custom_fields")
    vms = world.records.fields(Kind.VM, [vm, 999_999_999], names)
    assert list(vms) == [vm]  # an id NetBox does not hold is left out
    assert vms[vm]["platform"] is None
    custom = vms[vm]["custom_fields"]
    assert isinstance(custom, dict)
    assert custom[HOST_KEY_FIELD] == KEY
    devices = world.records.fields(Kind.DEVICE, [device], names)
    custom = devices[device]["custom_fields"]
    assert isinstance(custom, dict)
    assert HOST_KEY_FIELD in custom  # the field exists on devices too, empty until recorded
    assert custom[HOST_KEY_FIELD] is None


CHECKS = [
    check_an_address_is_found_without_its_length_with_the_vm_holding_it,
    check_an_address_is_found_with_the_device_holding_it,
    check_an_address_on_no_interface_names_no_server,
    check_the_recorded_host_key_is_read_from_a_vm_and_a_device,
]


@dataclass
class InMemoryServers:
    """The fakes: servers are rows of an ``InMemoryIpam``, read by ``InMemoryHostRecords``."""

    ipam: InMemoryIpam = field(default_factory=InMemoryIpam)

    @property
    def records(self) -> InMemoryHostRecords:
        return InMemoryHostRecords(self.ipam)

    def server(self, kind: Kind, name: str, address: str, host_key: str | None) -> int:
        return self.ipam.existing_server(kind, name, address, {HOST_KEY_FIELD: host_key})

    def address(self, address: str) -> int:
        return self.ipam.existing_address(address)
