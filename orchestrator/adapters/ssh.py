"""``ParamikoProbe``: implements ``orchestrator.engine.ports.reachability.ReachabilityProbe``.

    ReachabilityProbe.reach(SshTarget) -> Reached
    └── ParamikoProbe     paramiko: waits with backoff under a deadline, pins on first contact

The key a host shows is compared before we authenticate, so nothing is sent to an impostor. A
host must show the key its provider reported (for an existing server, the one NetBox records),
if any, and the key pinned for its address, if any; with neither it is pinned on first contact.
A host whose key differs raises ``HostKeyChanged`` — that host fails, never retried.

Errors (``orchestrator.engine.errors``), translated here:
    Unreachable       no SSH answer before the deadline (connection refused, no route, timeout)
    HostKeyChanged    the host shows another key than the one pinned (a ``Refused``)
    Refused           the host refuses our key
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from orchestrator.adapters.workspace import write_private
from orchestrator.engine.errors import HostKeyChanged, Refused, Unreachable
from orchestrator.engine.ports.reachability import Reached, SshTarget, fingerprint
from orchestrator.engine.retry import RetryPolicy

SSH_PORT = 22
#: How long a freshly booted machine may take to answer SSH, and how often we look.
BOOT_WAIT = RetryPolicy(
    transient=(Unreachable,), attempts=10_000, initial_backoff=0.25, max_backoff=5.0, deadline=120.0
)
_PINS_LOCK = threading.Lock()


# --- pins -------------------------------------------------------------------------------------


def pinned_key(known_hosts: Path, address: str) -> str | None:
    """The key pinned for ``address`` in ``known_hosts``, if any."""
    if not known_hosts.is_file():
        return None
    for line in known_hosts.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == address:
            return f"{parts[1]} {parts[2]}"
    return None


def pin(known_hosts: Path, address: str, key: str) -> None:
    """Record ``key`` for ``address`` (replacing nothing: a pin is only ever added)."""
    with _PINS_LOCK:
        current = known_hosts.read_text() if known_hosts.is_file() else ""
        if any(line.split()[:1] == [address] for line in current.splitlines()):
            return
        kind, blob = key.split()[:2]
        write_private(known_hosts, f"{current}{address} {kind} {blob}\n")


# --- paramiko --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParamikoProbe:
    """Reaches hosts as ``user`` with the private key at ``key_file``."""

    key_file: Path
    user: str = "root"
    wait: RetryPolicy = BOOT_WAIT
    connect_timeout: float = 10.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def reach(self, target: SshTarget) -> Reached:
        started = time.monotonic()
        pinned = pinned_key(target.known_hosts, target.address)
        contact = functools.partial(self._contact, target, pinned)
        shown, os_name = self.wait.call(contact, self.sleep)
        if pinned is None:
            pin(target.known_hosts, target.address, shown)
        return Reached(shown, pinned is None, os_name, time.monotonic() - started)

    def _contact(self, target: SshTarget, pinned: str | None) -> tuple[str, str]:
        asked = target.expected_key or pinned
        try:
            with _transport(target.address, self.connect_timeout, asked) as transport:
                shown = _key_line(transport.get_remote_server_key())
                check_key(target, pinned, shown)
                self._authenticate(transport, target)
                return shown, _os_name(transport, self.connect_timeout)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if isinstance(exc, paramiko.AuthenticationException):
                raise Refused(f"{target.name} refused our key: {exc}") from exc
            message = f"{target.name} ({target.address}) did not answer SSH: {exc}"
            raise Unreachable(message) from exc

    def _authenticate(self, transport: paramiko.Transport, target: SshTarget) -> None:
        key = paramiko.Ed25519Key.from_private_key_file(str(self.key_file))
        transport.auth_publickey(self.user, key)
        if not transport.is_authenticated():
            raise Refused(f"{target.name} refused our key for {self.user}")


def check_key(target: SshTarget, pinned: str | None, shown: str) -> None:
    """``HostKeyChanged`` unless ``shown`` is the key ``target`` must show and its pin."""
    for key, expected in ((target.expected_key, True), (pinned, False)):
        if key is not None and shown.split()[:2] != key.split()[:2]:
            keys = fingerprint(key), fingerprint(shown)
            raise HostKeyChanged(target.name, target.address, *keys, expected=expected)


class _transport:  # noqa: N801 - used as a context manager, reads like a function
    """A started paramiko client transport to ``address:22``, closed on exit."""

    def __init__(
        self, address: str, timeout: float, expected: str | None, port: int = SSH_PORT
    ) -> None:
        self.sock = socket.create_connection((address, port), timeout=timeout)
        self.transport = paramiko.Transport(self.sock)
        self.transport.banner_timeout = timeout
        self.transport.handshake_timeout = timeout
        if expected is not None:  # ask for the pinned kind, so a host with several keys matches
            self.transport.get_security_options().key_types = [expected.split()[0]]

    def __enter__(self) -> paramiko.Transport:
        try:
            self.transport.start_client(timeout=self.transport.handshake_timeout)
        except BaseException:
            self.__exit__()
            raise
        return self.transport

    def __exit__(self, *_exc: object) -> None:
        self.transport.close()
        self.sock.close()


def shown_host_key(address: str, port: int = SSH_PORT, timeout: float = 10.0) -> str:
    """The host key ``address`` shows (``ssh-ed25519 AAAA...``), read before any login;
    ``Unreachable`` when it does not answer SSH."""
    try:
        with _transport(address, timeout, None, port) as transport:
            return _key_line(transport.get_remote_server_key())
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise Unreachable(f"{address}:{port} did not answer SSH: {exc}") from exc


def _key_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


def _os_name(transport: paramiko.Transport, timeout: float) -> str:
    """``PRETTY_NAME`` from /etc/os-release, or ``unknown``."""
    channel = transport.open_session(timeout=timeout)
    try:
        channel.settimeout(timeout)
        channel.exec_command('. /etc/os-release && printf %s "$PRETTY_NAME"')
        output = channel.makefile("rb").read().decode(errors="replace").strip()
    finally:
        channel.close()
    return output or "unknown"


__all__ = ["BOOT_WAIT", "ParamikoProbe", "check_key", "pin", "pinned_key"]
