"""The ``ReachabilityProbe`` contract: the same assertions hold for ``ScriptedProbe``
(``scripted_world``: tests/unit/test_reachability_contract.py) and for ``ParamikoProbe`` against a
lab host (tests/integration/test_reachability_contract.py).

A world has one host that answers SSH (its name, address and the key it shows), an address where
nothing answers, and a folder for the checks' known_hosts files. A pin is written only after the
host showed the right key, and never replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.adapters.workspace import known_hosts_text, read_pins
from orchestrator.engine.errors import HostKeyChanged, Unreachable
from orchestrator.engine.ports.reachability import ReachabilityProbe, SshTarget
from orchestrator.testing.reachability import ScriptedProbe

#: A well-formed key no host shows.
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T"


@dataclass(frozen=True)
class World:
    """A probe, a host it can reach, and an address where nothing answers."""

    probe: ReachabilityProbe
    name: str
    address: str
    key: str  # the key the host shows: ``ssh-ed25519 AAAA...``
    nowhere: str  # an address where nothing answers SSH
    folder: Path  # where each check keeps its known_hosts

    def target(self, known_hosts: str, expected_key: str | None = None) -> SshTarget:
        return SshTarget(self.name, self.address, self.folder / known_hosts, expected_key)


def same_key(one: str, other: str) -> bool:
    """Whether two key lines are the same key (kind and blob; a comment does not count)."""
    return one.split()[:2] == other.split()[:2]


def check_first_contact_pins_the_key_the_host_shows(world: World) -> None:
    target = world.target("first")
    reached = world.probe.reach(target)
    assert same_key(reached.host_key, world.key)
    assert reached.pinned_now
    assert reached.os.startswith("Debian GNU/Linux")
    assert same_key(read_pins(target.known_hosts)[world.address], world.key)


def check_a_pinned_host_is_reached_again_without_pinning(world: World) -> None:
    target = world.target("again")
    world.probe.reach(target)
    reached = world.probe.reach(target)
    assert same_key(reached.host_key, world.key)
    assert not reached.pinned_now
    assert len(target.known_hosts.read_text().splitlines()) == 1


def check_the_expected_key_is_compared_without_its_comment(world: World) -> None:
    target = world.target("expected", expected_key=f"{world.key} root@{world.name}")
    reached = world.probe.reach(target)
    assert same_key(reached.host_key, world.key)
    assert reached.pinned_now


def check_another_expected_key_is_refused_and_nothing_is_pinned(world: World) -> None:
    target = world.target("impostor", expected_key=OTHER_KEY)
    with pytest.raises(HostKeyChanged, match=r" ssh-ed25519 SHA256:") as raised:
        world.probe.reach(target)
    assert (raised.value.address, raised.value.expected) == (world.address, True)
    assert world.address not in read_pins(target.known_hosts)


def check_a_host_showing_another_key_than_its_pin_is_refused(world: World) -> None:
    target = world.target("pinned")
    target.known_hosts.write_text(known_hosts_text({world.address: OTHER_KEY}))
    with pytest.raises(HostKeyChanged, match=r" ssh-ed25519 SHA256:") as raised:
        world.probe.reach(target)
    assert (raised.value.address, raised.value.expected) == (world.address, False)
    assert read_pins(target.known_hosts) == {world.address: OTHER_KEY}


def check_an_address_where_nothing_answers_is_unreachable(world: World) -> None:
    target = SshTarget("nowhere", world.nowhere, world.folder / "nowhere")
    with pytest.raises(Unreachable):
        world.probe.reach(target)
    assert read_pins(target.known_hosts) == {}


CHECKS: tuple[Callable[[World], None], ...] = (
    check_first_contact_pins_the_key_the_host_shows,
    check_a_pinned_host_is_reached_again_without_pinning,
    check_the_expected_key_is_compared_without_its_comment,
    check_another_expected_key_is_refused_and_nothing_is_pinned,
    check_a_host_showing_another_key_than_its_pin_is_refused,
    check_an_address_where_nothing_answers_is_unreachable,
)


def scripted_world(folder: Path) -> World:
    """The fake, scripted as a lab host is: it shows its key; nothing answers at ``nowhere``."""
    name, key = "rc-01", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJjLTAxIHNob3dzIHRoaXMga2V5IG9ubHk"
    nowhere = "192.0.2.99"
    errors = {"nowhere": [Unreachable(f"nowhere ({nowhere}) did not answer SSH")]}
    return World(ScriptedProbe({name: key}, errors), name, "192.0.2.10", key, nowhere, folder)
