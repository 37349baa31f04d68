"""The ``Machines`` port: a host up from its standard image, at the address phase 1 reserved.

    Machines.ensure(MachineRequest) -> Machine     idempotent: an existing machine is returned
    MachineRelease.holding(MachineRef) -> Holding  what a release would find (no side effects)
    MachineRelease.release(MachineRef) -> Holding  what it found; a machine the delivery's
                                                   provider made is destroyed, an existing
                                                   server is only forgotten (never touched)

Adapters (``orchestrator.adapters.machines``): ``LabMachines``, ``StaticMachines`` and
``ProviderMachines``, which picks one of them by the provider the spec names per host group;
hypervisor providers implement the same one method. ``InMemoryMachines`` (``orchestrator.testing``)
is held to ``LabMachines``'s behaviour by ``orchestrator.testing.contracts.machines``. Errors
(``orchestrator.engine.errors``): a provider that refuses (bad address, name in use, unknown image)
raises ``Refused``; an existing server whose host key is not recorded raises ``HostKeyUnrecorded``
(a ``Refused``); a host that does not come up in time raises ``TimedOut`` (the engine retries it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from orchestrator.engine.ports.host_records import RecordRef


@dataclass(frozen=True, slots=True)
class MachineRequest:
    """A machine a delivery needs."""

    name: str
    role: str
    address: str  # without the prefix length
    image: str
    provider: str
    extra_addresses: tuple[str, ...] = ()  # e.g. the load balancer's VIP
    record: RecordRef | None = None  # an existing server's VM or device (``static`` hosts)


@dataclass(frozen=True, slots=True)
class Machine:
    """A machine that is up.

    ``host_key`` is the SSH host key when the provider knows it (the lab made it; for an existing
    server, the key NetBox records): every contact must then present exactly that key.
    ``owns_kernel`` says whether the host may apply kernel settings and keep its own clock
    (containers share the lab's kernel; each still has its own network namespace, where it loads
    its firewall).
    """

    name: str
    address: str
    provider: str
    created: bool = False
    host_key: str | None = None
    owns_kernel: bool = True


class Machines(Protocol):
    """Brings machines up from their standard images."""

    def ensure(self, request: MachineRequest) -> Machine:
        """The machine for ``request``, created if it does not exist yet."""
        ...


class Holding(StrEnum):
    """What a provider holds under a delivery's machine, as ``orchestrator release`` sees it."""

    OURS = "ours"  # the provider made it for the delivery: a release destroys it
    CUSTOMERS = "customers"  # an existing server (``static``): a release forgets it, never more
    OTHERS = "others"  # a machine of that name that is not the delivery's (another address)
    GONE = "gone"  # nothing there: never made, or removed already


@dataclass(frozen=True, slots=True)
class MachineRef:
    """A machine of a delivery: its name, the provider the spec names, the address phase 1
    reserved for it (without the prefix length), by which a provider tells it from a namesake."""

    name: str
    provider: str
    address: str


class MachineRelease(Protocol):
    """Takes a delivery's machines back when it is released."""

    def holding(self, machine: MachineRef) -> Holding:
        """What is there under ``machine`` now; changes nothing."""
        ...

    def release(self, machine: MachineRef) -> Holding:
        """Destroy ``machine`` if it is ``OURS``; leave anything else as it is. What was there
        (``GONE`` the second time: it is idempotent)."""
        ...


class Provider(Machines, MachineRelease, Protocol):
    """A machine provider: brings a delivery's machines up and takes them back."""
