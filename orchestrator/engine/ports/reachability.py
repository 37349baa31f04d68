"""The ``ReachabilityProbe`` port: wait until a host answers SSH, and pin its host key.

    ReachabilityProbe.reach(SshTarget) -> Reached

Adapters: ``ParamikoProbe`` (``orchestrator.adapters.ssh``) and ``ScriptedProbe``
(``orchestrator.testing``), held to one contract (``orchestrator.testing.contracts.reachability``).
A host with no pin yet is pinned on first contact (or must show the key its provider reported); the
key a host shows is compared before anything is sent to it.

Errors (``orchestrator.engine.errors``):
    Unreachable       no SSH answer before the deadline (connection refused, no route, timeout)
    HostKeyChanged    the host shows another key than the one pinned (a ``Refused``: that host
                      fails, never retried)
    JumpHostKeyMismatch  a jump host on the way shows another key than the site names for it
                      (a ``Refused``: nothing was sent to it)
    Refused           the host refuses our key, or there is no usable key
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SshTarget:
    """A host to reach: its address, the delivery's pin file, and the key its provider knows."""

    name: str
    address: str
    known_hosts: Path
    expected_key: str | None = None


@dataclass(frozen=True, slots=True)
class Reached:
    """A host that answered: its key (``ssh-ed25519 AAAA...``), whether it was pinned just now,
    and the operating system it reported (``PRETTY_NAME`` of /etc/os-release)."""

    host_key: str
    pinned_now: bool
    os: str
    seconds: float


class ReachabilityProbe(Protocol):
    """Reaches hosts over SSH."""

    def reach(self, target: SshTarget) -> Reached:
        """Wait until ``target`` answers with the right key; pin it on first contact."""
        ...


def fingerprint(key: str) -> str:
    """``ssh-ed25519 SHA256:...`` of a public key line, as OpenSSH shows it, for messages."""
    kind, blob = [*key.split(), "?"][:2]
    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError:
        return f"{kind} {blob[:16]}..."  # not a key: show its start
    digest = base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    return f"{kind} SHA256:{digest}"
