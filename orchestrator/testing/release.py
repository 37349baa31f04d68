"""Fakes of the ports a release works through, and their contract suites; shipped with the package.

    InMemoryRegistrations   ``MonitoringRegistrations``: names registered per delivery
    InMemoryMachineRelease  ``MachineRelease``: machines by name, each the provider's own (at an
                            address) or an existing server; ``faults`` are raised by the next
                            releases, in order (a release stopped half-way)

Each is held honest by a contract suite (tests/unit/test_release_contract.py) that runs the same
assertions against the real adapter: ``FileRegistrations`` on files there and on the lab's
Prometheus, ``LabMachines`` on a lab host (tests/integration/test_release_lab.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.engine.ports.machines import Holding, MachineRef


@dataclass
class InMemoryRegistrations:
    """The ``MonitoringRegistrations`` port in memory."""

    held: dict[str, list[str]] = field(default_factory=dict)

    def register(self, delivery: str, *names: str) -> None:
        """Register ``names`` for ``delivery`` (what phases 2, 3 and 7 would do)."""
        self.held.setdefault(delivery, []).extend(names)

    def registrations(self, delivery: str) -> tuple[str, ...]:
        return tuple(self.held.get(delivery, ()))

    def unregister(self, delivery: str) -> tuple[str, ...]:
        return tuple(self.held.pop(delivery, ()))


@dataclass
class InMemoryMachineRelease:
    """The ``MachineRelease`` port in memory: ``made`` are the provider's own machines by name
    (their address), ``existing`` the names of existing servers."""

    made: dict[str, str] = field(default_factory=dict)
    existing: set[str] = field(default_factory=set)
    faults: list[BaseException] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def holding(self, machine: MachineRef) -> Holding:
        if machine.name in self.existing:
            return Holding.CUSTOMERS
        address = self.made.get(machine.name)
        if address is None:
            return Holding.GONE
        return Holding.OURS if address == machine.address else Holding.OTHERS

    def release(self, machine: MachineRef) -> Holding:
        if self.faults:
            raise self.faults.pop(0)
        found = self.holding(machine)
        if found is Holding.OURS:
            del self.made[machine.name]
            self.released.append(machine.name)
        return found
