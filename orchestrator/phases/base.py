"""Phase 2, base configuration: machines from the standard images, updates, standard monitoring.

    base.machines       each host up from its image at the address phase 1 reserved (Machines)
    base.reachability   each host answers SSH; its host key is pinned on first contact
    base.configure      playbooks/phase2_base.yml on every host in one run (Ansible)

The steps get their adapters from an ``AdapterSource`` called when they first need one, so
importing the phases touches nothing; tests pass fakes (``orchestrator.testing``). The playbook
step is a ``BatchStep``: one playbook run for all hosts still to do, one result per host; a host
that was unreachable is retried alone, a host whose key changed fails alone.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orchestrator.adapters.ansible import (
    PLAYBOOKS,
    AnsibleRunnerPlaybooks,
    AnsibleSettings,
    HostOutcome,
    PlaybookOutcome,
    PlaybookRun,
    PlaybookRunner,
)
from orchestrator.adapters.inventory import HostRecord, Topology, bare, inventory, prefix_of, vip_of
from orchestrator.adapters.machines import MachineRequest, Machines, lab_and_static
from orchestrator.adapters.ssh import HostKeyChanged, ParamikoProbe, ReachabilityProbe, SshTarget
from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.batch import HostOutcomes
from orchestrator.engine.errors import OrchestratorError, Refused, Unreachable
from orchestrator.engine.phase import Phase
from orchestrator.engine.status import Status
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.lab.addressing import CONTROLLER
from orchestrator.lab.paths import LabPaths
from orchestrator.spec.model import ExpandedHost
from orchestrator.store.location import StoreLocation
from orchestrator.store.records import Json, JsonMap

SSH_KEY_ENV = "ORCHESTRATOR_SSH_KEY"
ADDRESSES = "network.addresses"
MACHINES = "base.machines"
REACHABILITY = "base.reachability"


class Monitoring(Protocol):
    """The monitoring system hosts are registered with (Prometheus file-based discovery)."""

    def targets_dir(self) -> Path:
        """The folder whose ``*.json`` files list the scrape targets; the system is running."""
        ...


@dataclass(frozen=True, slots=True)
class Adapters:
    """What phases 2 and 3 work with."""

    machines: Machines
    probe: ReachabilityProbe
    playbooks: PlaybookRunner
    workspace: Workspace
    monitoring: Monitoring
    management_networks: tuple[str, ...] = ()


type AdapterSource = Callable[[], Adapters]


@functools.cache
def default_adapters() -> Adapters:
    """The real adapters: lab and static machines, paramiko, ansible-runner, the lab Prometheus."""
    from orchestrator.lab.prometheus import LabPrometheus  # noqa: PLC0415 - lab only when used

    paths = LabPaths.from_env()
    key = Path(os.environ.get(SSH_KEY_ENV) or paths.ssh_key)
    state = StoreLocation.from_env().state_dir.resolve()
    return Adapters(
        machines=lab_and_static(paths),
        probe=ParamikoProbe(key),
        playbooks=AnsibleRunnerPlaybooks(AnsibleSettings(key)),
        workspace=Workspace(state / "deliveries"),
        monitoring=LabPrometheus(paths),
        management_networks=(f"{CONTROLLER}/32",),
    )


# --- what the records say -------------------------------------------------------------------


def outputs_of(ctx: StepContext, key: str) -> JsonMap:
    """The outputs of earlier step ``key``; ``Refused`` when it has not run."""
    outputs = ctx.outputs.get(key)
    if outputs is None:
        raise Refused(f"step {key} has not run for this delivery; run the earlier phases first")
    return outputs


def per_host(ctx: StepContext, key: str, host: str) -> Mapping[str, Json]:
    """Host ``host``'s entry in the ``hosts`` output of step ``key``."""
    hosts = outputs_of(ctx, key).get("hosts")
    entry = hosts.get(host) if isinstance(hosts, Mapping) else None
    if not isinstance(entry, Mapping):
        raise Refused(f"step {key} has no record of host {host}")
    return entry


def expanded(ctx: StepContext) -> dict[str, ExpandedHost]:
    """The spec's hosts by name."""
    return {host.name: host for host in ctx.spec.expanded_hosts()}


def address_of(ctx: StepContext, host: ExpandedHost) -> str:
    """The address phase 1 reserved for ``host`` (in NetBox), without its prefix length."""
    hosts = outputs_of(ctx, ADDRESSES).get("hosts")
    entry = hosts.get(host.name) if isinstance(hosts, Mapping) else None
    if isinstance(entry, Mapping) and isinstance(entry.get("address"), str):
        return bare(str(entry["address"]))
    if host.address is not None:
        return str(host.address)
    raise Refused(f"phase 1 reserved no address for {host.name}")


def balancer_hosts(ctx: StepContext) -> list[str]:
    """Hosts that run the load balancer: those whose role's software includes haproxy."""
    roles = {
        role for role, software in ctx.spec.software.items()
        if any(p.split("=", 1)[0] == "haproxy" for p in software.packages)
    }  # fmt: skip
    return [h.name for h in ctx.spec.expanded_hosts() if h.role in roles]


def machine_request(ctx: StepContext, host: ExpandedHost) -> MachineRequest:
    """What the machine provider is asked for ``host``; the first balancer host holds the VIP."""
    vip = vip_of(outputs_of(ctx, ADDRESSES))
    holders = balancer_hosts(ctx)[:1]
    extra = (vip,) if vip is not None and host.name in holders else ()
    return MachineRequest(
        host.name, host.role, address_of(ctx, host), host.group.image, host.group.provider, extra
    )


# --- base.machines ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MachinesStep:
    """Bring each host up from its standard image, at its reserved address."""

    adapters: AdapterSource
    key: str = MACHINES
    title: str = "Bring the machines up from the standard images"

    def inputs(self, ctx: StepContext) -> JsonMap:
        if ADDRESSES not in ctx.outputs:  # planning before phase 1 has run
            return {"waiting_for": ADDRESSES}
        requests = (machine_request(ctx, h) for h in ctx.spec.expanded_hosts())
        return {r.name: {"address": r.address, "provider": r.provider, "image": r.image,
                         "extra": list(r.extra_addresses)} for r in requests}  # fmt: skip

    def hosts(self, ctx: StepContext) -> Sequence[str]:
        return [h.name for h in ctx.spec.expanded_hosts()]

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        if ADDRESSES not in ctx.outputs:
            return [
                Change("ensure", f"machine {h.name}",
                       f"{h.group.provider} {h.group.image} at the address phase 1 reserves")
                for h in ctx.spec.expanded_hosts()
            ]  # fmt: skip
        requests = (machine_request(ctx, h) for h in ctx.spec.expanded_hosts())
        return [
            Change("ensure", f"machine {r.name}", f"{r.provider} {r.image} at {r.address}")
            for r in requests
        ]

    def apply(self, ctx: StepContext) -> Result:
        host = expanded(ctx)[str(ctx.host)]
        machine = self.adapters().machines.ensure(machine_request(ctx, host))
        return Result(
            changed=machine.created,
            outputs={"address": machine.address, "provider": machine.provider,
                     "host_key": machine.host_key, "owns_kernel": machine.owns_kernel},
        )  # fmt: skip


# --- base.reachability -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReachabilityStep:
    """Reach every host over SSH and pin its host key on first contact."""

    adapters: AdapterSource
    key: str = REACHABILITY
    title: str = "Reach every host over SSH and pin its host key"

    def inputs(self, ctx: StepContext) -> JsonMap:
        return {"machines": (ctx.outputs.get(MACHINES) or {}).get("hosts")}

    def hosts(self, ctx: StepContext) -> Sequence[str]:
        return [h.name for h in ctx.spec.expanded_hosts()]

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        return [Change("reach", f"ssh {h}", "pin the host key on first contact")
                for h in self.hosts(ctx)]  # fmt: skip

    def apply(self, ctx: StepContext) -> Result:
        name = str(ctx.host)
        machine = per_host(ctx, MACHINES, name)
        adapters = self.adapters()
        expected = machine.get("host_key")
        target = SshTarget(
            name,
            str(machine["address"]),
            adapters.workspace.known_hosts(ctx.delivery.id),
            expected if isinstance(expected, str) else None,
        )
        reached = adapters.probe.reach(target)
        return Result(
            changed=reached.pinned_now,
            outputs={"address": target.address, "host_key": reached.host_key,
                     "os": reached.os, "owns_kernel": machine.get("owns_kernel", True)},
        )  # fmt: skip


# --- playbooks ---------------------------------------------------------------------------------


def tree_hash(root: Path) -> str:
    """SHA-256 over the playbooks and roles: a changed playbook re-runs its step."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class PlaybookStep:
    """Run one playbook on every host of the delivery, in one ansible-playbook run."""

    adapters: AdapterSource
    key: str
    title: str
    playbook: str
    secrets: tuple[str, ...] = ()  # names of generated secrets the playbook reads

    def hosts(self, ctx: StepContext) -> Sequence[str]:
        return [h.name for h in ctx.spec.expanded_hosts()]

    def inputs(self, ctx: StepContext) -> JsonMap:
        if REACHABILITY not in ctx.outputs:  # planning before the machines are up
            return {"waiting_for": REACHABILITY, "playbooks": tree_hash(PLAYBOOKS)}
        return {
            "inventory": self._inventory(ctx, self.adapters()),
            "pins": {h: per_host(ctx, REACHABILITY, h).get("host_key") for h in self.hosts(ctx)},
            "playbooks": tree_hash(PLAYBOOKS),
        }

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        if REACHABILITY not in ctx.outputs:
            detail = f"on {len(self.hosts(ctx))} hosts (check mode once they are reachable)"
            return [Change("run", f"playbook {self.playbook}", detail)]
        outcome = self._run(ctx, tuple(self.hosts(ctx)), check=True)
        return [
            Change("change", f"{host}: {task.name}", "would change")
            for host, result in sorted(outcome.hosts.items())
            for task in result.tasks
            if task.changed
        ] or [Change("none", f"playbook {self.playbook}", "nothing would change")]

    def apply(self, ctx: StepContext) -> Result:
        host = str(ctx.host)
        outcome = self.apply_hosts(ctx, (host,))[host]
        if isinstance(outcome, OrchestratorError):
            raise outcome
        return outcome

    def apply_hosts(self, ctx: StepContext, hosts: Sequence[str]) -> HostOutcomes:
        outcome = self._run(ctx, tuple(hosts), check=False)
        results = {host: host_result(outcome.hosts[host]) for host in hosts}
        if outcome.tail and not any(outcome.hosts[host].tasks for host in hosts):
            return {host: Refused(f"{self.playbook} failed: {outcome.tail}") for host in hosts}
        return results

    def _run(self, ctx: StepContext, hosts: tuple[str, ...], *, check: bool) -> PlaybookOutcome:
        adapters = self.adapters()
        workspace, delivery = adapters.workspace, ctx.delivery.id
        for name in self.secrets:
            workspace.secret(delivery, name)
        request = PlaybookRun(
            playbook=self.playbook,
            inventory=self._inventory(ctx, adapters),
            hosts=hosts,
            known_hosts=workspace.known_hosts(delivery),
            artifacts=workspace.runs(delivery),
            facts=workspace.facts(delivery),
            label=f"{ctx.run_id}-{self.key}{'-check' if check else ''}",
            extravars={
                "orchestrator_secrets_file": str(workspace.secrets_file(delivery)),
                "monitoring_targets_dir": str(adapters.monitoring.targets_dir()),
            },
            check=check,
            censor=workspace.secret_values(delivery),
        )
        return adapters.playbooks.run(request)

    def _inventory(self, ctx: StepContext, adapters: Adapters) -> dict[str, Json]:
        reach = outputs_of(ctx, REACHABILITY).get("hosts")
        records = [
            HostRecord(name, h.role, str(per_host(ctx, REACHABILITY, name)["address"]),
                       bool(per_host(ctx, REACHABILITY, name).get("owns_kernel", True)))
            for name, h in expanded(ctx).items()
            if isinstance(reach, Mapping) and name in reach
        ]  # fmt: skip
        addresses = outputs_of(ctx, ADDRESSES)
        topology = Topology(records, vip_of(addresses), prefix_of(addresses))
        common: dict[str, Json] = {
            "delivery": ctx.delivery.id,
            "customer": ctx.spec.customer.name,
            "management_networks": list(adapters.management_networks),
        }
        return inventory(ctx.spec, topology, common)


def host_result(host: HostOutcome) -> Result | OrchestratorError:
    """One host's outcome as a step result, or the error that says how to treat it."""
    if host.key_changed:
        return Refused(f"host key changed: {host.error}")
    if host.retryable:
        return Unreachable(str(host.error))
    status = Status.SUCCEEDED if host.succeeded else Status.FAILED
    return Result(
        status=status,
        changed=host.changed > 0,
        outputs={"changed_tasks": host.changed, "tasks": len(host.tasks)},
        error=host.error,
        tasks=tuple(host.tasks),
    )


def phase(adapters: AdapterSource = default_adapters) -> Phase:
    """Phase 2 with its steps working through ``adapters``."""
    return Phase(
        number=2,
        name="base",
        title="Base configuration",
        entries=(
            MachinesStep(adapters),
            ReachabilityStep(adapters),
            PlaybookStep(
                adapters,
                "base.configure",
                "Security updates, time, admins, sshd, firewall, standard monitoring",
                "phase2_base.yml",
            ),
        ),
    )


PHASE = phase()

__all__ = ["PHASE", "AdapterSource", "Adapters", "HostKeyChanged", "PlaybookStep", "phase"]
