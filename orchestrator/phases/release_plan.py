"""A delivery's release as data: what it holds in, what to remove out, in the order it goes.

    plan_release(Holdings) -> tuple[Removal, ...]

Pure, like a step's ``plan``: ``orchestrator release --plan`` prints the removals, ``release``
prints the same and then carries them out, one kind after the other in ``ORDER``:

    monitoring   its host targets, probe targets, rule files and blackbox modules first, so
                 nothing alerts about machines that are going
    machine      a machine its provider made is destroyed; an existing server (``static``) is
                 forgotten, never touched, and a machine of the same name that is not the
                 delivery's (another address) is left alone
    netbox       every object carrying the delivery's key, newest kind first
    pin, secret  its pinned host keys and generated secrets (the shared state and the files)
    workspace    its folder: inventories, playbook artifacts, documents, dumps, keys

Each kind is read again from where it lives before a release, so a release stopped half-way
(killed) plans only what is left; ``forgotten`` carries what cannot be read back (an existing
server a release forgot already), from the run store's record of that release.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from orchestrator.engine.ports.ipam import Kind
from orchestrator.engine.ports.machines import Holding, MachineRef


class What(StrEnum):
    """The kinds of things a release removes, in the order it removes them."""

    MONITORING = "monitoring"
    MACHINE = "machine"
    NETBOX = "netbox"
    PIN = "pin"
    SECRET = "secret"  # noqa: S105 - the kind's name, not a password
    WORKSPACE = "workspace"


ORDER = tuple(What)


@dataclass(frozen=True, slots=True)
class Removal:
    """One thing a release removes (or, for an existing server, forgets)."""

    what: What
    name: str
    how: str = ""  # how it goes, when not plainly removed: ``destroy lab host``, ``forget``

    def line(self) -> str:
        """One line for the command line."""
        how = f" ({self.how})" if self.how else ""
        return f"{self.what.value} {self.name}{how}"


@dataclass(frozen=True, slots=True)
class Holdings:
    """Everything a delivery holds now, as read from where each kind lives."""

    delivery: str
    monitoring: tuple[str, ...] = ()
    machines: tuple[tuple[MachineRef, Holding], ...] = ()
    netbox: Mapping[Kind, tuple[str, ...]] = field(default_factory=dict)  # keys, release order
    pins: tuple[str, ...] = ()  # addresses
    secrets: tuple[str, ...] = ()  # names, never values
    workspace: bool = False  # whether its folder exists
    forgotten: frozenset[str] = frozenset()  # existing servers a release forgot already


FORGET = "forget: an existing server, never touched"


def plan_release(held: Holdings) -> tuple[Removal, ...]:
    """What releasing ``held`` removes, in ``ORDER``; nothing when nothing is held."""
    return (
        *(Removal(What.MONITORING, name) for name in held.monitoring),
        *_machines(held),
        *(
            Removal(What.NETBOX, key, kind.value)
            for kind, keys in held.netbox.items()
            for key in keys
        ),
        *(Removal(What.PIN, address) for address in held.pins),
        *(Removal(What.SECRET, name) for name in held.secrets),
        *((Removal(What.WORKSPACE, held.delivery),) if held.workspace else ()),
    )


def _machines(held: Holdings) -> tuple[Removal, ...]:
    removals: list[Removal] = []
    for machine, holding in held.machines:
        if holding is Holding.OURS:
            removals.append(Removal(What.MACHINE, machine.name, f"destroy {machine.provider} host"))
        elif holding is Holding.CUSTOMERS and machine.name not in held.forgotten:
            removals.append(Removal(What.MACHINE, machine.name, FORGET))
    return tuple(removals)


def left_alone(held: Holdings) -> tuple[str, ...]:
    """The delivery's machine names whose namesake is another's: a release does not touch them."""
    return tuple(m.name for m, holding in held.machines if holding is Holding.OTHERS)


def by_kind(removals: tuple[Removal, ...]) -> dict[What, tuple[Removal, ...]]:
    """``removals`` grouped by kind, in ``ORDER``; kinds with none left out."""
    groups = {what: tuple(r for r in removals if r.what is what) for what in ORDER}
    return {what: group for what, group in groups.items() if group}
