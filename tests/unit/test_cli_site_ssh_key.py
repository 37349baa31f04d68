"""``site check``'s SSH key line: a key file that loads, or an agent with keys; never a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from orchestrator.cli.site import ssh_key_lines
from orchestrator.site import load_site
from orchestrator.wiring import Wiring
from tests.unit.test_site import SITE, write


def _site_with_key(tmp_path: Path, password: bytes | None) -> Wiring:
    key = tmp_path / "id_ed25519"
    encryption = (
        serialization.BestAvailableEncryption(password) if password
        else serialization.NoEncryption()
    )  # fmt: skip
    key.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
        )
    )
    text = SITE.replace("/home/deploy/.ssh/id_ed25519", str(key))
    return Wiring(load_site(write(tmp_path, text)), tmp_path / "state")


def test_a_key_file_that_loads_passes(tmp_path: Path) -> None:
    [line] = ssh_key_lines(_site_with_key(tmp_path, None))
    assert line.ok
    assert line.detail == f"{tmp_path / 'id_ed25519'} loads"


def test_an_encrypted_key_file_fails_with_what_to_do(tmp_path: Path) -> None:
    [line] = ssh_key_lines(_site_with_key(tmp_path, b"a passphrase"))
    assert not line.ok
    assert "load it into ssh-agent and leave ssh.key out" in line.detail


def test_no_key_file_and_no_agent_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    text = SITE.replace("  key: /home/deploy/.ssh/id_ed25519\n", "")
    [line] = ssh_key_lines(Wiring(load_site(write(tmp_path, text)), tmp_path / "state"))
    assert not line.ok
    assert "no ssh-agent runs (SSH_AUTH_SOCK)" in line.detail
