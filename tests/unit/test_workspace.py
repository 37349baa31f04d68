"""The delivery's files on a controller: written from the shared vault when the site has one, so a
second controller with an empty folder sees the same pins and passwords; the files alone
otherwise."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from cryptography.fernet import Fernet

from orchestrator.adapters.vault import FernetVault
from orchestrator.adapters.workspace import Workspace, read_pins
from orchestrator.testing import InMemoryRunStore
from tests.unit.test_vault import HOST_KEY, OTHER_KEY

KEY = Fernet.generate_key().decode()


def controllers(tmp_path: Path) -> tuple[Workspace, Workspace]:
    """Two controllers of one site: each its own folder, one run store, the site's key."""
    store = InMemoryRunStore()
    first = Workspace(tmp_path / "first", FernetVault(store, KEY))
    second = Workspace(tmp_path / "second", FernetVault(store, KEY))
    return first, second


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_second_controller_with_an_empty_folder_sees_the_same_pins_and_passwords(
    tmp_path: Path,
) -> None:
    first, second = controllers(tmp_path)
    password = first.secret("acme", "db_password")
    first.pin("acme", "10.0.0.1", HOST_KEY)
    secrets_file = second.write_secrets("acme", ["db_password"])
    known_hosts = second.write_known_hosts("acme")
    assert json.loads(secrets_file.read_text()) == {"db_password": password}
    assert known_hosts.read_text() == f"10.0.0.1 {HOST_KEY}\n"
    assert second.secret_values("acme") == (password,)
    assert (mode(secrets_file), mode(known_hosts)) == (0o600, 0o600)
    assert mode(second.delivery("acme")) == 0o700


def test_the_first_pin_wins_whichever_controller_made_it(tmp_path: Path) -> None:
    first, second = controllers(tmp_path)
    assert second.pin("acme", "10.0.0.1", HOST_KEY + " root@web-01") == HOST_KEY
    assert first.pin("acme", "10.0.0.1", OTHER_KEY) == HOST_KEY
    assert read_pins(first.known_hosts("acme")) == {"10.0.0.1": HOST_KEY}  # the vault's pin


def test_the_files_follow_the_vault_not_what_was_written_locally(tmp_path: Path) -> None:
    first, _second = controllers(tmp_path)
    first.delivery("acme")
    first.known_hosts("acme").write_text(f"10.0.0.9 {OTHER_KEY}\n")  # never went to the vault
    first.secrets_file("acme").write_text('{"db_password": "local"}\n')
    assert first.write_known_hosts("acme").read_text() == ""
    assert json.loads(first.write_secrets("acme").read_text()) == {}


def test_forgetting_empties_the_vault_and_removes_the_files(tmp_path: Path) -> None:
    first, second = controllers(tmp_path)
    first.write_secrets("acme", ["db_password", "restic_password"])
    first.pin("acme", "10.0.0.1", HOST_KEY)
    second.write_known_hosts("acme")
    assert second.forget("acme") == 3
    assert not second.known_hosts("acme").exists()
    assert not second.secrets_file("acme").exists()
    assert first.write_known_hosts("acme").read_text() == ""


def test_without_a_vault_the_files_are_the_state(tmp_path: Path) -> None:
    local = Workspace(tmp_path / "deliveries")
    assert not local.shared
    password = local.secret("acme", "db_password")
    assert local.write_secrets("acme", ["db_password"]) == local.secrets_file("acme")
    assert json.loads(local.secrets_file("acme").read_text()) == {"db_password": password}
    assert local.pin("acme", "10.0.0.1", HOST_KEY + " root@web-01") == HOST_KEY
    assert local.pin("acme", "10.0.0.1", OTHER_KEY) == HOST_KEY
    assert local.write_known_hosts("acme").read_text() == f"10.0.0.1 {HOST_KEY}\n"
    another = Workspace(tmp_path / "elsewhere")  # another controller: nothing in common
    assert another.secret("acme", "db_password") != password
    assert local.forget("acme") == 2
    assert local.secret_values("acme") == ()
