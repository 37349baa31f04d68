"""Backups go to the site's backup host: the inventory variables the backups role works from,
the secrets and host key the playbook step hands it, the site's ``backups`` through the
composition root, and the lab's site naming its backup host (facts in, changes out, including a
delivery with nothing to back up)."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.ansible import PLAYBOOKS
from orchestrator.adapters.inventory import (
    BACKUP_GROUP,
    BACKUP_HOST,
    BackupAccess,
    BackupTarget,
    HostRecord,
    Topology,
    inventory,
)
from orchestrator.engine import Engine, RunRequest
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import PhaseRange
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.status import Status
from orchestrator.lab.hosts import LabHost
from orchestrator.lab.netbox import NetBoxInfo
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.site import site_data
from orchestrator.phases import base, software
from orchestrator.phases.base import HostSettings
from orchestrator.phases.network import network_phase
from orchestrator.site import load_site
from orchestrator.site.model import Site
from orchestrator.spec import DeliverySpec
from orchestrator.testing import (
    InMemoryHostRecords,
    InMemoryIpam,
    InMemoryRunStore,
    ScriptedPlaybooks,
    approve_gates,
    fake_adapters,
    fake_runtime,
)
from orchestrator.wiring import Wiring
from tests.integration.phase23_support import make_spec
from tests.unit.test_site import BACKUPS, HOST_KEY, SITE, write

TARGET = BackupTarget(
    host="backup.example.net",
    user="restic",
    base="/srv/restic",
    host_key=f"{HOST_KEY} root@backup",
    authorized_keys="/etc/ssh/authorized_keys/restic",
)
KNOWN_HOSTS = Path("/state/deliveries/unit-bk/backup_known_hosts")
SPEC = make_spec("unit-bk", "b-")
BACKED_UP = ["b-db-01", "b-web-01", "b-web-02"]  # the spec backs up web and db, not lb
NO_BACKUPS = {
    "backups:\n": "backups: {}\n",
    '  db: {schedule: "30 2 * * *", retention: {days: 30, count: 30}, paths: [/etc/postgresql]}'
    "\n": "",
    '  web: {schedule: "@daily", retention: {days: 14}, paths: [/var/www]}\n': "",
}


def _topology(spec: DeliverySpec = SPEC) -> Topology:
    records = [HostRecord(h.name, h.role, f"10.213.128.{i + 2}")
               for i, h in enumerate(spec.expanded_hosts())]  # fmt: skip
    return Topology(records, "10.213.128.9", "10.213.128.0/28")


def _hosts(found: Any) -> dict[str, Any]:
    groups = found["all"]["children"]
    return {n: hv for g, v in groups.items() if g != BACKUP_GROUP for n, hv in v["hosts"].items()}


# --- the inventory ------------------------------------------------------------------------------


def test_each_backed_up_host_gets_its_own_repository_on_the_backup_host() -> None:
    found: Any = inventory(SPEC, _topology(), {}, BackupAccess(TARGET, KNOWN_HOSTS))
    hosts = _hosts(found)
    assert {n: hv["backup"]["repository"] for n, hv in hosts.items() if hv["backup"]} == {
        name: f"sftp:restic@backup.example.net:/srv/restic/unit-bk/{name}" for name in BACKED_UP
    }
    assert hosts["b-lb-01"]["backup"] is None
    assert found["all"]["vars"]["backup_server"] == {
        "host": "backup.example.net", "port": 22, "user": "restic",
        "host_key": f"{HOST_KEY} root@backup", "authorized_keys": "/etc/ssh/authorized_keys/restic",
        "become": False,
    }  # fmt: skip


def test_the_backup_host_is_reached_as_the_site_says_with_its_key_checked() -> None:
    found: Any = inventory(SPEC, _topology(), {}, BackupAccess(TARGET, KNOWN_HOSTS))
    assert found["all"]["children"][BACKUP_GROUP] == {"hosts": {BACKUP_HOST: {
        "ansible_host": "backup.example.net",
        "ansible_port": 22,
        "ansible_ssh_common_args": (
            f"-o HostKeyAlias=orchestrator-backup -o GlobalKnownHostsFile={KNOWN_HOSTS}"
        ),
    }}}  # fmt: skip
    assert TARGET.known_hosts_line() == f"orchestrator-backup {HOST_KEY}\n"


def test_a_delivery_without_backups_does_not_touch_the_backup_host() -> None:
    spec = make_spec("unit-bk", "b-", NO_BACKUPS)
    found: Any = inventory(spec, _topology(spec), {}, BackupAccess(TARGET, KNOWN_HOSTS))
    assert found["all"]["children"][BACKUP_GROUP] == {"hosts": {}}
    assert "backup_server" not in found["all"]["vars"]
    assert {hv["backup"] for hv in _hosts(found).values()} == {None}


def test_without_a_backup_host_no_repository_is_named_and_the_play_refuses() -> None:
    found: Any = inventory(SPEC, _topology(), {})
    hosts = _hosts(found)
    repositories = {n: hv["backup"]["repository"] for n, hv in hosts.items() if hv["backup"]}
    assert repositories == dict.fromkeys(BACKED_UP)
    assert found["all"]["children"][BACKUP_GROUP] == {"hosts": {}}
    play = (PLAYBOOKS / "phase3_software.yml").read_text()
    assert "that: backup is none or backup.repository is not none" in play


def test_an_ipv6_backup_host_is_bracketed_in_the_repository_name() -> None:
    target = replace(TARGET, host="2001:db8::5", port=2222)
    assert target.repository("d", "h") == "sftp:restic@[2001:db8::5]:/srv/restic/d/h"
    assert target.path("d", "h") == "/srv/restic/d/h"


def test_every_play_leaves_the_backup_host_alone() -> None:
    for playbook in ("phase2_base.yml", "phase3_software.yml"):
        assert f"hosts: all:!{BACKUP_GROUP}" in (PLAYBOOKS / playbook).read_text()


# --- the playbook step: the password through the secrets file, the host key beside it ----------

DELIVERY = delivery_from_spec(SPEC)


def _run(adapters: base.Adapters) -> ScriptedPlaybooks:
    """Phases 1-3 of ``SPEC`` on fakes; the playbook runner, which saw each run's request."""
    store, ipam = InMemoryRunStore(), InMemoryIpam()
    approve_gates(store, DELIVERY, "preconditions")
    records = InMemoryHostRecords(ipam)
    phases = (
        network_phase(lambda: ipam),
        base.phase(lambda: adapters, lambda: ipam, lambda: records),
        software.phase(lambda: adapters),
    )
    engine = Engine(store, phases, retry=RetryPolicy(attempts=1), runtime=fake_runtime())
    outcome = engine.run(RunRequest(DELIVERY, "tester", phases=PhaseRange(1, 3)))
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    playbooks = adapters.playbooks
    assert isinstance(playbooks, ScriptedPlaybooks)
    return playbooks


def _with(tmp_path: Path, settings: HostSettings) -> base.Adapters:
    return replace(fake_adapters(tmp_path), settings=settings)


def test_the_sites_password_reaches_the_playbook_only_through_the_secrets_file(
    tmp_path: Path,
) -> None:
    password = "s1te-pw"  # noqa: S105 - a made-up password the test follows
    settings = HostSettings(backups=TARGET, site_secrets={"restic_password": lambda: password})
    adapters = _with(tmp_path, settings)
    request = _run(adapters).requests[-1]
    secrets = json.loads(adapters.workspace.secrets_file("unit-bk").read_text())
    assert secrets["restic_password"] == password
    assert secrets["db_password"] not in {"", password}  # the others are still generated
    assert password not in json.dumps(request.inventory) + json.dumps(request.extravars)
    assert password in request.censor


def test_without_a_site_password_each_delivery_gets_its_own(tmp_path: Path) -> None:
    adapters = _with(tmp_path, HostSettings(backups=TARGET))
    _run(adapters)
    password = adapters.workspace.secret("unit-bk", "restic_password")
    assert len(password) >= 24
    assert adapters.workspace.secret("other", "restic_password") != password


def test_the_backup_host_key_is_written_for_ansible_from_the_site(tmp_path: Path) -> None:
    adapters = _with(tmp_path, HostSettings(backups=TARGET))
    request = _run(adapters).requests[-1]
    known_hosts = adapters.workspace.backup_known_hosts("unit-bk")
    assert known_hosts.read_text() == f"orchestrator-backup {HOST_KEY}\n"
    assert stat.S_IMODE(known_hosts.stat().st_mode) == 0o600
    found: Any = request.inventory
    entry = found["all"]["children"][BACKUP_GROUP]["hosts"][BACKUP_HOST]
    assert f"GlobalKnownHostsFile={known_hosts}" in entry["ansible_ssh_common_args"]


# --- from the site file, through the composition root -------------------------------------------


def _site(tmp_path: Path, backups: str = BACKUPS) -> Site:
    return load_site(write(tmp_path, SITE + backups))


def test_the_sites_backup_host_becomes_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_SITE_RESTIC_PASSWORD", raising=False)
    site = _site(tmp_path)
    settings = Wiring(site, tmp_path / "state").adapters.settings  # the password is not read yet
    assert settings.backups == BackupTarget(
        host="backup.example.net", user="restic", base="/srv/restic", host_key=HOST_KEY,
        authorized_keys="/etc/ssh/authorized_keys/restic", port=22, become=True,
    )  # fmt: skip
    monkeypatch.setenv("TEST_SITE_RESTIC_PASSWORD", "from-the-site")
    assert settings.site_secrets["restic_password"]() == "from-the-site"


def test_a_site_without_a_password_has_the_deliveries_generate_one(tmp_path: Path) -> None:
    site = _site(tmp_path, BACKUPS.replace("  password: env:TEST_SITE_RESTIC_PASSWORD\n", ""))
    settings = Wiring(site, tmp_path / "state").adapters.settings
    assert settings.site_secrets == {}
    assert Wiring(load_site(write(tmp_path)), tmp_path).adapters.settings.backups is None


# --- the lab's site -----------------------------------------------------------------------------


def test_the_labs_site_names_its_backup_host(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path / "lab", tmp_path / "cache")
    host = LabHost("lab-backup", "10.213.0.5", HOST_KEY)
    data = site_data(paths, NetBoxInfo("http://127.0.0.1:8001", "t", "4.7.3"), host)
    assert data["backups"] == {
        "repository": "sftp:restic@10.213.0.5:/srv/restic",
        "host_key": HOST_KEY,
        "authorized_keys": "/etc/ssh/authorized_keys/restic",
    }
    site = Site.model_validate(data)
    assert site.backups is not None
    assert (site.backups.host, site.backups.base) == ("10.213.0.5", "/srv/restic")
