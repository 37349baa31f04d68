"""Phases 2-3 on the real lab: machines, SSH pinning, Ansible, Prometheus, backups, resume.

One delivery (lb + 2 web + 1 db) is carried through phases 1-3 by the real engine. Phase 1 is a
stand-in that records fixed lab addresses (10.213.200.0/24) until the NetBox phase lands; the
tests then reuse the delivery, in order: second run, stopped sshd, secrets search, changed key.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import psycopg
import pytest

from orchestrator.engine import Engine, RetryPolicy, RunOutcome, RunRequest, ThreadedRunner
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import PhaseRange
from orchestrator.engine.status import Status
from orchestrator.lab import lab
from orchestrator.lab.addressing import netns_name
from orchestrator.lab.hosts import create_host, destroy_host
from orchestrator.lab.network import namespace_pids
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.prometheus import query
from orchestrator.phases import base, software
from orchestrator.spec import DeliverySpec
from orchestrator.store.sql import SqlRunStore
from tests.integration.phase23_support import (
    address_of,
    addresses_for,
    lab_adapters,
    make_spec,
    phase1_standin,
)

DELIVERY = "p23-lab"
PREFIX = "p23-"
NETWORK = "10.213.201.0"
VIP = "10.213.201.100"


@dataclass
class Platform:
    spec: DeliverySpec
    paths: LabPaths
    state: Path
    adapters: base.Adapters

    def engine(self, store: SqlRunStore) -> Engine:
        phases = (
            phase1_standin(addresses_for(self.spec, NETWORK)),
            base.phase(lambda: self.adapters),
            software.phase(lambda: self.adapters),
        )
        retry = RetryPolicy(attempts=2, initial_backoff=1.0, deadline=120.0)
        return Engine(store, phases, retry=retry, runner=ThreadedRunner())

    def store(self, name: str) -> SqlRunStore:
        return SqlRunStore.open(f"sqlite:///{self.state / name}.db")

    def run(self, store: SqlRunStore) -> RunOutcome:
        request = RunRequest(delivery_from_spec(self.spec), "tester", phases=PhaseRange(1, 3))
        return self.engine(store).run(request)

    def resume(self, store: SqlRunStore) -> RunOutcome:
        request = RunRequest(delivery_from_spec(self.spec), "tester", phases=PhaseRange(1, 3))
        return self.engine(store).resume(request)

    def secrets(self) -> dict[str, str]:
        data: dict[str, str] = json.loads(
            self.adapters.workspace.secrets_file(DELIVERY).read_text()
        )
        return data

    def ssh(self, host: str, command: str) -> str:
        address = address_of(self.spec, NETWORK, host)
        argv = ["ssh", "-i", str(self.paths.ssh_key), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={self.adapters.workspace.known_hosts(DELIVERY)}",
                "-o", "StrictHostKeyChecking=yes", f"root@{address}", command]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def platform(
    lab_up: lab.LabUp,  # noqa: ARG001 - brings the lab up first
    lab_paths: LabPaths,
    tmp_path_factory: pytest.TempPathFactory,
) -> Platform:
    spec = make_spec(DELIVERY, PREFIX)
    for host in spec.expanded_hosts():  # a clean start: the hosts of an earlier session go
        destroy_host(host.name, paths=lab_paths)
    state = tmp_path_factory.mktemp("phase23")
    return Platform(spec, lab_paths, state, lab_adapters(lab_paths, state, wait=20.0))


@pytest.fixture(scope="module")
def first(platform: Platform) -> tuple[SqlRunStore, RunOutcome]:
    store = platform.store("first")
    return store, platform.run(store)


def _changed_tasks(store: SqlRunStore, run_id: str) -> list[str]:
    return [f"{h.host}: {t.name}" for h in store.list_hosts(run_id) for t in h.tasks if t.changed]


def _pages_through_vip(deadline: float = 30.0) -> set[str]:
    """The pages answered on the VIP, asked until both backends answered or ``deadline`` passed."""
    pages: set[str] = set()
    give_up = time.monotonic() + deadline
    while len(pages) < 2 and time.monotonic() < give_up:
        try:
            with urllib.request.urlopen(f"http://{VIP}/", timeout=3) as answer:
                pages.add(answer.read().decode().strip())
        except OSError:
            time.sleep(0.5)
    return pages


def test_phases_1_to_3_deliver_a_working_platform(
    platform: Platform, first: tuple[SqlRunStore, RunOutcome]
) -> None:
    store, outcome = first
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    assert _pages_through_vip() == {"Acme B.V. on p23-web-01", "Acme B.V. on p23-web-02"}
    db = address_of(platform.spec, NETWORK, "p23-db-01")
    password = platform.secrets()["db_password"]
    with psycopg.connect(host=db, dbname="p23_lab", user="p23_lab",
                         password=password, connect_timeout=5) as conn:  # fmt: skip
        assert conn.execute("select current_user").fetchone() == ("p23_lab",)
    up = {r["metric"].get("host"): r["value"][1] for r in query(f'up{{delivery="{DELIVERY}"}}')}
    assert up == dict.fromkeys((h.name for h in platform.spec.expanded_hosts()), "1")
    snapshots = json.loads(platform.ssh("p23-db-01", "RESTIC_REPOSITORY=/var/backups/restic "
        "RESTIC_PASSWORD_FILE=/etc/restic/password restic snapshots --json"))  # fmt: skip
    assert len(snapshots) >= 1
    restores = [t for h in store.list_hosts(outcome.run.id, "software.configure")
                for t in h.tasks if t.name.endswith("Verify that the sample file restores")
                and t.status is not Status.SKIPPED]  # fmt: skip
    assert {t.status for t in restores} == {Status.SUCCEEDED}
    assert len(restores) == 3  # the hosts with backups: two web, one db


def test_a_second_run_changes_nothing(platform: Platform, first: tuple[SqlRunStore, RunOutcome]
                                      ) -> None:  # fmt: skip
    assert first[1].run.status is Status.SUCCEEDED
    store = platform.store("second")  # a new store: every step and playbook runs again
    outcome = platform.run(store)
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    assert _changed_tasks(store, outcome.run.id) == []


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
        failed = platform.run(store)
    finally:
        _in_host("p23-web-02", "systemctl", "start", "ssh.service")
    assert failed.run.status in {Status.FAILED, Status.CRASHED}
    before = {h.host: h for h in store.list_hosts(failed.run.id, "base.reachability")}
    assert before.pop("p23-web-02").status in {Status.FAILED, Status.CRASHED}
    assert {h.status for h in before.values()} == {Status.SUCCEEDED}
    resumed = platform.resume(store)
    assert resumed.run.status is Status.SUCCEEDED, resumed.run.reason
    after = {h.host: h for h in store.list_hosts(resumed.run.id, "base.reachability")}
    assert after["p23-web-02"].status is Status.SUCCEEDED
    # the hosts that had succeeded were not tried again: their records are the ones from before
    assert {n: h.started_at for n, h in after.items() if n in before} == {
        n: h.started_at for n, h in before.items()
    }


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


def test_secrets_appear_nowhere(
    platform: Platform, first: tuple[SqlRunStore, RunOutcome], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert first[1].run.status is Status.SUCCEEDED
    env = dict(line.split("=", 1) for line in platform.paths.netbox_env.read_text().splitlines()
               if "=" in line)  # fmt: skip
    token = env["NETBOX_TOKEN"].strip()
    monkeypatch.setenv("NETBOX_TOKEN", token)  # the orchestrator's own environment holds it
    private_key = "".join(platform.paths.ssh_key.read_text().splitlines()[1:-1])
    secrets = {"netbox token": token, "private key": private_key[20:60],
               **{f"generated {k}": v for k, v in platform.secrets().items()}}  # fmt: skip
    store = platform.store("secrets")
    with ProcessWatcher() as watcher:
        outcome = platform.run(store)
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    places: dict[str, str] = {"process arguments": "\n".join(watcher.seen)}
    places |= {str(p): t for p, t in _files_text(platform.state) if p.suffix != ".db"}
    places["run store"] = (platform.state / "secrets.db").read_bytes().decode(errors="replace")
    places["lab logs"] = "\n".join(t for _p, t in _files_text(platform.paths.logs))
    leaks = [f"{what} in {where}" for what, value in secrets.items()
             for where, text in places.items() if value in text]  # fmt: skip
    assert leaks == []
    assert os.environ["NETBOX_TOKEN"] == token


def test_a_host_whose_key_changed_is_refused(
    platform: Platform, first: tuple[SqlRunStore, RunOutcome]
) -> None:
    assert first[1].run.status is Status.SUCCEEDED
    address = address_of(platform.spec, NETWORK, "p23-web-01")
    destroy_host("p23-web-01", paths=platform.paths)
    create_host("p23-web-01", address, paths=platform.paths)  # a new host key
    store = platform.store("rekeyed")
    outcome = platform.run(store)
    assert outcome.run.status is Status.FAILED
    reach = {h.host: h for h in store.list_hosts(outcome.run.id, "base.reachability")}
    assert reach["p23-web-01"].status is Status.FAILED
    assert "host key of p23-web-01" in str(reach["p23-web-01"].error)
    assert {h.status for n, h in reach.items() if n != "p23-web-01"} == {Status.SUCCEEDED}
