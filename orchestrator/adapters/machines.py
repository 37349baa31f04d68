"""Machine providers: each implements ``orchestrator.engine.ports.machines.Machines``.

    Machines.ensure(MachineRequest) -> Machine     idempotent: an existing machine is returned
    ├── LabMachines        the lab's nspawn hosts (``orchestrator.lab.hosts``)
    ├── StaticMachines     servers that already exist: nothing to create
    └── ProviderMachines   picks one of the above by the provider the spec names per host group

Hypervisor providers implement the same one method. Vendor errors are translated here: a lab
that refuses (bad address, name in use) is ``Refused``; a host that does not boot in time is
``TimedOut`` (the engine retries it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from orchestrator.engine.errors import Refused, TimedOut
from orchestrator.engine.ports.machines import Machine, MachineRequest, Machines
from orchestrator.lab.addressing import lab_address, netns_name
from orchestrator.lab.errors import LabError, UnsafeTarget
from orchestrator.lab.hosts import LabHost, create_host, host_status, list_hosts
from orchestrator.lab.network import HOST_IFACE
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.proc import run

type CreateLabHost = Callable[[str, str], LabHost]


@dataclass(frozen=True, slots=True)
class LabMachines:
    """Lab hosts: Debian 12 under systemd-nspawn on the lab bridge (the only image the lab has)."""

    paths: LabPaths
    images: frozenset[str] = frozenset({"debian-12"})
    create: CreateLabHost | None = None
    add_address: Callable[[str, str], None] | None = None

    def ensure(self, request: MachineRequest) -> Machine:
        if request.image not in self.images:
            raise Refused(f"the lab has no image {request.image!r} ({', '.join(self.images)})")
        existing = {h.name: h for h in list_hosts(self.paths)}.get(request.name)
        try:
            host = self._running(existing, request) or (self.create or self._create)(
                request.name, request.address
            )
            for extra in request.extra_addresses:
                (self.add_address or _add_lab_address)(request.name, extra)
        except UnsafeTarget as exc:
            raise Refused(str(exc)) from exc
        except LabError as exc:
            if "SSH banner" in exc.message:
                raise TimedOut(str(exc)) from exc
            raise Refused(str(exc)) from exc
        return Machine(
            host.name, host.address, "lab", created=existing is None, host_key=host.host_key,
            owns_kernel=False,
        )  # fmt: skip

    def _running(self, existing: LabHost | None, request: MachineRequest) -> LabHost | None:
        """The host as it is when it runs at the requested address: waiting for its SSH is the
        reachability probe's job, with its own deadline, not the provider's. A host an older lab
        booted with other options is not: ``create_host`` boots it again."""
        if existing is None or existing.address != request.address or self.create is not None:
            return None
        return existing if host_status(request.name, self.paths)["current"] else None

    def _create(self, name: str, address: str) -> LabHost:
        return create_host(name, address, paths=self.paths)


def _add_lab_address(name: str, address: str) -> None:
    """Add ``address`` to a lab host's interface from outside (the container may not)."""
    ip = lab_address(address)
    argv = ["ip", "-n", netns_name(name), "addr", "replace", f"{ip}/32", "dev", HOST_IFACE]
    run(argv)


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


def lab_and_static(paths: LabPaths | None = None) -> ProviderMachines:
    """The providers this release knows: ``lab`` and ``static``."""
    lab = LabMachines(paths or LabPaths.from_env())
    return ProviderMachines({"lab": lab, "static": StaticMachines()})


__all__ = [
    "LabMachines",
    "ProviderMachines",
    "StaticMachines",
    "lab_and_static",
]
