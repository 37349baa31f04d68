"""Phases 1-5 on the lab, through the command line as people use it: the buddycheck finds what was
broken as action items, closes them once mended, is signed off by a second engineer (never the
lead engineer, never the CI account), and the handover makes the platform live.

One delivery (one web host with nginx, two users and backups; prefix ``p45-``) is run with the
installed ``orchestrator`` command on the lab's site file. Each approval is signed with the
approver's own key from the lab's ``people/`` folder; root, which runs the tests, is the lab's CI
account. The delivery's NetBox objects, lab host and backups are removed at the start and end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.lab import backup as lab_backup
from orchestrator.lab import lab
from orchestrator.lab.addressing import BACKUP_HOST
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.site import person_key, site_file, state_key_file, token_file
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
operations: {{team: Ops B, email: ops-b@hosting.example.com}}
"""
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
