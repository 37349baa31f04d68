"""Who approves: an OS login or an SSH signature, among the people the site knows."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.adapters.identity import LoginIdentity, SshSignatureIdentity, verified
from orchestrator.engine.errors import NotAuthenticated
from orchestrator.engine.ports.identity import Authenticator, KnownPerson, statement
from orchestrator.testing import FixedIdentity
from orchestrator.testing.contracts.identity import BOB, CHECKS

TEXT = statement("acme-webshop", "buddycheck", "ab" * 32, "all checks pass")


def keypair(folder: Path, name: str) -> tuple[Path, str]:
    key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key, key.with_suffix(".pub").read_text().strip()


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    return {name: keypair(tmp_path, name) for name in ("bob", "mallory")}


def bob(public: str = "") -> KnownPerson:
    keys = (public,) if public else ()
    return KnownPerson("bob", "Bob Buddy", "bob@hosting.example.com", frozenset({"engineer"}), keys)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("kind", ["login", "fixed"])
def test_the_login_authenticator_and_the_fake_keep_the_contract(
    kind: str, check: Callable[[Authenticator], None]
) -> None:
    identity: Authenticator = (
        LoginIdentity({"bob": BOB}, lambda: "bob") if kind == "login" else FixedIdentity(BOB)
    )
    check(identity)


def test_a_login_the_site_does_not_know_is_not_authenticated() -> None:
    identity = LoginIdentity({"bob": bob()}, lambda: "root")
    with pytest.raises(NotAuthenticated, match="your login 'root' is not among the site's people"):
        identity.authenticate(TEXT)


def test_the_real_login_is_the_process_user_not_an_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("USER", "bob")
    monkeypatch.setenv("LOGNAME", "bob")
    with pytest.raises(NotAuthenticated, match="is not among the site's people"):
        LoginIdentity({"bob": bob()}).authenticate(TEXT)


def test_a_signature_with_a_listed_key_authenticates_and_can_be_verified_again(
    keys: dict[str, tuple[Path, str]],
) -> None:
    key, public = keys["bob"]
    people = {"bob": bob(public)}
    approver = SshSignatureIdentity(people, key).authenticate(TEXT)
    assert (approver.person.login, approver.method) == ("bob", "ssh-signature")
    assert approver.proof.startswith("-----BEGIN SSH SIGNATURE-----")
    assert verified(people, TEXT, approver.proof).person.login == "bob"
    tampered = TEXT.replace("all checks pass", "nothing checked")
    with pytest.raises(NotAuthenticated, match="verify"):
        verified(people, tampered, approver.proof)


def test_a_key_the_site_does_not_list_is_not_authenticated(
    keys: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    _key, public = keys["bob"]
    stranger, _ = keys["mallory"]
    with pytest.raises(NotAuthenticated, match="the key that signed is not listed for anyone"):
        SshSignatureIdentity({"bob": bob(public)}, stranger).authenticate(TEXT)
    with pytest.raises(NotAuthenticated, match="no such key file"):
        SshSignatureIdentity({"bob": bob(public)}, tmp_path / "none").authenticate(TEXT)
