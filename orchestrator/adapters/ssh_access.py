"""How the controller logs in to hosts: user, port, key file or ssh-agent, become, jump hosts.

    SshAccess       the site's ``ssh`` section as the SSH adapters use it (built by the
                    composition root, which reads ``SSH_AUTH_SOCK``; nothing else does)
    Hop             one SSH server on the way: a jump host, or the target itself
    route           the hops from the controller to a target, outermost first
    proxy_jump      the same route as OpenSSH's ``ProxyJump`` (Ansible)
    known_hosts_name / jump_known_hosts / jump_ssh_config   what OpenSSH reads for the hops

Shared by ``ParamikoProbe`` (``orchestrator.adapters.ssh``) and ``AnsibleRunnerPlaybooks``
(``orchestrator.adapters.ansible``), so both go the same way. Pure: no vendor, no I/O.

A jump host's key is the one the site names, checked before we authenticate and never learnt;
OpenSSH runs the jump hops as ``ssh -W`` subprocesses that get only ``-F`` from the outer
command line, so what they must obey (that key, our identity, batch mode) is in a config file.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

SSH_PORT = 22


@dataclass(frozen=True, slots=True)
class Hop:
    """One SSH server on the way to a target, and the host key it must show (``None``: the
    target's first contact, pinned then)."""

    host: str
    port: int = SSH_PORT
    user: str = "root"
    host_key: str | None = None


@dataclass(frozen=True, slots=True)
class SshAccess:
    """How to log in: ``key`` is a private key file; without one, the keys of the ssh-agent
    listening on ``agent`` (the way to use an encrypted key)."""

    user: str = "root"
    port: int = SSH_PORT
    key: Path | None = None
    agent: Path | None = None  # the agent's socket (SSH_AUTH_SOCK); used only without ``key``
    become: bool = False  # run as root through sudo
    jump_hosts: tuple[Hop, ...] = ()  # outermost first
    connect_timeout: float = 30.0


def route(access: SshAccess, address: str, host_key: str | None = None) -> tuple[Hop, ...]:
    """Every hop from the controller to ``address``: the jump hosts, outermost first, then the
    target (which must show ``host_key`` when one is given)."""
    return (*access.jump_hosts, Hop(address, access.port, access.user, host_key))


def _bracketed(host: str) -> str:
    """``host``, with an IPv6 address in brackets (so a ``:port`` can follow)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a name
        return host
    return f"[{host}]" if isinstance(address, ipaddress.IPv6Address) else host


def proxy_jump(access: SshAccess) -> str:
    """OpenSSH's ``ProxyJump`` value for the jump hosts: ``user@host:port,...``, outermost
    first; ``""`` without jump hosts."""
    return ",".join(f"{hop.user}@{_bracketed(hop.host)}:{hop.port}" for hop in access.jump_hosts)


def known_hosts_name(host: str, port: int) -> str:
    """The name OpenSSH looks ``host`` up by in known_hosts: ``host``, or ``[host]:port`` when
    the port is not 22."""
    return host if port == SSH_PORT else f"[{host}]:{port}"


def jump_known_hosts(access: SshAccess) -> str:
    """known_hosts lines of the jump hosts, with the keys the site names for them."""
    lines = []
    for hop in access.jump_hosts:
        kind, blob = (hop.host_key or "").split()[:2]
        lines.append(f"{known_hosts_name(hop.host, hop.port)} {kind} {blob}\n")
    return "".join(lines)


def _quoted(path: Path) -> str:
    return '"' + str(path).replace('"', '\\"') + '"'


def jump_ssh_config(access: SshAccess, known_hosts: Path) -> str:
    """The ssh_config (``-F``) the jump hops' ``ssh -W`` processes read: the jump hosts' keys in
    ``known_hosts`` only, checked strictly, never learnt; our identity; no prompts. Options
    given on the outer command line (the target's pins, ControlPersist) win there."""
    lines = [
        "# Written by the orchestrator for its jump hosts (ProxyJump passes -F on): do not edit.",
        "Host *",
        "    BatchMode yes",
        "    StrictHostKeyChecking yes",
        f"    UserKnownHostsFile {_quoted(known_hosts)}",
        "    GlobalKnownHostsFile /dev/null",
        "    UpdateHostKeys no",
        "    HashKnownHosts no",
        f"    ConnectTimeout {round(access.connect_timeout)}",
        "    ServerAliveInterval 15",
        "    ServerAliveCountMax 4",
    ]
    if access.key is not None:
        lines += ["    IdentitiesOnly yes", f"    IdentityFile {_quoted(access.key)}"]
    return "\n".join(lines) + "\n"
