"""Phases 1-7 on the lab, through the command line as people use it: the buddycheck finds what was
broken as action items, closes them once mended, is signed off by a second engineer (never the
lead engineer, never the CI account), and the handover makes the platform live; the go-live checks
find the application down, the delivery manager approves going live, the lead engineer records the
evaluation, operations accept the final report, and a second run skips every step. Then the
delivery is released (``--plan``, one release killed mid-way, the next one finishing) and nothing
it made is left.

One delivery (one web host with nginx, two users and backups; prefix ``p45-``) is run with the
installed ``orchestrator`` command on the lab's site file. Each approval is signed with the
approver's own key from the lab's ``people/`` folder; root, which runs the tests, is the lab's CI
account. The delivery's NetBox objects, lab host and backups are removed at the start and end.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.lab import backup as lab_backup
from orchestrator.lab import lab
from orchestrator.lab.addressing import BACKUP_HOST
from orchestrator.lab.hosts import list_hosts
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.site import person_key, site_file, state_key_file, token_file
from orchestrator.phases.release import ReleaseParts, holdings, released
from orchestrator.phases.release_plan import What, plan_release
from orchestrator.site import load_site
from orchestrator.store.sql import SqlRunStore
from orchestrator.wiring import Wiring
from tests.integration.phase23_support import FEMKE_KEY, JORIS_KEY, clean_delivery

pytestmark = pytest.mark.integration

DELIVERY = "p45-lab"
WEB = "p45-web-01"
ORCHESTRATOR = str(Path(sys.executable).parent / "orchestrator")
SPEC = f"""
id: {DELIVERY}
customer: {{name: Acme B.V. (p45), tenant: p45-acme}}
delivery_manager: {{name: Sanne Jansen, email: sanne.jansen@hosting.example.com}}
lead_engineer: {{name: Joris Bakker, email: joris.bakker@hosting.example.com}}
contacts:
  - {{name: Femke Visser, email: femke.visser@acme.example.nl, role: technical}}
preconditions:
  quote: {{signed: true, reference: Q-45}}
  data_processing_agreement: {{signed: true, reference: DPA-45}}
access:
  users:
    - {{name: joris, sudo: true, ssh_keys: [{JORIS_KEY}]}}
    - {{name: femke, roles: [web], ssh_keys: [{FEMKE_KEY}]}}
network: {{prefix_length: 28}}
hosts:
  - {{name: "p45-web-{{n:02d}}", role: web, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
software:
  web: {{packages: [nginx], services: [nginx]}}
backups:
  web: {{schedule: "@daily", retention: {{days: 14}}, paths: [/var/www]}}
go_live:
  checks:
    - {{name: shop-home, kind: http, url: "http://shop.p45.example.nl/", role: web,
       content: "Acme B.V. (p45) on"}}
    - {{name: web-port, kind: tcp, role: web, port: 80}}
    - {{name: dns-switched, kind: manual, description: shop.p45.example.nl points to the platform}}
operations: {{team: Ops B, email: ops-b@hosting.example.com}}
"""
#: What the go-live checks find with nginx stopped.
DOWN = {(WEB, "go-live shop-home"), (WEB, "go-live web-port")}
#: What breaking the platform must open as action items, and nothing else.
BROKEN = {
    (WEB, "service nginx"),
    (WEB, "port tcp/80"),
    (WEB, "user femke key 1"),
    (WEB, "backup snapshot"),
    (WEB, "backup restore"),
}


@dataclass
class Lab:
    """The delivery's files and how to run the command line on the lab's site."""

    paths: LabPaths
    root: Path

    @property
    def spec(self) -> str:
        return str(self.root / "spec.yaml")

    def orc(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "ORCHESTRATOR_SITE": str(site_file(self.paths)),
               "ORCHESTRATOR_STATE": str(self.root / "state")}  # fmt: skip
        env.pop("ORCHESTRATOR_SIGN_WITH", None)
        return subprocess.run([ORCHESTRATOR, *args], env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip

    def approve(
        self, gate: str, login: str | None, comment: str
    ) -> subprocess.CompletedProcess[str]:
        signed = ("--sign-with", str(person_key(self.paths, login))) if login else ()
        return self.orc("approve", DELIVERY, gate, "--comment", comment, *signed)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """``orchestrator ARGS`` started, as ``orc`` runs it."""
        env = {**os.environ, "ORCHESTRATOR_SITE": str(site_file(self.paths)),
               "ORCHESTRATOR_STATE": str(self.root / "state")}  # fmt: skip
        env.pop("ORCHESTRATOR_SIGN_WITH", None)
        return subprocess.Popen([ORCHESTRATOR, *args], env=env, text=True, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip

    def release_parts(self, store: SqlRunStore) -> ReleaseParts:
        """What ``release`` removes the delivery through, built afresh (nothing read before)."""
        wiring = Wiring(load_site(site_file(self.paths)), self.root / "state")
        return wiring.using(store).release_parts()

    def store(self) -> SqlRunStore:
        return SqlRunStore.open(f"sqlite:///{self.root / 'state' / 'runs.db'}")

    def outputs(self, key: str) -> Any:
        store = self.store()
        try:
            step = store.latest_step(DELIVERY, key)
            assert step is not None, key
            return step.outputs
        finally:
            store.close()

    def address(self) -> str:
        return str(self.outputs("base.reachability")["hosts"][WEB]["address"])

    def ssh(self, command: str) -> None:
        pins = self.root / "state" / "deliveries" / DELIVERY / "known_hosts"
        argv = ["ssh", "-i", str(self.paths.ssh_key), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={pins}", "-o", "StrictHostKeyChecking=yes",
                f"root@{self.address()}", command]  # fmt: skip
        subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)

    def items(self) -> list[dict[str, Any]]:
        listed = self.orc("actions", "list", DELIVERY, "--all", "--json")
        assert listed.returncode == 0, listed.stderr
        found: list[dict[str, Any]] = json.loads(listed.stdout)
        return found


def _clean(paths: LabPaths) -> None:
    clean_delivery(DELIVERY, [WEB], paths)


@pytest.fixture(scope="module")
def delivered(
    lab_up: lab.LabUp,  # noqa: ARG001 - brings the lab up first
    lab_paths: LabPaths,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Lab]:
    _clean(lab_paths)
    root = tmp_path_factory.mktemp("phases45")
    (root / "spec.yaml").write_text(SPEC)
    found = Lab(lab_paths, root)
    yield found
    _clean(lab_paths)


def _why(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout[-3000:] + done.stderr[-2000:]


def _failed_cases(junit: Path) -> set[tuple[str, str]]:
    root = ET.fromstring(junit.read_text())  # noqa: S314 - our own output
    return {
        (str(case.get("classname")).rsplit(".", 1)[-1], str(case.get("name")))
        for case in root.iter("testcase")
        if case.find("failure") is not None and ".buddycheck.verify." in str(case.get("classname"))
    }


def test_a_delivery_goes_through_the_buddycheck_and_the_handover(delivered: Lab) -> None:
    lab = delivered
    started = lab.orc("run", lab.spec, "--through-phase", "5")
    assert started.returncode == 3, _why(started)
    assert lab.approve("preconditions", "sanne", "quote and DPA signed").returncode == 0
    checked = lab.orc("resume", lab.spec)
    assert checked.returncode == 3, _why(checked)
    assert "gate buddycheck needs" in checked.stdout

    # the lead engineer may not sign off their own platform; root is the CI account
    own = lab.approve("buddycheck", "joris", "looks fine to me")
    assert own.returncode == 2
    assert "is the lead engineer and may not sign off their own buddycheck" in own.stderr
    robot = lab.approve("buddycheck", None, "green")
    assert robot.returncode == 2
    assert "is a CI account" in robot.stderr

    # break the platform: exactly these findings become action items
    lab.ssh("systemctl stop nginx")
    blob = FEMKE_KEY.split()[1].replace("/", "\\/")
    lab.ssh(f"sed -i '/{blob}/d' /home/femke/.ssh/authorized_keys")
    snapshots = f"{lab_backup.BASE}/{DELIVERY}/{WEB}/snapshots"
    lab_backup.root_shell(lab.paths, str(BACKUP_HOST), f"rm -f {snapshots}/*")
    junit = lab.root / "broken.xml"
    broken = lab.orc("run", lab.spec, "--through-phase", "5", "--junit", str(junit))
    assert broken.returncode == 1, _why(broken)
    opened = [i for i in lab.items() if i["closed_at"] is None]
    assert {(i["host"], i["check"]) for i in opened} == BROKEN
    assert all(i["opened_by"] == "buddycheck" and i["expected"] and i["found"] for i in opened)
    assert _failed_cases(junit) == BROKEN
    blocked = lab.approve("buddycheck", "noor", "checked")
    assert blocked.returncode == 2
    assert "action items are open" in blocked.stderr

    # mend it: the next run closes every item, and a second engineer signs off
    lab.ssh("systemctl start nginx")
    lab.ssh(f"echo '{FEMKE_KEY}' >> /home/femke/.ssh/authorized_keys")
    lab.ssh("/usr/local/sbin/orchestrator-backup")
    mended = lab.orc("run", lab.spec, "--through-phase", "5")
    assert mended.returncode == 3, _why(mended)
    items = lab.items()
    assert {(i["host"], i["check"]) for i in items} == BROKEN
    assert all(i["closed_by"] == "buddycheck" for i in items)
    signed = lab.approve("buddycheck", "noor", "every check passes; results reviewed")
    assert signed.returncode == 0, _why(signed)
    assert "approved by Noor de Vries (engineer; authenticated by ssh-signature" in signed.stdout

    handed = lab.orc("resume", lab.spec)
    assert handed.returncode == 3, _why(handed)
    assert "gate customer_confirmation needs" in handed.stdout
    assert lab.approve("customer_confirmation", "sanne", "customer confirmed").returncode == 0
    live = lab.orc("resume", lab.spec)
    assert live.returncode == 0, _why(live)
    status = lab.orc("status", DELIVERY)
    assert "in production since" in status.stdout


def test_the_handover_document_names_every_host_and_no_secret(delivered: Lab) -> None:
    lab = delivered
    document = lab.outputs("handover.document")
    markdown = Path(document["markdown"]).read_text()
    html = Path(document["html"]).read_text()
    assert WEB in markdown
    assert lab.address() in markdown
    assert lab.outputs("buddycheck.action_items")["evidence"] in markdown
    store = lab.store()
    try:
        wiring = Wiring(load_site(site_file(lab.paths)), lab.root / "state").using(store)
        generated = list(wiring.workspace.known_secrets(DELIVERY).values())
    finally:
        store.close()
    assert generated  # the restic password at least
    private = [person_key(lab.paths, login).read_text() for login in ("sanne", "noor")]
    secrets = [*generated, token_file(lab.paths).read_text().strip(),
               state_key_file(lab.paths).read_text().strip(),
               lab.paths.ssh_key.read_text(), *private]  # fmt: skip
    access = [
        Path(u["markdown"]).read_text()
        for u in lab.outputs("handover.access_details")["users"].values()
    ]
    for text in (markdown, html, *access):
        assert [s for s in secrets if s.strip() and s.strip() in text] == []


def test_go_live_evaluation_and_operations_end_the_delivery(delivered: Lab) -> None:
    lab = delivered
    waiting = lab.orc("run", lab.spec)
    assert waiting.returncode == 3, _why(waiting)
    assert "gate go_live needs" in waiting.stdout

    # the application down: the go-live checks say so, as action items
    lab.ssh("systemctl stop nginx")
    down = lab.orc("run", lab.spec, "--from-phase", "7")
    assert down.returncode == 1, _why(down)
    opened = {(i["host"], i["check"]) for i in lab.items() if i["closed_at"] is None}
    assert opened == DOWN
    lab.ssh("systemctl start nginx")
    up = lab.orc("run", lab.spec, "--from-phase", "7")
    assert up.returncode == 3, _why(up)
    assert not [i for i in lab.items() if i["closed_at"] is None]
    checks = lab.outputs("golive.checks")
    [home] = [c for c in checks["hosts"][WEB]["checks"] if c["name"] == "go-live shop-home"]
    assert home["found"] == "status 200 containing 'Acme B.V. (p45) on'"

    assert lab.approve("go_live", "sanne", "checks green; DNS moved").returncode == 0
    live = lab.orc("resume", lab.spec)
    assert live.returncode == 3, _why(live)
    assert "gate evaluation needs" in live.stdout
    notes = lab.root / "evaluation.yaml"
    notes.write_text("went_well: [the go-live checks caught nginx down]\n"
                     "could_be_better: [agree the DNS switch earlier]\n")  # fmt: skip
    key = str(person_key(lab.paths, "joris"))
    evaluated = lab.orc("evaluate", DELIVERY, "--file", str(notes), "--sign-with", key)
    assert evaluated.returncode == 0, _why(evaluated)
    reported = lab.orc("resume", lab.spec)
    assert reported.returncode == 3, _why(reported)
    assert "gate ops_acceptance needs" in reported.stdout
    report = Path(lab.outputs("golive.report")["markdown"]).read_text()
    assert "the go-live checks caught nginx down" in report
    assert "| `go_live` | Sanne Jansen | delivery manager |" in report

    assert lab.approve("ops_acceptance", "ops", "final report read; runbook ok").returncode == 0
    done = lab.orc("resume", lab.spec)
    assert done.returncode == 0, _why(done)
    status = lab.orc("status", DELIVERY)
    assert "done: every phase and every gate passed" in status.stdout

    again = lab.orc("run", lab.spec)
    assert again.returncode == 0, _why(again)
    shown = json.loads(lab.orc("show", "--json", _latest_run(lab)).stdout)
    assert {s["status"] for s in shown["steps"]} == {"skipped"}, shown["steps"]


def test_release_plans_then_a_killed_release_and_the_next_remove_everything(delivered: Lab) -> None:
    """The finished delivery taken back down: ``--plan`` lists its removals and changes nothing;
    a release killed (SIGKILL) a random moment after it took the lock leaves what the next one
    finishes; NetBox, the lab host, the monitoring (go-live probes and blackbox modules too), the
    workspace, pins and secrets are gone, and the history is kept."""
    lab = delivered
    store = lab.store()
    try:
        parts = lab.release_parts(store)
        before = holdings(parts, store, DELIVERY)
        made = {What.MONITORING, What.MACHINE, What.NETBOX, What.PIN, What.WORKSPACE}
        assert {r.what for r in plan_release(before)} >= made

        listed = lab.orc("release", DELIVERY, "--plan")
        assert listed.returncode == 0, _why(listed)
        assert f"remove machine {WEB} (destroy lab host)" in listed.stdout.splitlines()
        assert holdings(lab.release_parts(store), store, DELIVERY) == before, "--plan changed it"

        victim = lab.popen("release", DELIVERY, "--yes")
        give_up = time.monotonic() + 60
        while store.get_lock(DELIVERY) is None:
            assert victim.poll() is None, victim.communicate()
            assert time.monotonic() < give_up, "the release never took the lock"
            time.sleep(0.05)
        time.sleep(random.uniform(0.0, 1.5))  # noqa: S311 - a random moment, not a secret
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        again = lab.orc("release", DELIVERY, "--yes")
        assert again.returncode == 0, _why(again)
        assert again.stdout.splitlines()[-1].startswith(f"released {DELIVERY}: ")

        parts = lab.release_parts(store)  # new adapters: nothing read before answers now
        after = holdings(parts, store, DELIVERY)
        assert plan_release(after) == ()
        assert WEB not in {h.name for h in list_hosts(lab.paths)}
        assert parts.monitoring.registrations(DELIVERY) == ()
        assert not (lab.root / "state" / "deliveries" / DELIVERY).exists()
        assert store.list_state(DELIVERY, "pin") == {}
        assert store.list_state(DELIVERY, "secret") == {}
        assert released(store, DELIVERY) is not None
        assert store.list_runs(DELIVERY), "the history is kept"
    finally:
        store.close()
    status = lab.orc("status", DELIVERY)
    assert "released by" in status.stdout, _why(status)


def _latest_run(lab: Lab) -> str:
    store = lab.store()
    try:
        return store.list_runs(DELIVERY)[0].id
    finally:
        store.close()
