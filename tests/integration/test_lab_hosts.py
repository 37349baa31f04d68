"""Lab hosts for real: nspawn containers on overlay roots, reached over SSH on the lab bridge.

These tests make their own hosts (``ith-*`` at ``10.213.2.2x``) beside any smoke hosts and remove
them at the end; they never touch hosts they did not make.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from orchestrator.lab import cgroups
from orchestrator.lab.addressing import BRIDGE, MIRROR_URL, netns_name, veth_name
from orchestrator.lab.errors import LabError
from orchestrator.lab.hosts import (
    HostDir,
    LabHost,
    create_host,
    destroy_host,
    host_status,
    nspawn_argv,
    reboot_outdated,
    sshd_answers,
)
from orchestrator.lab.mirror import PACKAGES
from orchestrator.lab.network import (
    attach_host,
    detach_host,
    lab_links,
    namespace_live,
    namespace_pids,
)
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.processes import (
    descendants,
    pid_alive,
    process_cmdline,
    start_detached,
    stop_tree,
)

pytestmark = pytest.mark.integration

CAP_NET_ADMIN = 12  # the capability's bit (linux/capability.h)
HOSTS = {"ith-a": "10.213.2.21", "ith-b": "10.213.2.22"}
SPARE = ("ith-c", "10.213.2.23")


@pytest.fixture(scope="module")
def paths() -> LabPaths:
    return LabPaths.from_env()


@pytest.fixture(scope="module")
def hosts(paths: LabPaths) -> Iterator[dict[str, LabHost]]:
    made = {name: create_host(name, ip, paths=paths) for name, ip in HOSTS.items()}
    yield made
    for name in made:
        destroy_host(name, paths=paths)


def _connect(host: LabHost, paths: LabPaths, known_hosts: Path) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        host.address,
        username="root",
        key_filename=str(paths.ssh_key),
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    return client


def _ssh(host: LabHost, paths: LabPaths, command: str) -> tuple[int, str]:
    client = _connect(host, paths, paths.known_hosts)
    try:
        _, stdout, stderr = client.exec_command(command, timeout=300)
        output = stdout.read().decode() + stderr.read().decode()
        return stdout.channel.recv_exit_status(), output
    finally:
        client.close()


def test_ssh_reaches_each_host_with_its_recorded_key(
    hosts: dict[str, LabHost], paths: LabPaths
) -> None:
    for name, host in hosts.items():
        client = _connect(host, paths, paths.known_hosts)
        try:
            transport = client.get_transport()
            assert transport is not None
            assert transport.get_remote_server_key().get_base64() == host.host_key.split()[1]
            _, stdout, _ = client.exec_command("hostname")
            assert stdout.read().decode().strip() == name
        finally:
            client.close()


def test_a_different_host_key_is_refused(
    hosts: dict[str, LabHost], paths: LabPaths, tmp_path: Path
) -> None:
    host = hosts["ith-a"]
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{host.address} {Path(f'{other}.pub').read_text()}")
    with pytest.raises(paramiko.BadHostKeyException):
        _connect(host, paths, wrong)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        _connect(host, paths, empty)


def test_hosts_reach_each_other_on_the_bridge(hosts: dict[str, LabHost], paths: LabPaths) -> None:
    code, output = _ssh(hosts["ith-a"], paths, f"ping -c 1 -W 2 {hosts['ith-b'].address}")
    assert code == 0, output


def test_apt_works_against_the_lab_mirror(hosts: dict[str, LabHost], paths: LabPaths) -> None:
    host = hosts["ith-b"]
    code, output = _ssh(host, paths, "apt-get update")
    assert code == 0, output
    assert MIRROR_URL in output
    code, output = _ssh(host, paths, f"apt-get install --simulate {' '.join(PACKAGES)}")
    assert code == 0, output
    code, output = _ssh(host, paths, "apt-get dist-upgrade --simulate")
    assert code == 0, output
    assert "Inst " in output  # the mirror carries updates of the image's own packages


def test_create_host_returns_a_healthy_host_as_is(
    hosts: dict[str, LabHost], paths: LabPaths
) -> None:
    name, ip = "ith-a", HOSTS["ith-a"]
    before = host_status(name, paths)
    assert create_host(name, ip, paths=paths) == hosts[name]
    after = host_status(name, paths)
    assert after["pid"] == before["pid"]
    assert after["running"]
    assert after["memory_bytes"] > 10 * 2**20


def test_create_host_refuses_a_taken_name_or_address(
    hosts: dict[str, LabHost], paths: LabPaths
) -> None:
    with pytest.raises(LabError, match="already exists"):
        create_host("ith-a", "10.213.2.99", paths=paths)
    with pytest.raises(LabError, match="already used"):
        create_host("ith-z", hosts["ith-b"].address, paths=paths)


def _mounts_under(folder: Path) -> list[str]:
    lines = Path("/proc/mounts").read_text().splitlines()
    return [line for line in lines if str(folder) in line.split()[1]]


def test_destroy_host_leaves_nothing_behind(paths: LabPaths) -> None:
    name, ip = SPARE
    create_host(name, ip, paths=paths)
    status = host_status(name, paths)
    assert status["pid"] is not None
    processes = descendants(status["pid"])
    assert len(processes) > 3

    destroy_host(name, paths=paths)

    assert not _mounts_under(paths.hosts / name)
    assert not (paths.hosts / name).exists()
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    assert veth_name(name) not in links.stdout
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    assert netns_name(name) not in namespaces.stdout
    assert not any(pid_alive(pid) for pid in processes)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert f"--machine={name}" not in ps.stdout
    assert ip not in paths.known_hosts.read_text()
    destroy_host(name, paths=paths)  # nothing left to do, no error


def test_create_host_repairs_a_host_whose_nspawn_was_killed(
    hosts: dict[str, LabHost], paths: LabPaths
) -> None:
    name = "ith-a"
    killed = host_status(name, paths)["pid"]
    assert killed is not None
    inside = namespace_pids(netns_name(name))
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(killed) and time.monotonic() < deadline:
        time.sleep(0.1)

    repaired = create_host(name, HOSTS[name], paths=paths)

    assert repaired == hosts[name]  # same root, same host key, same known_hosts line
    assert not any(pid_alive(pid) for pid in inside)
    assert host_status(name, paths)["pid"] not in (None, killed)
    code, output = _ssh(repaired, paths, "systemctl is-system-running --wait")
    assert (code, output.strip()) == (0, "running")


def test_a_host_an_older_lab_booted_with_other_options_is_booted_again(
    hosts: dict[str, LabHost], paths: LabPaths
) -> None:
    name = "ith-b"
    host = HostDir.of(paths, name)
    running = host_status(name, paths)["pid"]
    assert running is not None
    stop_tree(running)
    for pid in namespace_pids(netns_name(name)):
        stop_tree(pid, grace=0)
    older = [arg for arg in nspawn_argv(host) if arg != "--capability=CAP_NET_ADMIN"]
    booted = start_detached(older, paths.logs / f"{name}.console.log", host.pid_file)
    deadline = time.monotonic() + 60
    while not sshd_answers(HOSTS[name]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert host_status(name, paths)["pid"] == booted
    assert not host_status(name, paths)["current"]

    assert reboot_outdated(paths) == [name]  # what lab up does; create_host does the same

    again = create_host(name, HOSTS[name], paths=paths)
    assert again == hosts[name]  # same root, same host key
    rebooted = host_status(name, paths)["pid"]
    assert rebooted is not None
    assert rebooted != booted
    assert process_cmdline(rebooted) == nspawn_argv(host)
    assert host_status(name, paths)["current"]
    code, output = _ssh(again, paths, "grep CapEff /proc/1/status")
    assert code == 0
    assert int(output.split()[1], 16) & 1 << CAP_NET_ADMIN  # it may load its firewall


def test_each_host_runs_in_a_control_group_of_its_own(
    hosts: dict[str, LabHost], paths: LabPaths
) -> None:
    # one shared group made the hosts' systemds collide on each other's units (219/CGROUP)
    inits = {name: descendants(host_status(name, paths)["pid"] or 0) for name in hosts}
    groups = {}
    for name, pids in inits.items():
        assert pids, name
        assert all(cgroups.in_group(pid, name) for pid in pids), name
        groups[name] = {Path(f"/proc/{pid}/cgroup").read_text() for pid in pids}
    assert groups["ith-a"].isdisjoint(groups["ith-b"])


def test_a_boot_timeout_is_a_lab_error_and_the_next_call_repairs(paths: LabPaths) -> None:
    name, ip = "ith-d", "10.213.2.24"
    try:
        with pytest.raises(LabError) as caught:
            create_host(name, ip, paths=paths, timeout=0.0)
        assert str(paths.logs / f"{name}.console.log") in caught.value.hint
        assert not host_status(name, paths)["running"]
        assert create_host(name, ip, paths=paths).address == ip
    finally:
        destroy_host(name, paths=paths)


def test_the_bridge_forwards_nothing_off_the_machine(hosts: dict[str, LabHost]) -> None:
    assert hosts
    bridge = Path("/proc/sys/net/ipv4/conf") / BRIDGE / "forwarding"
    assert bridge.read_text().strip() == "0"
    ports = subprocess.run(
        ["ip", "-o", "link", "show", "master", BRIDGE], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert ports
    assert all(line.split(":")[1].strip().split("@")[0] in lab_links() for line in ports)


def _hold_address(name: str, ip: str) -> None:
    """What a host of an earlier session (another state folder) leaves once its processes are
    gone: its namespace, wired to the bridge with its address, and no record here."""
    attach_host(name, ip)
    assert namespace_live(netns_name(name))


def _refused(ip: str) -> None:
    try:
        with socket.create_connection((ip, 22), timeout=10):
            pytest.fail(f"nothing listens at {ip}")
    except ConnectionRefusedError:
        return


def test_a_namespace_left_holding_the_address_is_removed_and_the_host_answers(
    paths: LabPaths,
) -> None:
    (stale, ip), name = ("ith-stale", "10.213.2.25"), "ith-e"
    try:
        _hold_address(stale, ip)
        _refused(ip)  # the controller now has the stale namespace's answer for ``ip``
        assert create_host(name, ip, paths=paths, timeout=30).address == ip
        assert not namespace_live(netns_name(stale))
        assert sshd_answers(ip)
    finally:
        destroy_host(name, paths=paths)
        detach_host(stale)


def test_a_live_namespace_holding_the_address_is_refused_and_left_alone(paths: LabPaths) -> None:
    (other, ip), name = ("ith-live", "10.213.2.26"), "ith-f"
    _hold_address(other, ip)
    inside = subprocess.Popen(["ip", "netns", "exec", netns_name(other), "sleep", "300"])
    try:
        deadline = time.monotonic() + 10
        while not namespace_pids(netns_name(other)) and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(LabError, match=f"address {ip} is held by lab namespace") as caught:
            create_host(name, ip, paths=paths, timeout=30)
        assert "destroy that host" in caught.value.hint
        assert namespace_live(netns_name(other))
        assert inside.poll() is None
    finally:
        inside.kill()
        inside.wait()
        destroy_host(name, paths=paths)
        detach_host(other)
