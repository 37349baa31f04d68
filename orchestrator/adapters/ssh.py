"""``ParamikoProbe``: implements ``orchestrator.engine.ports.reachability.ReachabilityProbe``.

    ReachabilityProbe.reach(SshTarget) -> Reached
    └── ParamikoProbe     paramiko: waits with backoff under a deadline, pins on first contact

It logs in the way the site says (``orchestrator.adapters.ssh_access.SshAccess``): as its user, on
its port, with its key file or the keys of the ssh-agent, through its jump hosts. Each jump host
is connected to in turn (the outermost directly, the next through a ``direct-tcpip`` channel of
the one before), its key checked against the one the site names and only then authenticated to;
the target is reached through the last one. Everything opened is closed on the way out.

The key a host shows is compared before we authenticate, so nothing is sent to an impostor. A
target must show the key its provider reported (for an existing server, the one NetBox
records), if any, and the key pinned for its address, if any; with neither it is pinned on first
contact. A target whose key differs raises ``HostKeyChanged`` — that host fails, never retried.
A jump host's key is never learnt.

Errors (``orchestrator.engine.errors``), translated here:
    Unreachable           no SSH answer before the deadline (connection refused, no route,
                          timeout), also from a jump host or through it
    HostKeyChanged        the target shows another key than the one pinned (a ``Refused``)
    JumpHostKeyMismatch   a jump host shows another key than the site names (a ``Refused``)
    Refused               a host refuses our keys; no usable key (an unreadable or encrypted
                          key file, no ssh-agent, an agent without keys)
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from paramiko.pkey import UnknownKeyType

from orchestrator.adapters.ssh_access import (
    SSH_PORT,
    Hop,
    SshAccess,
    known_hosts_name,
    route,
)
from orchestrator.engine.errors import HostKeyChanged, JumpHostKeyMismatch, Refused, Unreachable
from orchestrator.engine.ports.reachability import Reached, SshTarget, fingerprint
from orchestrator.engine.retry import RetryPolicy
from orchestrator.store.private import write_private

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


# --- keys -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys we may log in with, and where they come from (for messages)."""

    keys: tuple[paramiko.PKey, ...]
    source: str


def key_file(path: Path) -> paramiko.PKey:
    """The private key at ``path``; ``Refused`` when it cannot be used as it is."""
    try:
        return paramiko.PKey.from_path(path)
    except TypeError as exc:  # cryptography's way of saying that a passphrase is needed
        raise Refused(
            f"SSH key {path} is encrypted: load it into ssh-agent and leave ssh.key out"
        ) from exc
    except (OSError, ValueError, paramiko.SSHException, UnknownKeyType) as exc:
        raise Refused(f"SSH key {path} cannot be used: {exc}") from exc


class SocketAgent(paramiko.agent.AgentSSH):
    """The ssh-agent listening on ``path`` (paramiko's ``Agent`` finds one only through the
    process's ``SSH_AUTH_SOCK``; the site's access names the socket itself)."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.settimeout(timeout)
            conn.connect(str(path))
            self._connect(conn)  # type: ignore[attr-defined] # paramiko's own; not in the stubs
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        self._close()  # type: ignore[attr-defined] # paramiko's own; not in the stubs


@contextmanager
def login_keys(access: SshAccess) -> Iterator[Keys]:
    """The key file's key, or the agent's keys (its connection open until the block ends);
    ``Refused`` when there is no usable key."""
    if access.key is not None:
        yield Keys((key_file(access.key),), f"our key {access.key}")
        return
    if access.agent is None:
        raise Refused("no SSH key: the site has no ssh.key and no ssh-agent runs (SSH_AUTH_SOCK)")
    try:
        agent = SocketAgent(access.agent, access.connect_timeout)
    except (OSError, paramiko.SSHException) as exc:
        raise Refused(f"no SSH key: the ssh-agent at {access.agent} did not answer: {exc}") from exc
    try:
        if not agent.get_keys():
            raise Refused(f"no SSH key: the ssh-agent at {access.agent} holds none (ssh-add one)")
        yield Keys(tuple(agent.get_keys()), f"the keys of the ssh-agent at {access.agent}")
    finally:
        agent.close()


def authenticate(transport: paramiko.Transport, user: str, keys: Keys, name: str) -> None:
    """Log in as ``user`` with the first of ``keys`` the server takes; ``Refused`` if none."""
    for key in keys.keys:
        try:
            transport.auth_publickey(user, key)
        except paramiko.BadAuthenticationType as exc:
            raise Refused(f"{name} takes no SSH keys for {user}: {exc}") from exc
        except paramiko.AuthenticationException:
            continue
        if transport.is_authenticated():
            return
    raise Refused(f"{name} refused {keys.source} for {user}")


# --- paramiko --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParamikoProbe:
    """Reaches hosts the way ``access`` says: user, port, key or agent, jump hosts."""

    access: SshAccess = field(default_factory=SshAccess)
    wait: RetryPolicy = BOOT_WAIT
    sleep: Callable[[float], None] = field(default=time.sleep)

    def reach(self, target: SshTarget) -> Reached:
        started = time.monotonic()
        name = known_hosts_name(target.address, self.access.port)  # as OpenSSH looks it up
        pinned = pinned_key(target.known_hosts, name)
        hops = route(self.access, target.address, target.expected_key or pinned)
        shown, os_name = self.wait.call(lambda: self._contact(target, hops, pinned), self.sleep)
        if pinned is None:
            pin(target.known_hosts, name, shown)
        return Reached(shown, pinned is None, os_name, time.monotonic() - started)

    def _contact(
        self, target: SshTarget, hops: tuple[Hop, ...], pinned: str | None
    ) -> tuple[str, str]:
        timeout = self.access.connect_timeout
        with login_keys(self.access) as keys, ExitStack() as opened:
            via: paramiko.Transport | None = None
            for hop in hops[:-1]:
                name = f"jump host {hop.host}:{hop.port}"
                with _answering(f"{name}, on the way to {target.name},"):
                    via = opened.enter_context(_transport(hop, timeout, via))
                    _check_jump_key(via, hop)
                    authenticate(via, hop.user, keys, name)
            with _answering(f"{target.name} ({target.address})"):
                transport = opened.enter_context(_transport(hops[-1], timeout, via))
                shown = _key_line(transport.get_remote_server_key())
                check_key(target, pinned, shown)
                authenticate(transport, hops[-1].user, keys, target.name)
                return shown, _os_name(transport, timeout)


@contextmanager
def _answering(name: str) -> Iterator[None]:
    """Socket and paramiko errors while talking to ``name``, as ``Unreachable``."""
    try:
        yield
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise Unreachable(f"{name} did not answer SSH: {exc}") from exc


def _check_jump_key(transport: paramiko.Transport, hop: Hop) -> None:
    shown = _key_line(transport.get_remote_server_key())
    if hop.host_key is None or shown.split()[:2] != hop.host_key.split()[:2]:
        expected = fingerprint(hop.host_key) if hop.host_key else "no key"
        raise JumpHostKeyMismatch(hop.host, hop.port, expected, fingerprint(shown))


def check_key(target: SshTarget, pinned: str | None, shown: str) -> None:
    """``HostKeyChanged`` unless ``shown`` is the key ``target`` must show and its pin."""
    for key, expected in ((target.expected_key, True), (pinned, False)):
        if key is not None and shown.split()[:2] != key.split()[:2]:
            keys = fingerprint(key), fingerprint(shown)
            raise HostKeyChanged(target.name, target.address, *keys, expected=expected)


class _transport:  # noqa: N801 - used as a context manager, reads like a function
    """A started paramiko client transport to ``hop``: directly, or through a ``direct-tcpip``
    channel of ``via`` (a jump host we are logged in to); closed on exit."""

    def __init__(self, hop: Hop, timeout: float, via: paramiko.Transport | None = None) -> None:
        self.hop, self.timeout, self.via = hop, timeout, via
        self.sock: socket.socket | paramiko.Channel | None = None
        self.transport: paramiko.Transport | None = None

    def __enter__(self) -> paramiko.Transport:
        try:
            self.sock = self._open()
            self.transport = transport = paramiko.Transport(self.sock)
            transport.banner_timeout = transport.handshake_timeout = self.timeout
            if self.hop.host_key is not None:  # ask for the expected kind: a host has several
                transport.get_security_options().key_types = [self.hop.host_key.split()[0]]
            transport.start_client(timeout=self.timeout)
        except BaseException:
            self.__exit__()
            raise
        return transport

    def _open(self) -> socket.socket | paramiko.Channel:
        where = (self.hop.host, self.hop.port)
        if self.via is None:
            return socket.create_connection(where, timeout=self.timeout)
        timeout = math.ceil(self.timeout)  # paramiko takes whole seconds here
        return self.via.open_channel("direct-tcpip", where, ("127.0.0.1", 0), timeout)

    def __exit__(self, *_exc: object) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.sock is not None:
            self.sock.close()


def shown_host_key(address: str, port: int = SSH_PORT, timeout: float = 10.0) -> str:
    """The host key ``address`` shows (``ssh-ed25519 AAAA...``), read before any login;
    ``Unreachable`` when it does not answer SSH."""
    try:
        with _transport(Hop(address, port), timeout) as transport:
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


__all__ = [
    "BOOT_WAIT",
    "ParamikoProbe",
    "authenticate",
    "check_key",
    "login_keys",
    "pin",
    "pinned_key",
]
