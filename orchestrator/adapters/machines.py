"""The ``Machines`` port: a host up from its standard image, at the address phase 1 reserved.

    Machines.ensure(MachineRequest) -> Machine     idempotent: an existing machine is returned
    ├── StaticMachines     servers that already exist: nothing to create
    ├── ProviderMachines   picks a provider by the name the spec gives per host group
    └── (the lab's nspawn hosts: ``orchestrator.lab.machines.LabMachines``, for a lab site)

Hypervisor providers implement the same one method; the composition root builds the ones the site
names. Each translates its vendor's errors: a refusal is ``Refused``, a machine that does not come
up in time ``TimedOut`` (the engine retries it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.engine.errors import Refused


@dataclass(frozen=True, slots=True)
class MachineRequest:
    """A machine a delivery needs."""

    name: str
    role: str
    address: str  # without the prefix length
    image: str
    provider: str
    extra_addresses: tuple[str, ...] = ()  # e.g. the load balancer's VIP


@dataclass(frozen=True, slots=True)
class Machine:
    """A machine that is up.

    ``host_key`` is the SSH host key when the provider knows it (the lab made it): the first
    contact must then present exactly that key. ``owns_kernel`` says whether the host may apply
    kernel settings and keep its own clock (containers share the lab's kernel; each still has
    its own network namespace, where it loads its firewall).
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


@dataclass(frozen=True, slots=True)
class StaticMachines:
    """Servers that already exist: the address is the one NetBox holds; nothing is created."""

    def ensure(self, request: MachineRequest) -> Machine:
        return Machine(request.name, request.address, "static")


@dataclass(frozen=True, slots=True)
class ProviderMachines:
    """Dispatches each request to the provider the spec names for its host group."""

    providers: Mapping[str, Machines] = field(default_factory=dict)

    def ensure(self, request: MachineRequest) -> Machine:
        provider = self.providers.get(request.provider)
        if provider is None:
            known = ", ".join(sorted(self.providers)) or "none"
            raise Refused(f"no machine provider {request.provider!r} here (known: {known})")
        return provider.ensure(request)


__all__ = [
    "Machine",
    "MachineRequest",
    "Machines",
    "ProviderMachines",
    "StaticMachines",
]
