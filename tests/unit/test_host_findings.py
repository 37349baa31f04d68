"""Reading what hosts say (``orchestrator.adapters.host_findings``): captured output in, findings
out; SCRAM against RFC 7677's own example."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json

import pytest

from orchestrator.adapters.host_findings import (
    chain_policy,
    has_key,
    hba_covers,
    listeners,
    nft_items,
    scram_keys,
    scram_matches,
    ssh_sources,
    sudo_allowed,
    within,
)
from tests.integration.phase23_support import FEMKE_KEY, JORIS_KEY

SOCKETS = ["tcp://0.0.0.0:22", "tcp://:::22", "tcp://10.213.128.6:80", "tcp://127.0.0.1:5432",
           "tcp://:::9100"]  # fmt: skip


def test_listeners_on_every_address_or_on_the_one_asked_for() -> None:
    assert listeners(SOCKETS, "tcp", 22, None) == ["0.0.0.0:22", "[::]:22"]
    assert listeners(SOCKETS, "tcp", 9100, None) == ["[::]:9100"]
    assert listeners(SOCKETS, "tcp", 80, None) == []  # only on the VIP
    assert listeners(SOCKETS, "tcp", 80, "10.213.128.6") == ["10.213.128.6:80"]
    assert listeners(SOCKETS, "tcp", 5432, None) == []  # loopback only
    assert listeners(SOCKETS, "udp", 22, None) == []


def _rule(*expr: object) -> dict[str, object]:
    return {"rule": {"family": "inet", "table": "filter", "chain": "input", "expr": list(expr)}}


def _match(left: object, right: object, op: str = "==") -> dict[str, object]:
    return {"match": {"op": op, "left": left, "right": right}}


def _payload(protocol: str, name: str) -> dict[str, object]:
    return {"payload": {"protocol": protocol, "field": name}}


ACCEPT = {"accept": None}
CHAIN = {"chain": {"family": "inet", "table": "filter", "name": "input", "policy": "drop"}}
BASELINE = json.dumps({"nftables": [
    {"metainfo": {"version": "1.0.6"}},
    CHAIN,
    _rule(_match({"ct": {"key": "state"}}, ["established", "related"], "in"), ACCEPT),
    _rule(_match({"meta": {"key": "iif"}}, "lo"), ACCEPT),
    _rule(_match({"meta": {"key": "l4proto"}}, {"set": ["icmp", "ipv6-icmp"]}), ACCEPT),
    _rule(_match(_payload("ip", "saddr"), "10.213.0.1"), _match(_payload("tcp", "dport"), 22),
          ACCEPT),
    _rule(_match(_payload("ip", "saddr"), {"prefix": {"addr": "10.213.0.0", "len": 24}}),
          _match(_payload("tcp", "dport"), {"set": [9100]}), ACCEPT),
    _rule(_match(_payload("tcp", "dport"), {"set": [80, 443]}), ACCEPT),
]})  # fmt: skip


def test_the_baseline_drops_and_takes_ssh_only_from_the_management_network() -> None:
    items = nft_items(BASELINE)
    assert chain_policy(items) == "drop"
    assert ssh_sources(items) == [ipaddress.ip_network("10.213.0.1/32")]


@pytest.mark.parametrize(
    ("rule", "source"),
    [
        (_rule(_match(_payload("tcp", "dport"), 22), ACCEPT), "0.0.0.0/0"),
        (_rule(_match(_payload("tcp", "dport"), {"set": [{"range": [20, 30]}]}), ACCEPT),
         "0.0.0.0/0"),
        (_rule(ACCEPT), "0.0.0.0/0"),
        (_rule(_match(_payload("ip", "saddr"), {"set": ["10.1.0.0/16"]}), ACCEPT), "10.1.0.0/16"),
    ],
)  # fmt: skip
def test_rules_that_open_ssh_to_others_are_found(rule: object, source: str) -> None:
    items = [*nft_items(BASELINE), rule]
    found = ssh_sources(items)  # type: ignore[arg-type]
    assert ipaddress.ip_network(source) in found
    assert not all(within(n, ["10.213.0.1/32"]) for n in found)


def test_no_chain_listed_has_no_policy() -> None:
    assert chain_policy(nft_items(json.dumps({"nftables": []}))) is None


# RFC 7677, section 3: user "user", password "pencil".
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
AUTH = (b"n=user,r=rOprNGfwEbeRWgbNEkqO,"
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")  # fmt: skip
PROOF = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
SERVER_SIGNATURE = base64.b64decode("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")


def _verifier(password: str) -> str:
    stored, server = scram_keys(password, SALT, 4096)
    b64 = base64.b64encode
    return f"SCRAM-SHA-256$4096:{b64(SALT).decode()}${b64(stored).decode()}:{b64(server).decode()}"


def test_scram_keys_are_rfc_7677s() -> None:
    stored, server = scram_keys("pencil", SALT, 4096)
    assert hmac.new(server, AUTH, hashlib.sha256).digest() == SERVER_SIGNATURE
    signature = hmac.new(stored, AUTH, hashlib.sha256).digest()
    client_key = bytes(a ^ b for a, b in zip(PROOF, signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored


def test_a_verifier_matches_its_password_only() -> None:
    verifier = _verifier("pencil")
    assert scram_matches(verifier, "pencil")
    assert not scram_matches(verifier, "pencil2")
    assert not scram_matches("md5" + "0" * 32, "pencil")
    assert not scram_matches("", "pencil")
    assert not scram_matches("SCRAM-SHA-256$4096:!!!$x:y", "pencil")


HBA: list[dict[str, object]] = [
    {"type": "local", "database": ["all"], "user": ["postgres"], "address": None,
     "netmask": None, "method": "peer"},
    {"type": "host", "database": ["all"], "user": ["all"], "address": "::1",
     "netmask": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "method": "scram-sha-256"},
    {"type": "host", "database": ["all"], "user": ["all"], "address": "samehost",
     "netmask": None, "method": "scram-sha-256"},
    {"type": "host", "database": ["shop"], "user": ["shop"], "address": "10.213.128.0",
     "netmask": "255.255.255.240", "method": "scram-sha-256"},
    {"type": "host", "database": ["all"], "user": ["all"], "address": "10.213.0.1",
     "netmask": "255.255.255.255", "method": "md5"},
]  # fmt: skip


def test_pg_hba_rules_cover_a_network_for_the_user_and_database_with_scram() -> None:
    assert hba_covers(HBA, "shop", "shop", "10.213.128.0/28")
    assert hba_covers(HBA, "shop", "shop", "10.213.128.4/32")
    assert not hba_covers(HBA, "shop", "shop", "10.213.128.0/24")  # wider than the rule
    assert not hba_covers(HBA, "other", "shop", "10.213.128.0/28")
    assert not hba_covers(HBA, "shop", "shop", "10.213.0.1/32")  # md5 only
    assert hba_covers(HBA, "shop", "shop", "::1/128")  # an IPv6 rule's netmask is read too


def test_sudo_listing_says_yes_no_or_something_else() -> None:
    assert sudo_allowed("User joris may run the following commands on web:\n (ALL) ALL") is True
    assert sudo_allowed("User femke is not allowed to run sudo on web.") is False
    assert sudo_allowed("sudo: unknown user femke") is None


def test_authorized_keys_hold_a_key_whatever_its_comment_and_options() -> None:
    blob = JORIS_KEY.split()[1]
    text = f"# keys\nrestrict,pty ssh-ed25519 {blob} other comment\n"
    assert has_key(text, JORIS_KEY)
    assert not has_key(text, FEMKE_KEY)
    assert not has_key(f"# ssh-ed25519 {blob}\n", JORIS_KEY)
    assert not has_key("", JORIS_KEY)
