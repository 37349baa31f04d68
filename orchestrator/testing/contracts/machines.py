"""The ``Machines`` contract: the same assertions hold for ``InMemoryMachines``
(``memory_world``: tests/unit/test_machines_contract.py) and for ``LabMachines`` on the lab
(tests/integration/test_machines_contract.py), as they would for a hypervisor's provider.

A world has a machine that is up already, a name and an address no machine has (the world
removes the machine a check makes there), and the provider's name and standard image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from orchestrator.engine.errors import Refused
from orchestrator.engine.ports.machines import Machine, MachineRequest, Machines
from orchestrator.testing.machines import InMemoryMachines


@dataclass(frozen=True)
class World:
    """A provider, a machine it has, and room for a new one."""

    machines: Machines
    existing: Machine  # up already: its name, address and host key
    new: MachineRequest  # a name and an address no machine has, the standard image


def same_key(one: str | None, other: str | None) -> bool:
    """Whether two key lines are the same key (kind and blob; a comment does not count)."""
    return one is not None and other is not None and one.split()[:2] == other.split()[:2]


def check_a_new_machine_is_made_once_then_returned_as_it_is(world: World) -> None:
    made = world.machines.ensure(world.new)
    assert made.created
    assert (made.name, made.address, made.provider) == (
        world.new.name, world.new.address, world.new.provider,
    )  # fmt: skip
    assert made.host_key is not None
    assert made.host_key.startswith("ssh-")
    again = world.machines.ensure(world.new)
    assert not again.created
    assert (again.name, again.address) == (made.name, made.address)
    assert same_key(again.host_key, made.host_key)


def check_a_machine_that_is_up_is_returned_with_its_key(world: World) -> None:
    request = replace(world.new, name=world.existing.name, address=world.existing.address)
    found = world.machines.ensure(request)
    assert not found.created
    assert (found.name, found.address) == (world.existing.name, world.existing.address)
    assert same_key(found.host_key, world.existing.host_key)


def check_an_image_the_provider_does_not_have_is_refused(world: World) -> None:
    with pytest.raises(Refused, match="image"):
        world.machines.ensure(replace(world.new, image="windows-2022"))


def check_a_name_that_is_up_at_another_address_is_refused(world: World) -> None:
    with pytest.raises(Refused, match=world.existing.address.replace(".", r"\.")):
        world.machines.ensure(replace(world.new, name=world.existing.name))


def check_an_address_another_machine_holds_is_refused(world: World) -> None:
    with pytest.raises(Refused, match=world.existing.name):
        world.machines.ensure(replace(world.new, address=world.existing.address))


CHECKS: tuple[Callable[[World], None], ...] = (
    check_a_new_machine_is_made_once_then_returned_as_it_is,
    check_a_machine_that_is_up_is_returned_with_its_key,
    check_an_image_the_provider_does_not_have_is_refused,
    check_a_name_that_is_up_at_another_address_is_refused,
    check_an_address_another_machine_holds_is_refused,
)


def memory_world() -> World:
    """The fake, with one machine up already."""
    machines = InMemoryMachines()
    existing = machines.ensure(MachineRequest("mc-01", "web", "192.0.2.10", "debian-12", "lab"))
    new = MachineRequest("mc-02", "web", "192.0.2.11", "debian-12", "lab")
    return World(machines, existing, new)
