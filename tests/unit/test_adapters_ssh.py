"""Host keys are pinned once per address and never replaced silently; a host must show the key it
is expected to (its provider's, or NetBox's for an existing server) as well as its pin; how the
probe logs in."""

from __future__ import annotations

import base64
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from orchestrator.adapters.ssh import ParamikoProbe, check_key, login_keys, pin, pinned_key
from orchestrator.adapters.ssh_access import SshAccess, known_hosts_name
from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.errors import HostKeyChanged, JumpHostKeyMismatch, Refused
from orchestrator.engine.ports.reachability import SshTarget, fingerprint

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T"
OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM7ivAnno65GdkRODERguDepSw/tem4Jg73zA7b+0xlR"


def test_a_key_is_pinned_on_first_contact_and_kept(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    assert pinned_key(known, "10.213.200.11") is None
    pin(known, "10.213.200.11", KEY + " root@web-01")
    pin(known, "10.213.200.11", OTHER)  # a second pin never replaces the first
    assert pinned_key(known, "10.213.200.11") == KEY
    assert known.stat().st_mode & 0o777 == 0o600
    assert known.read_text() == f"10.213.200.11 {KEY}\n"


def test_a_changed_key_names_both_fingerprints() -> None:
    error = HostKeyChanged("web-01", "10.213.200.11", fingerprint(KEY), fingerprint(OTHER))
    assert fingerprint(KEY) in str(error)
    assert fingerprint(OTHER) in str(error)
    assert "known_hosts" in str(error)


def test_a_fingerprint_is_the_one_openssh_and_paramiko_show() -> None:
    kind, blob = KEY.split()
    key = paramiko.PKey.from_type_string(kind, base64.b64decode(blob))
    assert fingerprint(KEY) == f"ssh-ed25519 {key.fingerprint}"
    assert fingerprint(KEY).startswith("ssh-ed25519 SHA256:")


def test_what_is_not_a_key_is_shown_by_its_start() -> None:
    assert fingerprint("ssh-ed25519 KEY-web-01") == "ssh-ed25519 KEY-web-01..."
    assert fingerprint("ssh-ed25519") == "ssh-ed25519 ?..."


def test_secrets_are_generated_once_and_kept_private(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "deliveries")
    first = workspace.secret("acme", "db_password")
    assert workspace.secret("acme", "db_password") == first
    assert workspace.secret_values("acme") == (first,)
    assert workspace.secrets_file("acme").stat().st_mode & 0o777 == 0o600
    assert workspace.delivery("acme").stat().st_mode & 0o777 == 0o700


# --- how the probe logs in ------------------------------------------------------------------------


def test_a_host_on_another_port_is_pinned_under_the_name_openssh_looks_up(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    pin(known, known_hosts_name("10.213.200.11", 2222), KEY)
    assert pinned_key(known, "[10.213.200.11]:2222") == KEY
    assert pinned_key(known, "10.213.200.11") is None


def _private_key(path: Path, password: bytes | None = None) -> Path:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
        )
    )
    path.chmod(0o600)
    return path


def test_a_key_file_is_the_one_key_offered(tmp_path: Path) -> None:
    key = _private_key(tmp_path / "id_ed25519")
    with login_keys(SshAccess(key=key, agent=tmp_path / "ignored.sock")) as keys:
        assert [k.get_name() for k in keys.keys] == ["ssh-ed25519"]
        assert str(key) in keys.source


def test_no_usable_key_is_refused_before_any_connection(tmp_path: Path) -> None:
    encrypted = _private_key(tmp_path / "id_encrypted", b"a passphrase")
    cases = {
        SshAccess(key=encrypted): "is encrypted: load it into ssh-agent",
        SshAccess(key=tmp_path / "missing"): "cannot be used",
        SshAccess(): "no ssh.key and no ssh-agent",
    }
    for access, message in cases.items():
        probe = ParamikoProbe(access, sleep=_no_sleep)
        target = SshTarget("web-01", "192.0.2.1", tmp_path / "known_hosts")
        with pytest.raises(Refused, match=message):  # never retried: Refused is permanent
            probe.reach(target)


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"a refusal is not retried (slept {seconds} s)")


def test_a_jump_host_that_shows_another_key_is_named_in_the_refusal() -> None:
    error = JumpHostKeyMismatch("198.51.100.5", 22, fingerprint(KEY), fingerprint(OTHER))
    assert isinstance(error, Refused)
    assert "jump host 198.51.100.5:22" in str(error)
    assert fingerprint(KEY) in str(error)
    assert "ssh.jump_hosts" in str(error)


def _target(tmp_path: Path, expected: str | None) -> SshTarget:
    return SshTarget("db-01", "192.0.2.20", tmp_path / "known_hosts", expected)


def test_a_host_must_show_its_expected_key_and_its_pin(tmp_path: Path) -> None:
    check_key(_target(tmp_path, None), None, KEY)  # neither: first contact, pinned by the probe
    check_key(_target(tmp_path, f"{KEY} root@db-01"), KEY, KEY)  # a comment is not the key
    with pytest.raises(HostKeyChanged, match=r"changed: expected .*NetBox records"):
        check_key(_target(tmp_path, OTHER), KEY, KEY)  # pinned before, another key expected now
    with pytest.raises(HostKeyChanged, match=r"changed: pinned .*known_hosts"):
        check_key(_target(tmp_path, OTHER), KEY, OTHER)  # expected, but not what was pinned
    with pytest.raises(HostKeyChanged, match=r"changed: pinned"):
        check_key(_target(tmp_path, None), KEY, OTHER)
