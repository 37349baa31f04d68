"""Reading what a host said: pure functions from command output to what a check found.

Used by ``TestinfraChecks`` (``orchestrator.adapters.testinfra_checks``); no vendor, no I/O, so
every parser is tested on its own with captured output.

    listeners           ``ss`` sockets (as testinfra lists them) on a port
    ssh_sources         where an nftables input chain (``nft -j``) accepts new SSH connections
    chain_policy        the policy of that chain
    scram_matches       whether a PostgreSQL SCRAM-SHA-256 verifier is of a password (RFC 5802,
                        RFC 7677): the password is checked on the controller, never sent
    hba_covers          whether ``pg_hba_file_rules`` let a user into a database from a network
    sudo_allowed        what ``sudo -l -U USER`` says
    has_key             whether an authorized_keys text holds a public key
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network
WILDCARDS = frozenset({"0.0.0.0", "::", "*"})  # noqa: S104 - addresses read, not bound
EVERYWHERE = ipaddress.ip_network("0.0.0.0/0")


@dataclass(frozen=True, slots=True)
class Finding:
    """What one check found on a host, and whether that is what was expected."""

    passed: bool
    found: str


# --- sockets ------------------------------------------------------------------------------------


def listeners(sockets: Iterable[str], protocol: str, port: int, address: str | None) -> list[str]:
    """The listening sockets (``tcp://0.0.0.0:22``, ``tcp://:::22``) that take connections to
    ``port``: on every address, or on ``address`` when one is given (a wildcard socket does)."""
    found = []
    for socket in sockets:
        proto, _, rest = socket.partition("://")
        host, _, number = rest.rpartition(":")
        if proto != protocol or not number.isdigit() or int(number) != port:
            continue
        if host in WILDCARDS or host == address:
            found.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return found


# --- nftables -----------------------------------------------------------------------------------


def nft_items(text: str) -> list[Mapping[str, Any]]:
    """The objects of ``nft -j list ...`` output (``chain``, ``rule``, ...)."""
    data = json.loads(text)
    items = data.get("nftables", []) if isinstance(data, Mapping) else []
    return [item for item in items if isinstance(item, Mapping)]


def chain_policy(items: Sequence[Mapping[str, Any]]) -> str | None:
    """The policy of the listed chain (``drop``), ``None`` when none was listed."""
    for item in items:
        chain = item.get("chain")
        if isinstance(chain, Mapping):
            return str(chain.get("policy", "accept"))
    return None


def _matches(rule: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [e["match"] for e in rule.get("expr", []) if isinstance(e, Mapping) and "match" in e]


def _left(match: Mapping[str, Any]) -> tuple[str, str]:
    """``("payload", "tcp.dport")``, ``("ct", "state")``, ``("meta", "iif")`` for a match."""
    left = match.get("left")
    if not isinstance(left, Mapping) or not left:
        return ("", "")
    kind, what = next(iter(left.items()))
    if kind == "payload" and isinstance(what, Mapping):
        return ("payload", f"{what.get('protocol')}.{what.get('field')}")
    return (str(kind), str(what.get("key")) if isinstance(what, Mapping) else "")


def _values(right: object) -> list[object]:
    """The values a match compares with: one, or a set's members."""
    if isinstance(right, Mapping) and "set" in right:
        return list(right["set"])
    return [right]


def _has_port(right: object, port: int) -> bool:
    for value in _values(right):
        if isinstance(value, Mapping) and "range" in value:
            low, high = value["range"]
            if int(low) <= port <= int(high):
                return True
        elif isinstance(value, int | str) and str(value) == str(port):
            return True
    return False


def _network(value: object) -> Network:
    if isinstance(value, Mapping) and "prefix" in value:
        prefix = value["prefix"]
        return ipaddress.ip_network(f"{prefix['addr']}/{prefix['len']}", strict=False)
    return ipaddress.ip_network(str(value), strict=False)


def _accepts(rule: Mapping[str, Any]) -> bool:
    return any(isinstance(e, Mapping) and "accept" in e for e in rule.get("expr", []))


def _opens_port(matches: Sequence[Mapping[str, Any]], port: int) -> bool:
    """Whether a rule with these matches takes new connections to tcp ``port``: its ports
    include it, or it names no port and no connection state, interface or protocol."""
    lefts = [_left(m) for m in matches]
    ports = [m for m, left in zip(matches, lefts, strict=True) if left == ("payload", "tcp.dport")]
    if ports:
        return all(_has_port(m.get("right"), port) for m in ports)
    return not any(kind in ("ct", "meta") for kind, _ in lefts)


def ssh_sources(items: Sequence[Mapping[str, Any]], port: int = 22) -> list[Network]:
    """The networks the listed chain accepts new connections to tcp ``port`` from (``0.0.0.0/0``
    for a rule that names no source)."""
    sources: list[Network] = []
    for item in items:
        rule = item.get("rule")
        if not isinstance(rule, Mapping) or not _accepts(rule):
            continue
        matches = _matches(rule)
        if not _opens_port(matches, port):
            continue
        saddr = [m for m in matches if _left(m)[1] in ("ip.saddr", "ip6.saddr")]
        if not saddr:
            sources.append(EVERYWHERE)
        for match in saddr:
            sources.extend(_network(v) for v in _values(match.get("right")))
    return sources


def within(network: Network, allowed: Sequence[str]) -> bool:
    """Whether ``network`` lies inside one of ``allowed``."""
    for text in allowed:
        other = ipaddress.ip_network(text, strict=False)
        if network.version == other.version and network.subnet_of(other):  # type: ignore[arg-type]
            return True
    return False


# --- PostgreSQL ---------------------------------------------------------------------------------

_VERIFIER = re.compile(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)")


def scram_keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    """``(StoredKey, ServerKey)`` of ``password`` (RFC 5802 section 3, SHA-256 per RFC 7677).
    PostgreSQL applies SASLprep first; a generated password is ASCII, for which it changes
    nothing."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest(), server_key


def scram_matches(verifier: str, password: str) -> bool:
    """Whether PostgreSQL's ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` was
    made from ``password``; ``False`` for any other form (MD5, none)."""
    found = _VERIFIER.fullmatch(verifier.strip())
    if found is None:
        return False
    try:
        salt, stored, server = (base64.b64decode(found[n], validate=True) for n in (2, 3, 4))
    except (binascii.Error, ValueError):
        return False
    mine = scram_keys(password, salt, int(found[1]))
    return hmac.compare_digest(mine[0], stored) and hmac.compare_digest(mine[1], server)


def _names(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _masked(address: str, netmask: str) -> Network | None:
    """The network of ``address`` under ``netmask`` (``255.255.255.0`` or ``ffff:ffff::``, as
    ``pg_hba_file_rules`` gives them); ``None`` for what is no address."""
    try:
        bits = int(ipaddress.ip_address(netmask)).bit_count()
        return ipaddress.ip_network(f"{address}/{bits}", strict=False)
    except ValueError:
        return None


def hba_covers(rules: Sequence[Mapping[str, Any]], database: str, user: str, network: str) -> bool:
    """Whether a ``host`` rule of ``pg_hba_file_rules`` lets ``user`` into ``database`` from all
    of ``network`` with a SCRAM password."""
    wanted = ipaddress.ip_network(network, strict=False)
    for rule in rules:
        if rule.get("type") not in ("host", "hostssl") or rule.get("method") != "scram-sha-256":
            continue
        if not {database, "all"} & set(_names(rule.get("database"))):
            continue
        if not {user, "all"} & set(_names(rule.get("user"))):
            continue
        address, netmask = rule.get("address"), rule.get("netmask")
        if address is None or netmask is None:
            continue
        covered = _masked(str(address), str(netmask))
        if covered is not None and covered.version == wanted.version and wanted.subnet_of(covered):  # type: ignore[arg-type]
            return True
    return False


# --- users --------------------------------------------------------------------------------------


def sudo_allowed(output: str) -> bool | None:
    """What ``sudo -l -U USER`` printed: may run commands (``True``), may not (``False``), or
    something else (``None``)."""
    if "is not allowed to run sudo" in output:
        return False
    if "may run the following commands" in output:
        return True
    return None


def key_of(line: str) -> tuple[str, str] | None:
    """``(type, base64)`` of a public key line, options and comment left out."""
    parts = line.split()
    for n, part in enumerate(parts[:-1]):
        if part.startswith(("ssh-", "ecdsa-", "sk-")):
            return part, parts[n + 1]
    return None


def has_key(authorized_keys: str, key: str) -> bool:
    """Whether an authorized_keys text holds ``key`` (type and key; comment and options aside)."""
    wanted = key_of(key)
    lines = (line for line in authorized_keys.splitlines() if not line.lstrip().startswith("#"))
    return wanted is not None and any(key_of(line) == wanted for line in lines)
