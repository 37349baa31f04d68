"""How the SSH adapters log in: the route through the jump hosts, and what OpenSSH is told."""

from __future__ import annotations

from pathlib import Path

from orchestrator.adapters.ssh_access import (
    Hop,
    SshAccess,
    jump_known_hosts,
    jump_ssh_config,
    known_hosts_name,
    proxy_jump,
    route,
)

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T"
OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM7ivAnno65GdkRODERguDepSw/tem4Jg73zA7b+0xlR"
JUMPS = (Hop("198.51.100.5", 22, "jump", KEY), Hop("bastion2.example.net", 2222, "ops", OTHER))


def test_the_route_is_the_jump_hosts_outermost_first_then_the_target() -> None:
    access = SshAccess(user="deploy", port=2200, become=True, jump_hosts=JUMPS)
    hops = route(access, "10.213.200.11", KEY)
    assert hops == (*JUMPS, Hop("10.213.200.11", 2200, "deploy", KEY))
    assert route(SshAccess(), "10.213.200.11") == (Hop("10.213.200.11", 22, "root", None),)


def test_proxyjump_names_each_hop_with_its_user_and_port() -> None:
    assert proxy_jump(SshAccess()) == ""
    assert proxy_jump(SshAccess(jump_hosts=JUMPS)) == (
        "jump@198.51.100.5:22,ops@bastion2.example.net:2222"
    )
    v6 = SshAccess(jump_hosts=(Hop("2001:db8::1", 22, "jump", KEY),))
    assert proxy_jump(v6) == "jump@[2001:db8::1]:22"


def test_a_host_on_another_port_has_the_name_openssh_looks_it_up_by() -> None:
    assert known_hosts_name("10.213.200.11", 22) == "10.213.200.11"
    assert known_hosts_name("10.213.200.11", 2222) == "[10.213.200.11]:2222"
    assert jump_known_hosts(SshAccess(jump_hosts=JUMPS)) == (
        f"198.51.100.5 {KEY}\n[bastion2.example.net]:2222 {OTHER}\n"
    )


def test_the_jump_hops_config_checks_their_keys_strictly_and_names_our_key() -> None:
    access = SshAccess(key=Path("/keys/my key"), jump_hosts=JUMPS, connect_timeout=12.0)
    lines = [
        line.strip() for line in jump_ssh_config(access, Path("/d/jump_known_hosts")).splitlines()
    ]
    assert lines[1] == "Host *"
    assert {
        "BatchMode yes",
        "StrictHostKeyChecking yes",
        'UserKnownHostsFile "/d/jump_known_hosts"',
        "GlobalKnownHostsFile /dev/null",
        "UpdateHostKeys no",
        "ConnectTimeout 12",
        "IdentitiesOnly yes",
        'IdentityFile "/keys/my key"',
    } <= set(lines)
    with_agent = jump_ssh_config(SshAccess(jump_hosts=JUMPS), Path("/d/jump_known_hosts"))
    assert "Identit" not in with_agent  # ssh offers the agent's keys
