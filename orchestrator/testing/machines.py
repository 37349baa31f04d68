"""``InMemoryMachines``: the ``Machines`` port in memory."""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.engine.errors import Refused
from orchestrator.engine.ports.machines import Machine, MachineRequest


class InMemoryMachines:
    """The ``Machines`` port in memory: every request is remembered; a machine exists once asked.
    Like a provider, it refuses an image it does not have (``images``), a name that is up at
    another address and an address another machine holds."""

    def __init__(
        self,
        fail: Mapping[str, Exception] | None = None,
        images: frozenset[str] = frozenset({"debian-12"}),
    ) -> None:
        self.requests: list[MachineRequest] = []
        self.existing: set[str] = set()
        self.addresses: dict[str, str] = {}
        self.fail = dict(fail or {})
        self.images = images

    def ensure(self, request: MachineRequest) -> Machine:
        self.requests.append(request)
        if request.name in self.fail:
            raise self.fail[request.name]
        self._check(request)
        created = request.name not in self.existing
        self.existing.add(request.name)
        self.addresses[request.name] = request.address
        return Machine(request.name, request.address, request.provider, created=created,
                       host_key=f"ssh-ed25519 KEY-{request.name}")  # fmt: skip

    def _check(self, request: MachineRequest) -> None:
        if request.image not in self.images:
            raise Refused(f"no image {request.image!r} here ({', '.join(sorted(self.images))})")
        held = self.addresses.get(request.name, request.address)
        if held != request.address:
            raise Refused(f"machine {request.name} already exists with address {held}")
        users = [n for n, a in self.addresses.items() if a == request.address and n != request.name]
        if users:
            raise Refused(f"address {request.address} is already used by machine {users[0]}")
