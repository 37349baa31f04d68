"""The lab is one site: `lab up` writes its site file, and `site check` judges it like any other."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import yaml

from orchestrator.lab.hosts import LabHost
from orchestrator.lab.lab import LabUp
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.site import token_file
from orchestrator.site import load_site

ORCHESTRATOR = str(Path(sys.executable).parent / "orchestrator")


def site_check(site: Path) -> subprocess.CompletedProcess[str]:
    argv = [ORCHESTRATOR, "site", "check", "--site", str(site)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def edited(lab_up: LabUp, tmp_path: Path, **changes: object) -> Path:
    """A copy of the lab's site file with top-level sections replaced or merged."""
    data = yaml.safe_load(lab_up.site.read_text())
    for section, value in changes.items():
        data[section] = {**data[section], **value} if isinstance(value, dict) else value
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_lab_up_writes_a_site_file_that_names_no_secret(lab_up: LabUp, lab_paths: LabPaths) -> None:
    site = load_site(lab_up.site)
    assert site.name == "lab"
    assert str(site.netbox.token) == f"file:{token_file(lab_paths)}"
    assert stat.S_IMODE(token_file(lab_paths).stat().st_mode) == 0o600
    assert lab_up.netbox.token not in lab_up.site.read_text()
    assert site.netbox.token.resolve().reveal() == lab_up.netbox.token


def test_site_check_passes_on_the_lab(lab_up: LabUp) -> None:
    checked = site_check(lab_up.site)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    assert lines[-1] == "all checks passed"
    assert not [line for line in lines if line.startswith("FAIL")]
    for name in ("secret netbox.token", "netbox token", "custom field ssh_host_key",
                 "site lab", "cluster lab-cluster", "prometheus", "blackbox exporter",
                 "backup host"):  # fmt: skip
        assert any(line.startswith(f"ok   {name}") for line in lines), name
    assert lab_up.netbox.token not in checked.stdout + checked.stderr


def test_site_check_says_what_to_fix(lab_up: LabUp, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    site = edited(
        lab_up, tmp_path,
        netbox={"site": "nowhere", "clusters": {"lab": "no-cluster"}},
        monitoring={"rules": {"path": str(missing)}},
    )  # fmt: skip
    checked = site_check(site)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    failed = [line for line in checked.stdout.splitlines() if line.startswith("FAIL")]
    assert any("site nowhere" in line for line in failed), failed
    assert any("cluster no-cluster" in line for line in failed), failed
    assert any(f"{missing} is not a folder" in line for line in failed), failed
    assert checked.stdout.splitlines()[-1] == "3 check(s) failed"


def test_a_token_file_others_can_read_is_refused(lab_up: LabUp, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(lab_up.netbox.token + "\n")
    token.chmod(0o644)
    checked = site_check(edited(lab_up, tmp_path, netbox={"token": f"file:{token}"}))
    assert checked.returncode == 1
    assert f"FAIL secret netbox.token: secret file:{token}: mode 0644" in checked.stdout
    assert lab_up.netbox.token not in checked.stdout + checked.stderr


def test_a_jump_host_must_show_the_key_the_site_names(
    lab_up: LabUp, smoke_hosts: list[LabHost], tmp_path: Path
) -> None:
    bastion = smoke_hosts[0]
    jump = {"host": bastion.address, "user": "root", "host_key": bastion.host_key}
    good = site_check(edited(lab_up, tmp_path, ssh={"jump_hosts": [jump]}))
    assert f"ok   jump host {bastion.address}:22: shows the expected host key" in good.stdout
    other = smoke_hosts[1].host_key
    bad = site_check(edited(lab_up, tmp_path, ssh={"jump_hosts": [{**jump, "host_key": other}]}))
    assert bad.returncode == 1
    assert f"FAIL jump host {bastion.address}:22: shows another host key" in bad.stdout


#: A well-formed host key that no lab host has.
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP3kF2yq8WnG0d7cJm4aRz9Lx5sVtB1eHhQoYk6uNwXp"


def test_site_check_refuses_a_backup_host_that_shows_another_key(
    lab_up: LabUp, tmp_path: Path
) -> None:
    checked = site_check(edited(lab_up, tmp_path, backups={"host_key": OTHER_KEY}))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    expected = f"FAIL backup host {lab_up.backup.address}:22: shows another host key than the site"
    assert expected in checked.stdout
