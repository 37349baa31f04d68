"""Phase 4's ``buddycheck.verify`` on the real lab: a delivered platform passes every check; a
broken one fails exactly the checks of what was broken; mended, it passes again.

A long suite, outside `make test` (run it with `.venv/bin/pytest bench/test_buddycheck_lab.py`):
its short version in the test suite is tests/integration/test_phases45_lab.py, which breaks and
mends a web host through the command line; this one adds the load balancer's VIP and the
database checks on lb + web + db.

One delivery (lb + web + db, prefix ``bc-``) goes through phases 1-3 with the real engine, then
phase 4's verify step (with ``TestinfraChecks``, as the lab site wires it) runs three times:
delivered, broken (nginx stopped on the web host, a user's key removed, the web host's backup
snapshots deleted on the backup host), mended. The delivery's NetBox objects, lab hosts and
backups are removed at the start and at the end.
"""

from __future__ import annotations

import io
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.inventory import bare
from orchestrator.engine import Engine, RetryPolicy, RunOutcome, RunRequest, ThreadedRunner
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.engine.status import Status
from orchestrator.lab import backup as lab_backup
from orchestrator.lab import lab
from orchestrator.lab.addressing import BACKUP_HOST
from orchestrator.lab.netbox import NetBoxInfo, read_netbox_env
from orchestrator.lab.paths import LabPaths
from orchestrator.logging import configured_logging
from orchestrator.phases import all_phases, base
from orchestrator.phases.buddycheck import VERIFY, VerifyStep
from orchestrator.phases.netbox_steps import Placement
from orchestrator.spec import DeliverySpec
from orchestrator.store.sql import SqlRunStore
from orchestrator.testing import approve_gates
from tests.integration.phase23_support import (
    FEMKE_KEY,
    clean_delivery,
    lab_adapters,
    lab_wiring,
    make_spec,
)

DELIVERY = "bc-lab"
PREFIX = "bc-"
LB, WEB, DB = f"{PREFIX}lb-01", f"{PREFIX}web-01", f"{PREFIX}db-01"


@dataclass
class Platform:
    spec: DeliverySpec
    paths: LabPaths
    state: Path
    adapters: base.Adapters
    netbox: NetBoxInfo
    store: SqlRunStore

    def engine(self) -> Engine:
        """Phases 1-3 as the lab site wires them, and phase 4's verify step alone (the action
        items step is written elsewhere)."""
        wiring = lab_wiring(self.paths, self.state)
        nb = wiring.site.netbox
        phases = all_phases(
            lambda: wiring.ipam, lambda: self.adapters, lambda: wiring.records,
            Placement(nb.clusters, nb.interface), nb.gateway_addresses,
        )[:3]  # fmt: skip
        verify = Phase(4, "buddycheck", "Buddycheck (verify only)", (VerifyStep(self._adapters),))
        retry = RetryPolicy(attempts=2, initial_backoff=1.0, deadline=120.0)
        return Engine(self.store, (*phases, verify), retry=retry, runner=ThreadedRunner())

    def _adapters(self) -> base.Adapters:
        return self.adapters

    def run(self, first: int) -> RunOutcome:
        request = RunRequest(delivery_from_spec(self.spec), "tester", phases=PhaseRange(first, 4))
        with configured_logging(console=io.StringIO()):
            return self.engine().run(request)

    def _addresses(self) -> Any:
        step = self.store.latest_step(DELIVERY, "network.addresses")
        assert step is not None
        return step.outputs

    def address(self, host: str) -> str:
        return bare(str(self._addresses()["hosts"][host]["address"]))

    def vip(self) -> str:
        return bare(str(self._addresses()["vip"]["address"]))

    def ssh(self, host: str, command: str) -> str:
        pins = self.adapters.workspace.known_hosts(DELIVERY)
        argv = ["ssh", "-i", str(self.paths.ssh_key), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={pins}", "-o", "StrictHostKeyChecking=yes",
                f"root@{self.address(host)}", command]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    def failures(self, run_id: str) -> list[str]:
        """``host: check: expected ...; found ...`` of each failed check of the run."""
        return [f"{h.host}: {t.name}: {t.detail}" for h in self.store.list_hosts(run_id, VERIFY)
                for t in h.tasks if t.status is not Status.SUCCEEDED]  # fmt: skip

    def verdicts(self, run_id: str) -> dict[str, dict[str, bool]]:
        """Each host's checks of the run's verify step: name -> passed."""
        found: dict[str, dict[str, bool]] = {}
        for host in self.store.list_hosts(run_id, VERIFY):
            found[host.host] = {t.name: t.status is Status.SUCCEEDED for t in host.tasks}
        return found


def _clean(spec: DeliverySpec, paths: LabPaths, _netbox: NetBoxInfo) -> None:
    """Remove the delivery's lab hosts, NetBox objects and backups (only this delivery's)."""
    clean_delivery(DELIVERY, [host.name for host in spec.expanded_hosts()], paths)


@pytest.fixture(scope="module")
def platform(
    lab_up: lab.LabUp,  # noqa: ARG001 - brings the lab up first
    lab_paths: LabPaths,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    spec = make_spec(DELIVERY, PREFIX, {"role: web, count: 2": "role: web, count: 1"})
    netbox = read_netbox_env(lab_paths)
    _clean(spec, lab_paths, netbox)
    state = tmp_path_factory.mktemp("buddycheck")
    store = SqlRunStore.open(f"sqlite:///{state / 'runs'}.db")
    delivery = delivery_from_spec(spec)
    store.save_delivery(delivery.record(datetime.now(UTC)))
    approve_gates(store, delivery, "preconditions")
    yield Platform(spec, lab_paths, state, lab_adapters(lab_paths, state, wait=20.0), netbox, store)
    _clean(spec, lab_paths, netbox)


def _timed[T](label: str, action: Callable[[], T]) -> T:
    started = time.monotonic()
    try:
        return action()
    finally:
        print(f"{label}: {time.monotonic() - started:.1f} s")


def _vip_serves(vip: str, page: str, deadline: float = 30.0) -> bool:
    """Whether the VIP answers with ``page`` before ``deadline`` (haproxy's health checks take a
    few seconds to see a backend come back)."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        try:
            with urllib.request.urlopen(f"http://{vip}/", timeout=3) as answer:
                if answer.read().decode().strip() == page:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


BROKEN = {
    WEB: {"service nginx", "port tcp/80", "user femke key 1", "backup snapshot", "backup restore"},
    LB: {"vip tcp/80"},  # its only backend is down
}


def test_verify_passes_then_fails_exactly_what_broke_then_passes_when_mended(
    platform: Platform,
) -> None:
    delivered = _timed("phases 1-4", lambda: platform.run(1))
    assert delivered.run.status is Status.SUCCEEDED, platform.failures(delivered.run.id)
    verdicts = platform.verdicts(delivered.run.id)
    assert set(verdicts) == {LB, WEB, DB}
    failing = {h: sorted(n for n, ok in checks.items() if not ok) for h, checks in verdicts.items()}
    assert failing == {LB: [], WEB: [], DB: []}
    assert "database bc_lab user bc_lab" in verdicts[DB]
    assert "vip tcp/80" in verdicts[LB]

    platform.ssh(WEB, "systemctl stop nginx")
    blob = FEMKE_KEY.split()[1].replace("/", "\\/")
    platform.ssh(WEB, f"sed -i '/{blob}/d' /home/femke/.ssh/authorized_keys")
    snapshots = f"{lab_backup.BASE}/{DELIVERY}/{WEB}/snapshots"
    lab_backup.root_shell(platform.paths, str(BACKUP_HOST), f"rm -f {snapshots}/*")
    broken = _timed("phase 4, broken", lambda: platform.run(4))
    assert broken.run.status is Status.FAILED
    verdicts = platform.verdicts(broken.run.id)
    failing_now = {h: {n for n, ok in checks.items() if not ok} for h, checks in verdicts.items()}
    assert {h: names for h, names in failing_now.items() if names} == BROKEN
    hosts = {h.host: h for h in platform.store.list_hosts(broken.run.id, VERIFY)}
    assert hosts[WEB].status is Status.FAILED
    assert hosts[DB].status is Status.SUCCEEDED
    nginx = next(t for t in hosts[WEB].tasks if t.name == "service nginx")
    assert nginx.detail.startswith("expected running and enabled; found not running")

    platform.ssh(WEB, "systemctl start nginx")
    platform.ssh(WEB, f"echo '{FEMKE_KEY}' >> /home/femke/.ssh/authorized_keys")
    platform.ssh(WEB, "/usr/local/sbin/orchestrator-backup")
    assert _vip_serves(platform.vip(), f"{platform.spec.customer.name} on {WEB}")
    mended = _timed("phase 4, mended", lambda: platform.run(4))
    assert mended.run.status is Status.SUCCEEDED, platform.failures(mended.run.id)
    verdicts = platform.verdicts(mended.run.id)
    assert all(all(checks.values()) for checks in verdicts.values()), verdicts


def test_no_secret_in_the_verify_results(platform: Platform) -> None:
    step = platform.store.latest_step(DELIVERY, VERIFY)
    assert step is not None
    secrets = platform.adapters.workspace.known_secrets(DELIVERY).values()
    rows = [h for run in platform.store.list_runs(DELIVERY) for h in
            platform.store.list_hosts(run.id, VERIFY)]  # fmt: skip
    text = repr(step.outputs) + repr(rows)
    assert rows
    assert [s for s in secrets if s in text] == []
