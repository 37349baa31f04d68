"""The lab as a machine provider: Debian 12 hosts under systemd-nspawn on the lab bridge.

A site names it as ``machines: {lab: {state: ..., cache: ...}}`` (the lab's own site file does);
the composition root builds it with ``lab_machines``. With ``user`` and ``user_key`` (a public
key file) a host the provider makes also gets that user with passwordless sudo, the way a
hypervisor's cloud-init would give a site its deploy user. It implements the ``Machines`` port
like any hypervisor provider would. Lab errors are translated here: a lab that refuses (bad
address, name in use) is ``Refused``; a host that does not boot in time is ``TimedOut`` (the
engine retries it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engine.errors import BadInput, Refused, TimedOut
from orchestrator.engine.ports.machines import Holding, Machine, MachineRef, MachineRequest
from orchestrator.lab.addressing import lab_address, netns_name
from orchestrator.lab.errors import HostBootTimeout, LabError, UnsafeTarget
from orchestrator.lab.hosts import (
    HostDir,
    LabHost,
    create_host,
    destroy_host,
    host_status,
    list_hosts,
)
from orchestrator.lab.network import HOST_IFACE
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.proc import run
from orchestrator.lab.users import add_deploy_user

type CreateLabHost = Callable[[str, str], LabHost]


@dataclass(frozen=True, slots=True)
class LabMachines:
    """Lab hosts: Debian 12 under systemd-nspawn on the lab bridge (the only image the lab has)."""

    paths: LabPaths
    images: frozenset[str] = frozenset({"debian-12"})
    create: CreateLabHost | None = None
    add_address: Callable[[str, str], None] | None = None
    user: tuple[str, str] | None = None  # a deploy user (name, public key) for new hosts

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
            if self.user is not None and host is not existing:
                add_deploy_user(host, *self.user, paths=self.paths)
        except UnsafeTarget as exc:
            raise Refused(str(exc)) from exc
        except HostBootTimeout as exc:
            raise TimedOut(str(exc)) from exc
        except LabError as exc:
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

    def holding(self, machine: MachineRef) -> Holding:
        """``OURS`` when the lab host of that name has the delivery's address (or was left half
        made, without a record); ``OTHERS`` when it has another address."""
        existing = {h.name: h for h in list_hosts(self.paths)}.get(machine.name)
        if existing is not None:
            return Holding.OURS if existing.address == machine.address else Holding.OTHERS
        return Holding.OURS if HostDir.of(self.paths, machine.name).root.exists() else Holding.GONE

    def release(self, machine: MachineRef) -> Holding:
        """Destroy the lab host when it is the delivery's (``holding``); idempotent."""
        found = self.holding(machine)
        if found is Holding.OURS:
            try:
                destroy_host(machine.name, paths=self.paths)
            except LabError as exc:
                raise Refused(str(exc)) from exc
        return found


def _add_lab_address(name: str, address: str) -> None:
    """Add ``address`` to a lab host's interface from outside (the container may not)."""
    ip = lab_address(address)
    argv = ["ip", "-n", netns_name(name), "addr", "replace", f"{ip}/32", "dev", HOST_IFACE]
    run(argv)


def lab_machines(settings: Mapping[str, str]) -> LabMachines:
    """The provider a site's ``machines.lab`` settings (``state``, ``cache``, optionally ``user``
    and ``user_key``) describe."""
    state, cache = settings.get("state"), settings.get("cache")
    if not state or not cache:
        raise BadInput("site machines.lab needs `state` and `cache` (the lab's folders)")
    paths = LabPaths(Path(state), Path(cache))
    user, key = settings.get("user"), settings.get("user_key")
    if bool(user) != bool(key):
        raise BadInput("site machines.lab needs both `user` and `user_key`, or neither")
    if not user or not key:
        return LabMachines(paths)
    try:
        public = Path(key).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise BadInput(f"site machines.lab.user_key: cannot read {key}: {exc.strerror}") from None
    return LabMachines(paths, user=(user, public))
