"""Phases 1-3 on the real lab: NetBox, machines, SSH pinning, Ansible, Prometheus, backups (on the
lab's backup host), resume.

One delivery (lb + 2 web + 1 db) is carried through phases 1-3 by the real engine: phase 1
reserves its network in the lab NetBox, phase 2 brings lab hosts up at those addresses and writes
each host's platform and pinned host key back onto its NetBox VM, phase 3 installs the software.
The tests then reuse the delivery, in order: NetBox write-back, a second run (nothing changes, no
secret anywhere), plan of a spec change, stopped sshd, changed key. The delivery's NetBox objects
and lab hosts are removed at the end (and at the start, should an earlier session have left
them).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import psycopg
import pytest

from orchestrator.adapters.inventory import bare
from orchestrator.adapters.netbox import DELIVERY_FIELD, NetBoxIpam
from orchestrator.adapters.ssh import pinned_key
from orchestrator.engine import (
    Engine,
    LoggingObserver,
    PlanOutcome,
    RetryPolicy,
    RunObserver,
    RunOutcome,
    RunRequest,
    ThreadedRunner,
)
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import PhaseRange
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD
from orchestrator.engine.status import Mode, Status
from orchestrator.lab import backup as lab_backup
from orchestrator.lab import lab
from orchestrator.lab.addressing import BACKUP_HOST, netns_name
from orchestrator.lab.hosts import create_host, destroy_host
from orchestrator.lab.netbox import NetBoxInfo, netbox_api, read_netbox_env
from orchestrator.lab.network import namespace_pids
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.prometheus import query
from orchestrator.logging import RunLog, RunLogShipper, configured_logging
from orchestrator.phases import all_phases, base
from orchestrator.phases.netbox_steps import Placement
from orchestrator.phases.release import release
from orchestrator.spec import DeliverySpec
from orchestrator.store.sql import SqlRunStore
from orchestrator.testing import InMemoryRunStore, approve_gates
from tests.integration.phase23_support import lab_adapters, lab_wiring, make_spec

DELIVERY = "p23-lab"
PREFIX = "p23-"


@dataclass
class Platform:
    spec: DeliverySpec
    paths: LabPaths
    state: Path
    adapters: base.Adapters
    netbox: NetBoxInfo

    def ipam(self) -> NetBoxIpam:
        return NetBoxIpam(self.netbox.url, self.netbox.token)

    def engine(self, store: SqlRunStore, run_log: RunLog) -> Engine:
        """Phases 1-3 as the lab site wires them, with this test's (quicker) adapters."""
        wiring = lab_wiring(self.paths, self.state)
        nb = wiring.site.netbox
        placement = Placement(nb.clusters, nb.interface)
        phases = all_phases(
            lambda: wiring.ipam, lambda: self.adapters, lambda: wiring.records, placement,
            nb.gateway_addresses,
        )[:3]  # fmt: skip
        retry = RetryPolicy(attempts=2, initial_backoff=1.0, deadline=120.0)
        observers: list[RunObserver] = [LoggingObserver(), RunLogShipper(store, run_log)]
        return Engine(store, phases, observers=observers, retry=retry, runner=ThreadedRunner())

    def store(self, name: str) -> SqlRunStore:
        store = SqlRunStore.open(f"sqlite:///{self.state / name}.db")
        delivery = delivery_from_spec(self.spec)
        store.save_delivery(delivery.record(datetime.now(UTC)))  # known before it is approved
        approve_gates(store, delivery, "preconditions")
        return store

    def _request(
        self, spec: DeliverySpec | None = None, first: int = 1, last: int = 3
    ) -> RunRequest:
        delivery = delivery_from_spec(spec or self.spec)
        return RunRequest(delivery, "tester", phases=PhaseRange(first, last))

    def run(self, store: SqlRunStore, last: int = 3) -> RunOutcome:
        return self._logged(store, lambda e: e.run(self._request(last=last)))

    def resume(self, store: SqlRunStore, last: int = 3) -> RunOutcome:
        return self._logged(store, lambda e: e.resume(self._request(last=last)))

    def plan(self, store: SqlRunStore, spec: DeliverySpec, first: int) -> PlanOutcome:
        return self._logged(store, lambda e: e.plan(self._request(spec, first)))

    def _logged[T](self, store: SqlRunStore, action: Callable[[Engine], T]) -> T:
        """``action(engine)`` with the run's JSON log under ``state/logs`` and in the store."""
        run_log = RunLog(self.state / "logs")
        with configured_logging(console=io.StringIO(), run_log=run_log):
            return action(self.engine(store, run_log))

    def secrets(self) -> dict[str, str]:
        data: dict[str, str] = json.loads(
            self.adapters.workspace.secrets_file(DELIVERY).read_text()
        )
        return data

    def address(self, store: SqlRunStore, host: str) -> str:
        """The address phase 1 reserved for ``host`` in NetBox, as recorded in ``store``."""
        return bare(str(_addresses(store)["hosts"][host]["address"]))

    def ssh(self, address: str, command: str) -> str:
        argv = ["ssh", "-i", str(self.paths.ssh_key), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={self.adapters.workspace.known_hosts(DELIVERY)}",
                "-o", "StrictHostKeyChecking=yes", f"root@{address}", command]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def _addresses(store: SqlRunStore) -> Any:
    step = store.latest_step(DELIVERY, "network.addresses")
    assert step is not None, "phase 1 has not reserved the addresses"
    return step.outputs


def _clean(spec: DeliverySpec, paths: LabPaths, netbox: NetBoxInfo) -> None:
    """Remove the delivery's lab hosts, its NetBox objects and its backups (only this
    delivery's)."""
    for host in spec.expanded_hosts():
        destroy_host(host.name, paths=paths)
    release(NetBoxIpam(netbox.url, netbox.token), InMemoryRunStore(), DELIVERY, "test")
    lab_backup.forget_delivery(paths, DELIVERY)  # its repositories and keys on the backup host


@pytest.fixture(scope="module")
def platform(
    lab_up: lab.LabUp,  # noqa: ARG001 - brings the lab up first
    lab_paths: LabPaths,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    spec = make_spec(DELIVERY, PREFIX)
    netbox = read_netbox_env(lab_paths)
    _clean(spec, lab_paths, netbox)  # a clean start: what an earlier session left goes
    state = tmp_path_factory.mktemp("phase23")
    yield Platform(spec, lab_paths, state, lab_adapters(lab_paths, state, wait=20.0), netbox)
    _clean(spec, lab_paths, netbox)


@pytest.fixture(scope="module")
def first(platform: Platform) -> tuple[SqlRunStore, RunOutcome]:
    store = platform.store("first")
    return store, platform.run(store)


def _changed_tasks(store: SqlRunStore, run_id: str) -> list[str]:
    return [f"{h.host}: {t.name}" for h in store.list_hosts(run_id) for t in h.tasks if t.changed]


def _pages_through_vip(vip: str, deadline: float = 30.0) -> set[str]:
    """The pages answered on the VIP, asked until both backends answered or ``deadline`` passed."""
    pages: set[str] = set()
    give_up = time.monotonic() + deadline
    while len(pages) < 2 and time.monotonic() < give_up:
        try:
            with urllib.request.urlopen(f"http://{vip}/", timeout=3) as answer:
                pages.add(answer.read().decode().strip())
        except OSError:
            time.sleep(0.5)
    return pages


def _exporters_up(hosts: list[str], deadline: float = 60.0) -> dict[str, str]:
    """Prometheus's ``up`` per host, asked until every host is up or ``deadline`` passed (phase 3
    restarts the node exporters last, so a scrape may just have missed one)."""
    give_up = time.monotonic() + deadline
    while True:
        found = query(f'up{{delivery="{DELIVERY}"}}')
        up = {str(r["metric"].get("host")): str(r["value"][1]) for r in found}
        if up == dict.fromkeys(hosts, "1") or time.monotonic() > give_up:
            return up
        time.sleep(1.0)


def test_phases_1_to_3_deliver_a_working_platform(
    platform: Platform, first: tuple[SqlRunStore, RunOutcome]
) -> None:
    store, outcome = first
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    vip = bare(str(_addresses(store)["vip"]["address"]))
    assert _pages_through_vip(vip) == {f"Acme B.V. ({DELIVERY}) on p23-web-0{n}" for n in (1, 2)}
    db = platform.address(store, "p23-db-01")
    password = platform.secrets()["db_password"]
    with psycopg.connect(host=db, dbname="p23_lab", user="p23_lab",
                         password=password, connect_timeout=5) as conn:  # fmt: skip
        assert conn.execute("select current_user").fetchone() == ("p23_lab",)
    hosts = [h.name for h in platform.spec.expanded_hosts()]
    assert _exporters_up(hosts) == dict.fromkeys(hosts, "1")
    restores = [t for h in store.list_hosts(outcome.run.id, "software.configure")
                for t in h.tasks if t.name.endswith("Verify that the sample file restores")
                and t.status is not Status.SKIPPED]  # fmt: skip
    assert {t.status for t in restores} == {Status.SUCCEEDED}
    assert len(restores) == 3  # the hosts with backups: two web, one db


BACKED_UP = ("p23-db-01", "p23-web-01", "p23-web-02")


def test_backups_live_on_the_backup_host_not_on_the_hosts_they_protect(
    platform: Platform, first: tuple[SqlRunStore, RunOutcome]
) -> None:
    store, outcome = first
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    on_backup_host = {host: backup_host(platform, f"cd {lab_backup.BASE}/{DELIVERY}/{host} && "
                                                  "stat -c %U config && ls snapshots | wc -l")
                      for host in BACKED_UP}  # fmt: skip
    assert {h: text.split() for h, text in on_backup_host.items()} == {
        h: [lab_backup.USER, "1"]
        for h in BACKED_UP  # one snapshot: the first backup
    }
    keys = backup_host(platform, f"cat {lab_backup.AUTHORIZED_KEYS}").splitlines()
    assert sorted(line.split()[-1] for line in keys if f":{DELIVERY}/" in line) == [
        f"orchestrator:{DELIVERY}/{host}" for host in BACKED_UP
    ]
    assert all(line.startswith('restrict,command="internal-sftp" ssh-ed25519 ') for line in keys)
    for host in BACKED_UP:
        address = platform.address(store, host)
        listed = json.loads(platform.ssh(address, "orchestrator-restic snapshots --json"))
        assert len(listed) == 1, host  # read from the backup host, over sftp
        here = f"/var/backups/restic {lab_backup.BASE}/{DELIVERY}/{host}"  # no repository here
        assert platform.ssh(address, f"ls -d {here} 2>/dev/null | wc -l").strip() == "0", host
    # the host's key is good for sftp and nothing else on the backup host
    login = "ssh -F /etc/restic/ssh_config orchestrator-backup id 2>&1 || true"
    shell = platform.ssh(platform.address(store, "p23-db-01"), login)
    assert "sftp connections only" in shell
    assert "uid=" not in shell


def backup_host(platform: Platform, command: str) -> str:
    """``command``'s output, run as root on the lab's backup host (its host key checked)."""
    return lab_backup.root_shell(platform.paths, str(BACKUP_HOST), command)


def _connects(platform: Platform, source: str, target: str, port: int) -> bool:
    """Whether a TCP connection from lab host ``source`` to ``target``:``port`` is accepted."""
    probe = f"timeout 3 bash -c '</dev/tcp/{target}/{port}' && echo open || echo closed"
    return platform.ssh(source, probe).strip() == "open"


def test_every_host_loads_its_firewall_baseline(
    platform: Platform, first: tuple[SqlRunStore, RunOutcome]
) -> None:
    store, outcome = first
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    for host in platform.spec.expanded_hosts():
        rules = platform.ssh(platform.address(store, host.name), "nft list chain inet filter input")
        assert "policy drop;" in rules, host.name
    web, db = platform.address(store, "p23-web-01"), platform.address(store, "p23-db-01")
    # the delivery's prefix may reach PostgreSQL; the node exporter only the management network
    assert _connects(platform, web, db, 5432)
    assert not _connects(platform, web, db, 9100)
    with socket.create_connection((db, 9100), timeout=3):  # the controller: management network
        pass


def test_phase_2_records_platform_and_pinned_key_on_the_planned_vms(
    platform: Platform, first: tuple[SqlRunStore, RunOutcome]
) -> None:
    store, outcome = first
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    api = netbox_api(platform.netbox)
    try:
        vms = {vm.name: vm for vm in api.virtualization.virtual_machines.filter(
            **{f"cf_{DELIVERY_FIELD}": DELIVERY})}  # fmt: skip
    finally:
        api.http_session.close()
    known_hosts = platform.adapters.workspace.known_hosts(DELIVERY)
    pins = {h.name: pinned_key(known_hosts, platform.address(store, h.name))
            for h in platform.spec.expanded_hosts()}  # fmt: skip
    assert None not in pins.values()
    recorded = {name: (vm.status.value, vm.platform.name if vm.platform else None,
                       vm.platform.slug if vm.platform else None, vm.custom_fields[HOST_KEY_FIELD])
                for name, vm in vms.items()}  # fmt: skip
    assert recorded == {
        name: ("planned", "Debian 12", "debian-12", pin) for name, pin in pins.items()
    }
    step = store.latest_step(DELIVERY, "base.netbox_record")
    assert step is not None
    assert step.outputs["updated"] == sorted(pins)


class ProcessWatcher:
    """Samples every process's command line while a run goes on."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self.stop.wait(0.05):
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    text = cmdline.read_bytes().replace(b"\0", b" ")
                    self.seen.add(text.decode(errors="replace"))
                except OSError:
                    continue

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()


def _files_text(root: Path) -> Iterator[tuple[Path, str]]:
    for path in root.rglob("*"):
        if path.is_file() and path.name != "secrets.json":
            yield path, path.read_bytes().decode(errors="replace")


def test_a_second_run_changes_nothing_and_shows_no_secret_anywhere(
    platform: Platform, first: tuple[SqlRunStore, RunOutcome], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second run on a new store (every step and playbook runs again) changes nothing and sends
    NetBox nothing; no secret shows in any process's arguments, file, log or the run store."""
    assert first[1].run.status is Status.SUCCEEDED
    env = dict(line.split("=", 1) for line in platform.paths.netbox_env.read_text().splitlines()
               if "=" in line)  # fmt: skip
    token = env["NETBOX_TOKEN"].strip()
    monkeypatch.setenv("NETBOX_TOKEN", token)  # the orchestrator's own environment holds it
    private_key = "".join(platform.paths.ssh_key.read_text().splitlines()[1:-1])
    secrets = {"netbox token": token, "netbox token secret": token.rsplit(".", 1)[-1],
               "private key": private_key[20:60],
               **{f"generated {k}": v for k, v in platform.secrets().items()}}  # fmt: skip
    store = platform.store("second")
    with ProcessWatcher() as watcher:
        outcome = platform.run(store)
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    assert _changed_tasks(store, outcome.run.id) == []
    record = store.latest_step(DELIVERY, "base.netbox_record")
    assert record is not None
    assert record.status is Status.SUCCEEDED  # it ran (new store), read NetBox, and sent nothing
    assert record.outputs["updated"] == []
    places: dict[str, str] = {"process arguments": "\n".join(watcher.seen)}
    places |= {str(p): t for p, t in _files_text(platform.state) if p.suffix != ".db"}
    places["run store"] = (platform.state / "second.db").read_bytes().decode(errors="replace")
    places["lab logs"] = "\n".join(t for _p, t in _files_text(platform.paths.logs))
    run_log = store.read_log_lines(outcome.run.id)
    assert any("base.netbox_record" in line for line in run_log)  # phase 1-3 events are there
    places["run log"] = "\n".join(run_log)
    leaks = [f"{what} in {where}" for what, value in secrets.items()
             for where, text in places.items() if value in text]  # fmt: skip
    assert leaks == []
    assert os.environ["NETBOX_TOKEN"] == token


TUNED = {"net.core.somaxconn: 4096": "net.core.somaxconn: 8192", "value: 65536": "value: 131072"}
TUNING_FILES = "cat /etc/sysctl.d/90-orchestrator.conf /etc/security/limits.d/90-orchestrator.conf"


def _check_run(platform: Platform, run_id: str) -> tuple[list[str], dict[str, str]]:
    """The command line of the plan's playbook run and the diffs it reported, per host."""
    runs = platform.adapters.workspace.runs(DELIVERY)
    (folder,) = runs.glob(f"*-{run_id}-software.configure-check")
    command: list[str] = json.loads(next(folder.glob("artifacts/*/command")).read_text())["command"]
    diffs: dict[str, str] = {}
    for path in sorted(folder.glob("artifacts/*/job_events/*.json")):
        data = json.loads(path.read_text()).get("event_data") or {}
        res = data.get("res") or {}
        found = [res.get("diff"), *(r.get("diff") for r in res.get("results") or [])]
        text = json.dumps([d for d in found if d])
        diffs[data.get("host", "")] = diffs.get(data.get("host", ""), "") + text
    return command, diffs


def test_plan_shows_a_phase_3_change_in_check_mode_with_diff_and_changes_nothing(
    platform: Platform, first: tuple[SqlRunStore, RunOutcome]
) -> None:
    store, outcome = first
    assert outcome.run.status is Status.SUCCEEDED
    webs = ["p23-web-01", "p23-web-02"]
    before = {web: platform.ssh(platform.address(store, web), TUNING_FILES) for web in webs}
    assert all("4096" in text and "65536" in text for text in before.values())
    retuned = make_spec(DELIVERY, PREFIX, TUNED)  # what the customer asked for since
    plan = platform.plan(store, retuned, first=3)
    assert (plan.run.mode, plan.run.status) == (Mode.PLAN, Status.SUCCEEDED), plan.run.reason
    steps = {s.key: s for s in plan.steps}
    assert {key for key, s in steps.items() if s.status is Status.PENDING} == {"software.configure"}
    found = steps["software.configure"].changes
    assert {(c.action, c.target) for c in found} == {
        ("change", f"{web}: tuning : {task}")
        for web in webs
        for task in ("Set the kernel parameters", "Set the resource limits")
    }
    assert all(c.detail.startswith("would change") for c in found)
    limits = [c for c in found if c.target.endswith("Set the resource limits")]
    assert all("131072" in c.detail for c in limits)  # the limits file's diff, in the plan
    command, diffs = _check_run(platform, plan.run.id)
    assert {"--check", "--diff"} <= set(command)
    assert all("131072" in diffs[web] for web in webs)  # the limits file's diff
    after = {web: platform.ssh(platform.address(store, web), TUNING_FILES) for web in webs}
    assert after == before


def _in_host(host: str, *argv: str) -> None:
    """Run ``argv`` inside lab host ``host`` (its systemd's namespaces), as its console would."""
    pids = namespace_pids(netns_name(host))
    inits = [p for p in pids if Path(f"/proc/{p}/comm").read_text().strip() == "systemd"]
    assert inits, f"lab host {host} is not running"
    init = min(inits)
    subprocess.run(["nsenter", "-t", str(init), "-m", "-u", "-i", "-n", "-p", *argv], check=True)


def test_a_host_without_sshd_fails_alone_and_resume_completes_it(
    platform: Platform, first: tuple[SqlRunStore, RunOutcome]
) -> None:
    assert first[1].run.status is Status.SUCCEEDED
    store = platform.store("sshd")
    _in_host("p23-web-02", "systemctl", "stop", "ssh.service", "ssh.socket")
    try:
        failed = platform.run(store, last=2)  # reaching hosts is phase 2's; phase 3 adds nothing
    finally:
        _in_host("p23-web-02", "systemctl", "start", "ssh.service")
    assert failed.run.status in {Status.FAILED, Status.CRASHED}
    before = {h.host: h for h in store.list_hosts(failed.run.id, "base.reachability")}
    assert before.pop("p23-web-02").status in {Status.FAILED, Status.CRASHED}
    assert {h.status for h in before.values()} == {Status.SUCCEEDED}
    resumed = platform.resume(store, last=2)
    assert resumed.run.status is Status.SUCCEEDED, resumed.run.reason
    after = {h.host: h for h in store.list_hosts(resumed.run.id, "base.reachability")}
    assert after["p23-web-02"].status is Status.SUCCEEDED
    # the hosts that had succeeded were not tried again: their records are the ones from before
    assert {n: h.started_at for n, h in after.items() if n in before} == {
        n: h.started_at for n, h in before.items()
    }


def test_a_host_whose_key_changed_is_refused(
    platform: Platform, first: tuple[SqlRunStore, RunOutcome]
) -> None:
    assert first[1].run.status is Status.SUCCEEDED
    address = platform.address(first[0], "p23-web-01")
    destroy_host("p23-web-01", paths=platform.paths)
    create_host("p23-web-01", address, paths=platform.paths)  # a new host key
    store = platform.store("rekeyed")
    outcome = platform.run(store, last=2)
    assert outcome.run.status is Status.FAILED
    reach = {h.host: h for h in store.list_hosts(outcome.run.id, "base.reachability")}
    assert reach["p23-web-01"].status is Status.FAILED
    assert "host key of p23-web-01" in str(reach["p23-web-01"].error)
    assert {h.status for n, h in reach.items() if n != "p23-web-01"} == {Status.SUCCEEDED}
