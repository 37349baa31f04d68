"""The ``Machines`` port: a host up from its standard image, at the address phase 1 reserved.

    Machines.ensure(MachineRequest) -> Machine     idempotent: an existing machine is returned

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
