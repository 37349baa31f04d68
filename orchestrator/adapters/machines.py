"""Machine providers: each implements ``orchestrator.engine.ports.machines.Machines``.

    Machines.ensure(MachineRequest) -> Machine     idempotent: an existing machine is returned
    MachineRelease.holding / .release(MachineRef)  a released delivery's machines
    ├── StaticMachines     servers that already exist: nothing to create; the key each must
    │                      show is the one NetBox records (``HostRecords``); a release only
    │                      forgets them: the customer's server is never touched
    ├── ProviderMachines   picks a provider by the name the spec gives per host group
    ├── ProviderRelease    the same for releases
    └── (the lab's nspawn hosts: ``orchestrator.lab.machines.LabMachines``, for a lab site)

Hypervisor providers implement the same one method; the composition root builds the ones the site
names. Each translates its vendor's errors: a refusal is ``Refused``, a machine that does not come
up in time ``TimedOut`` (the engine retries it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from orchestrator.engine.errors import HostKeyUnrecorded, Refused
from orchestrator.engine.ports.host_records import (
    HOST_KEY_FIELD,
    MISSING_FIELD,
    HostRecords,
    RecordRef,
    recorded_key,
)
from orchestrator.engine.ports.machines import (
    Holding,
    Machine,
    MachineRef,
    MachineRelease,
    MachineRequest,
    Machines,
)


@dataclass(frozen=True, slots=True)
class StaticMachines:
    """Servers that already exist: the address is the one NetBox holds; nothing is created. The
    host key a server must show is the one NetBox records on its VM or device (``ssh_host_key``,
    read through ``records`` when asked): one that records none is refused, never trusted on
    first use."""

    records: Callable[[], HostRecords]

    def ensure(self, request: MachineRequest) -> Machine:
        if request.record is None:
            raise Refused(
                f"{request.name} is an existing (static) server but phase 1 recorded no NetBox "
                "VM or device for it: run phase 1 again"
            )
        key = self._key(request.name, request.record)
        return Machine(request.name, request.address, "static", host_key=key)

    def _key(self, name: str, record: RecordRef) -> str:
        row = self.records().fields(record.kind, [record.id], ["custom_fields"]).get(record.id)
        if row is None:
            raise Refused(f"{record}, where {name} is recorded, is gone: run phase 1 again")
        custom = row.get("custom_fields")
        if not isinstance(custom, Mapping) or HOST_KEY_FIELD not in custom:
            raise Refused(MISSING_FIELD)
        key = recorded_key(custom[HOST_KEY_FIELD])
        if key is None:
            raise HostKeyUnrecorded(name, str(record), HOST_KEY_FIELD)
        return key

    def holding(self, machine: MachineRef) -> Holding:  # noqa: ARG002 - every one is the customer's
        return Holding.CUSTOMERS

    def release(self, machine: MachineRef) -> Holding:  # noqa: ARG002 - as above: forgotten only
        return Holding.CUSTOMERS


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


@dataclass(frozen=True, slots=True)
class ProviderRelease:
    """Dispatches each release to the provider the spec names for the machine's host group."""

    providers: Mapping[str, MachineRelease] = field(default_factory=dict)

    def holding(self, machine: MachineRef) -> Holding:
        return self._provider(machine).holding(machine)

    def release(self, machine: MachineRef) -> Holding:
        return self._provider(machine).release(machine)

    def _provider(self, machine: MachineRef) -> MachineRelease:
        provider = self.providers.get(machine.provider)
        if provider is None:
            known = ", ".join(sorted(self.providers)) or "none"
            raise Refused(f"no machine provider {machine.provider!r} here (known: {known})")
        return provider


__all__ = [
    "ProviderMachines",
    "ProviderRelease",
    "StaticMachines",
]
