"""``TestinfraChecks`` without hosts: the inventory variables it adds become testinfra's ssh
command with the pinned keys checked strictly (through testinfra's own ``get_ansible_host``,
which connects nowhere), an environment that would override them is refused, ssh's failures are
told from a check's, and results are censored."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path
from typing import Any

import pytest
from testinfra.backend.base import CommandResult
from testinfra.utils.ansible_runner import get_ansible_host

from orchestrator.adapters.ssh_access import Hop, SshAccess
from orchestrator.adapters.testinfra_checks import (
    NotAsPinned,
    TestinfraChecks,
    checked_backend,
    connection,
    ssh_failure,
    with_connection,
)
from orchestrator.engine.ports.platform_checks import Check, ChecksRun

KEY = Path("/keys/id_ed25519")
PINS = Path("/state/deliveries/acme/known_hosts")
JUMP = Hop("10.213.1.40", 22, "jump", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6Xcv")


def _listed(variables: dict[str, Any]) -> dict[str, Any]:
    """What ``ansible-inventory --list`` makes of one host with ``variables``."""
    return {"_meta": {"hostvars": {"web-01": {"ansible_host": "10.213.128.3", **variables}}},
            "all": {"children": ["web"]}, "web": {"hosts": ["web-01"]}}  # fmt: skip


def _ssh_command(access: SshAccess, tmp_path: Path) -> tuple[Any, list[str]]:
    conn = connection(access, PINS, tmp_path)
    host = get_ansible_host(configparser.ConfigParser(), _listed(conn.variables), "web-01")
    cmd, args = host.backend._build_ssh_command("true")  # noqa: SLF001 - what ssh is given
    return host, shlex.split(" ".join(cmd) % tuple(shlex.quote(a) for a in args))


def test_the_pinned_keys_are_checked_strictly_by_testinfras_ssh(tmp_path: Path) -> None:
    access = SshAccess(user="deploy", port=2222, key=KEY, become=True, connect_timeout=7)
    host, argv = _ssh_command(access, tmp_path)
    assert argv[0] == "ssh"
    options = " ".join(argv)
    for wanted in (f"UserKnownHostsFile={PINS}", "StrictHostKeyChecking=yes", "BatchMode=yes",
                   f"ControlPath={tmp_path}/%C", "ConnectTimeout=7", "User=deploy", "Port=2222",
                   f"-i {KEY}", "IdentitiesOnly=yes"):  # fmt: skip
        assert wanted in options, wanted
    assert argv[-2:] == ["10.213.128.3", "true"]
    assert host.backend.get_command("true") == "sudo -u root /bin/sh -c true"  # become
    assert checked_backend(host, access, connection(access, PINS, tmp_path)) is host


def test_jump_hosts_go_through_proxyjump_with_their_own_config(tmp_path: Path) -> None:
    access = SshAccess(user="root", key=KEY, jump_hosts=(JUMP,))
    _host, argv = _ssh_command(access, tmp_path)
    options = " ".join(argv)
    assert "ProxyJump=jump@10.213.1.40:22" in options
    assert f"-F {PINS.with_name('jump_ssh_config')}" in options


def test_an_environment_overriding_the_pins_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    access = SshAccess(user="root", key=KEY)
    conn = connection(access, PINS, tmp_path)
    monkeypatch.setenv("ANSIBLE_SSH_COMMON_ARGS", "-o StrictHostKeyChecking=no")
    host = get_ansible_host(configparser.ConfigParser(), _listed(conn.variables), "web-01")
    with pytest.raises(NotAsPinned, match="ssh options"):
        checked_backend(host, access, conn)


def test_the_connection_goes_into_every_hosts_variables_leaving_the_inventory_alone() -> None:
    inventory: dict[str, Any] = {"all": {"vars": {"delivery": "acme"}, "children": {}}}
    conn = connection(SshAccess(), PINS, Path("/tmp/x"))  # noqa: S108 - a name, nothing made
    merged: Any = with_connection(inventory, conn)
    assert merged["all"]["vars"]["delivery"] == "acme"
    assert merged["all"]["vars"]["ansible_ssh_common_args"] == conn.common_args
    assert "ansible_ssh_common_args" not in inventory["all"]["vars"]


def test_ssh_failures_are_told_from_other_errors() -> None:
    down = CommandResult(None, 255, b"ssh", "", "ssh: connect to host 10.0.0.1: refused\n")
    assert ssh_failure(RuntimeError(down)) == "ssh: connect to host 10.0.0.1: refused"
    other = CommandResult(None, 1, b"x", "", "")
    assert ssh_failure(RuntimeError(other)) is None
    assert ssh_failure(RuntimeError("Unable to determine state of nginx")) is None
    assert ssh_failure(ValueError("x")) is None


def test_an_inventory_ansible_cannot_read_fails_every_check(tmp_path: Path) -> None:
    checks = (Check("web-01", "user root", "user", "exists", {"name": "root"}),)
    request = ChecksRun({"all": "not an inventory"}, tmp_path / "known_hosts", checks)
    (result,) = TestinfraChecks(SshAccess(key=KEY)).run(request)
    assert not result.passed
    assert result.found.startswith(("could not check:", "unreachable:"))
