"""``InMemoryMachines``: the ``Machines`` port in memory."""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.engine.ports.machines import Machine, MachineRequest


class InMemoryMachines:
    """The ``Machines`` port in memory: every request is remembered; a machine exists once asked."""

    def __init__(self, fail: Mapping[str, Exception] | None = None) -> None:
        self.requests: list[MachineRequest] = []
        self.existing: set[str] = set()
        self.fail = dict(fail or {})

    def ensure(self, request: MachineRequest) -> Machine:
        self.requests.append(request)
        if request.name in self.fail:
            raise self.fail[request.name]
        created = request.name not in self.existing
        self.existing.add(request.name)
        return Machine(request.name, request.address, request.provider, created=created,
                       host_key=f"ssh-ed25519 KEY-{request.name}")  # fmt: skip
