"""Authenticators: the OS login, or an SSH signature, mapped to the people the site knows.

``LoginIdentity`` takes the real user id of the process (``pwd``, never ``$USER``, which anyone
can set) and finds its login in the site's people. ``SshSignatureIdentity`` signs the approval's
statement with the person's key through ``ssh-keygen -Y sign`` (a private key file, or a public
key file whose private half is in the SSH agent) and verifies it with ``ssh-keygen -Y
find-principals`` and ``-Y verify`` against the keys the site lists; the private key never passes
through this process. Both raise ``NotAuthenticated`` with what to do about it.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engine.errors import NotAuthenticated
from orchestrator.engine.ports.identity import Approver, KnownPerson, People

#: The namespace of approval signatures: a signature made for anything else does not verify.
NAMESPACE = "orchestrator-approval"
_TIMEOUT = 30.0


def os_login() -> str:
    """The login name of the process's real user id."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        raise NotAuthenticated(f"user id {os.getuid()} has no login name") from None


@dataclass(frozen=True, slots=True)
class LoginIdentity:
    """The person whose OS login runs the command."""

    people: People
    login: Callable[[], str] = os_login

    def authenticate(self, statement: str) -> Approver:  # noqa: ARG002 - nothing is signed
        login = self.login()
        person = self.people.get(login)
        if person is None:
            raise NotAuthenticated(
                f"your login {login!r} is not among the site's people (`people` in the site "
                "file); ask whoever keeps the site file to add you, or sign with your SSH key "
                "(--sign-with)"
            )
        return Approver(person, "login", login)


@dataclass(frozen=True, slots=True)
class SshSignatureIdentity:
    """The person whose SSH key signs the statement, among the keys the site lists."""

    people: People
    key: Path

    def authenticate(self, statement: str) -> Approver:
        if not self.key.exists():
            raise NotAuthenticated(f"--sign-with {self.key}: no such key file")
        signature = _ssh_keygen(["-Y", "sign", "-f", str(self.key), "-n", NAMESPACE], statement)
        return verified(self.people, statement, signature)


def verified(
    people: People, statement: str, signature: str, namespace: str = NAMESPACE
) -> Approver:
    """The person whose listed key made ``signature`` over ``statement`` in ``namespace``; else
    ``NotAuthenticated``. Used again to check a kept decision, and by the viewer's login (in its
    own namespace, so that no login is an approval)."""
    with tempfile.TemporaryDirectory(prefix="orchestrator-sig-") as folder:
        signers, sig = Path(folder, "allowed_signers"), Path(folder, "approval.sig")
        signers.write_text(allowed_signers(people.values()))
        sig.write_text(signature)
        try:
            found = _ssh_keygen(["-Y", "find-principals", "-s", str(sig), "-f", str(signers)], "")
        except NotAuthenticated:
            found = ""
        login = found.split()[0] if found.strip() else ""
        person = people.get(login)
        if person is None:
            raise NotAuthenticated(
                "the key that signed is not listed for anyone in the site (`people.<login>."
                "ssh_keys` in the site file)"
            )
        _ssh_keygen(
            ["-Y", "verify", "-f", str(signers), "-I", login, "-n", namespace, "-s", str(sig)],
            statement,
        )
    return Approver(person, "ssh-signature", signature)


def allowed_signers(people: Iterable[KnownPerson]) -> str:
    """``ssh-keygen``'s allowed-signers file: one line per listed key, the login as principal."""
    lines = [f"{p.login} {' '.join(key.split()[:2])}" for p in people for key in p.ssh_keys]
    return "".join(f"{line}\n" for line in lines)


def _ssh_keygen(args: list[str], stdin: str) -> str:
    try:
        done = subprocess.run(
            ["ssh-keygen", *args], input=stdin, capture_output=True, text=True,
            timeout=_TIMEOUT, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NotAuthenticated(f"ssh-keygen could not be run: {exc}") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise NotAuthenticated(f"ssh-keygen {args[1]}: {reason}")
    return done.stdout
