"""The lab's site file refers to its secrets: the NetBox token and a shared-state key made once."""

from __future__ import annotations

import stat
from pathlib import Path

from orchestrator.cli.site import shared_state_lines
from orchestrator.lab.hosts import LabHost
from orchestrator.lab.netbox import NetBoxInfo
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.site import SIGNERS, person_key, state_key_file, write_site
from orchestrator.site import load_site

INFO = NetBoxInfo("http://127.0.0.1:8001", "nbt_abc.def", "4.7.3")
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T"
BACKUP = LabHost("lab-backup", "10.213.0.5", HOST_KEY)


def test_lab_up_makes_the_shared_state_key_once_and_the_site_refers_to_it(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path / "state", tmp_path / "cache")
    site = load_site(write_site(paths, INFO, BACKUP))
    key_file = state_key_file(paths)
    assert str(site.shared_state.key) == f"file:{key_file}"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    write_site(paths, INFO, BACKUP)  # lab up again: the state sealed with the key stays readable
    assert key_file.read_text() == key
    assert key.strip() not in (paths.state / "site.yaml").read_text()
    assert [line.ok for line in shared_state_lines(site)] == [True]


def test_the_lab_site_lists_its_people_each_signer_with_a_key_of_their_own(
    tmp_path: Path,
) -> None:
    paths = LabPaths(tmp_path / "state", tmp_path / "cache")
    site = load_site(write_site(paths, INFO, BACKUP))
    assert site.people["root"].roles == ("ci",)  # what runs everything here approves nothing
    assert site.people["root"].ssh_keys == ()
    for login in SIGNERS:
        key = person_key(paths, login)
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        public = key.with_suffix(".pub").read_text().split()[:2]
        assert [k.split()[:2] for k in site.people[login].ssh_keys] == [public]
    before = person_key(paths, "noor").read_text()
    write_site(paths, INFO, BACKUP)
    assert person_key(paths, "noor").read_text() == before  # made once
    assert {"delivery_manager"} == set(site.people["sanne"].roles)
    assert "engineer" in site.people["noor"].roles
