"""The release's ports held to their contracts on the real lab: ``FileRegistrations`` on the lab's
Prometheus and blackbox exporter, ``LabMachines`` on a lab host of its own (``rel-contract-01``
at 10.213.125.10, a network no other test uses; the contract's namesake is never touched).

A whole delivery released through the command line (``--plan``, a release killed mid-way, one
that finishes) is in tests/integration/test_phases45_lab.py, after its seven phases. The helpers
below carry a one-host delivery (``rel-lab``, host ``rel-web-01``) through phases 1-3 for the long
versions in bench/test_release_kill_lab.py.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.adapters.ssh import ParamikoProbe
from orchestrator.engine import Engine, RetryPolicy, RunRequest, Status, ThreadedRunner
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import PhaseRange
from orchestrator.engine.ports.machines import MachineRef
from orchestrator.lab.hosts import create_host, destroy_host, list_hosts
from orchestrator.lab.machines import LabMachines
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.site import site_file
from orchestrator.logging import configured_logging
from orchestrator.phases import all_phases
from orchestrator.phases.netbox_steps import Placement
from orchestrator.phases.release import (
    PROGRESS,
    ReleaseParts,
    holdings,
    release_delivery,
)
from orchestrator.phases.release_plan import plan_release
from orchestrator.spec.loader import parse_spec
from orchestrator.store.sql import SqlRunStore
from orchestrator.testing import approve_gates
from orchestrator.wiring import Wiring
from tests.integration.phase23_support import JORIS_KEY, lab_wiring
from tests.unit.test_release_contract import (
    check_machine_release,
    check_registrations,
    write_registrations,
)

ROOT = Path(__file__).parents[2]
DELIVERY = "rel-lab"
HOST = "rel-web-01"
SPEC = f"""
id: {DELIVERY}
title: Release test platform
customer: {{name: Release Lab B.V., tenant: {DELIVERY}}}
delivery_manager: {{name: Sanne Jansen, email: sanne@hosting.example.com}}
lead_engineer: {{name: Joris Bakker, email: joris@hosting.example.com}}
preconditions:
  quote: {{signed: true}}
  data_processing_agreement: {{signed: true}}
access:
  users: [{{name: joris, sudo: true, ssh_keys: [{JORIS_KEY}]}}]
network: {{site: lab, vlan_group: lab-vlans, parent_prefix: 10.213.128.0/17, prefix_length: 29}}
hosts:
  - {{name: "rel-web-{{n:02d}}", role: web, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
software:
  web: {{packages: []}}
monitoring:
  checks: [{{name: ssh-port, kind: tcp, roles: [web], port: 22}}]
operations: {{team: Ops B, email: ops-b@hosting.example.com}}
"""


@dataclass
class Delivered:
    """The delivery after phases 1-3, and where its state is."""

    paths: LabPaths
    state: Path
    store: SqlRunStore

    def parts(self) -> ReleaseParts:
        return lab_wiring(self.paths, self.state).using(self.store).release_parts()

    def cli(self, *args: str) -> subprocess.Popen[str]:
        """``orchestrator release DELIVERY ARGS`` on the lab's site and this state folder."""
        argv = [sys.executable, "-c", "from orchestrator.cli import main; main()", "release",
                DELIVERY, "--site", str(site_file(self.paths)), "--state-dir", str(self.state),
                "--by", "tester", *args]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.Popen(argv, cwd=ROOT, env=env, text=True, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def run_phases_1_to_3(wiring: Wiring, store: SqlRunStore) -> Status:
    """The delivery through phases 1-3 as the lab site wires them, with a quicker probe."""
    spec = parse_spec(SPEC, "rel-lab.yaml")
    delivery = delivery_from_spec(spec)
    store.save_delivery(delivery.record(datetime.now(UTC)))
    approve_gates(store, delivery, "preconditions")
    adapters = wiring.adapters
    probe = adapters.probe
    assert isinstance(probe, ParamikoProbe)
    wait = RetryPolicy(attempts=10_000, initial_backoff=0.25, max_backoff=2.0, deadline=60.0)
    adapters = replace(adapters, probe=replace(probe, wait=wait))
    nb = wiring.site.netbox
    phases = all_phases(lambda: wiring.ipam, lambda: adapters, lambda: wiring.records,
                        Placement(nb.clusters, nb.interface), nb.gateway_addresses)[:3]  # fmt: skip
    retry = RetryPolicy(attempts=2, initial_backoff=1.0, deadline=120.0)
    engine = Engine(store, phases, retry=retry, runner=ThreadedRunner())
    with configured_logging(console=io.StringIO()):
        outcome = engine.run(RunRequest(delivery, "tester", phases=PhaseRange(1, 3)))
    return outcome.run.status


def clean(paths: LabPaths, state: Path, store: SqlRunStore) -> None:
    """Whatever an earlier session or a failed test left of the delivery goes."""
    parts = lab_wiring(paths, state).using(store).release_parts()
    plan = plan_release(holdings(parts, store, DELIVERY))
    release_delivery(parts, store, DELIVERY, "test", "release-cleanup", plan=plan)
    destroy_host(HOST, paths=paths)


@contextmanager
def delivering(lab_paths: LabPaths, state: Path) -> Iterator[Delivered]:
    """The delivery through phases 1-3 in ``state``; whatever is left of it goes afterwards."""
    store = SqlRunStore.open(f"sqlite:///{state / 'runs.db'}")
    wiring = lab_wiring(lab_paths, state).using(store)
    try:
        destroy_host(HOST, paths=lab_paths)  # an earlier session's, if any
        assert run_phases_1_to_3(wiring, store) is Status.SUCCEEDED
        yield Delivered(lab_paths, state, store)
    finally:
        clean(lab_paths, state, store)
        store.close()


def kill_then_finish(delivered: Delivered, delay: float) -> tuple[int, str]:
    """A release killed (SIGKILL) ``delay`` seconds after it took the lock, then one that must
    finish: how many removals the killed one had recorded, and the second one's output."""
    victim = delivered.cli("--yes")
    _wait_for_lock(delivered.store, victim)
    time.sleep(delay)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)  # reaped, its pipes closed
    killed_after = len([e for e in delivered.store.list_audit(DELIVERY) if e.action == PROGRESS])
    again = delivered.cli("--yes")
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, f"{stdout}\n{stderr}"
    assert stdout.splitlines()[-1].startswith(f"released {DELIVERY}: ")
    return killed_after, stdout


def _wait_for_lock(store: SqlRunStore, process: subprocess.Popen[str]) -> None:
    """Until the release holds the delivery's lock (it is past its start-up)."""
    give_up = time.monotonic() + 60
    while store.get_lock(DELIVERY) is None:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < give_up, "the release never took the lock"
        time.sleep(0.05)


def test_file_registrations_keep_the_contract_on_the_lab(
    lab_paths: LabPaths, tmp_path: Path
) -> None:
    wiring = lab_wiring(lab_paths, tmp_path)
    site = wiring.site.monitoring
    blackbox = site.blackbox_config
    assert blackbox is not None
    registrations = wiring.release_parts().monitoring
    check_registrations(
        registrations,
        lambda d: write_registrations(site.targets.path, site.rules.path, blackbox, d),
        "rel-contract",
    )


CONTRACT_HOST, CONTRACT_ADDRESS = "rel-contract-01", "10.213.125.10"  # a network no test uses


def test_lab_machines_keep_the_contract(lab_paths: LabPaths) -> None:
    destroy_host(CONTRACT_HOST, paths=lab_paths)  # an earlier session's
    create_host(CONTRACT_HOST, CONTRACT_ADDRESS, paths=lab_paths)
    try:
        made = MachineRef(CONTRACT_HOST, "lab", CONTRACT_ADDRESS)
        check_machine_release(LabMachines(lab_paths), made)
        assert CONTRACT_HOST not in {h.name for h in list_hosts(lab_paths)}
    finally:
        destroy_host(CONTRACT_HOST, paths=lab_paths)
