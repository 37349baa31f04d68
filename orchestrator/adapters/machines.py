"""Machine providers: each implements ``orchestrator.engine.ports.machines.Machines``.

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

from orchestrator.engine.errors import Refused
from orchestrator.engine.ports.machines import Machine, MachineRequest, Machines


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
    "ProviderMachines",
    "StaticMachines",
]
