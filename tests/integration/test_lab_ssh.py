"""paramiko reaches lab hosts and trusts only the host key recorded when each host was created."""

from __future__ import annotations

import paramiko
import pytest

from orchestrator.lab.hosts import LabHost
from orchestrator.lab.paths import LabPaths


def _client(known_hosts: paramiko.HostKeys) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    for host, keys in known_hosts.items():
        for key_type, key in keys.items():
            client.get_host_keys().add(host, key_type, key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    return client


def _connect(client: paramiko.SSHClient, host: LabHost, paths: LabPaths) -> None:
    client.connect(
        host.address,
        username="root",
        key_filename=str(paths.ssh_key),
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )


def test_connects_with_the_recorded_host_key(
    smoke_hosts: list[LabHost], lab_paths: LabPaths
) -> None:
    for host in smoke_hosts:
        client = _client(paramiko.HostKeys(str(lab_paths.known_hosts)))
        try:
            _connect(client, host, lab_paths)
            _, stdout, _ = client.exec_command("hostname")
            assert stdout.read().decode().strip() == host.name
            served = client.get_transport()
            assert served is not None
            assert served.get_remote_server_key().get_base64() == host.host_key.split()[1]
        finally:
            client.close()


def test_refuses_a_host_key_other_than_the_recorded_one(
    smoke_hosts: list[LabHost], lab_paths: LabPaths
) -> None:
    host = smoke_hosts[0]
    impostor = paramiko.HostKeys()
    impostor.add(host.address, "ssh-ed25519", paramiko.Ed25519Key.from_private_key_file(
        str(lab_paths.ssh_key)
    ))
    client = _client(impostor)
    try:
        with pytest.raises(paramiko.BadHostKeyException):
            _connect(client, host, lab_paths)
    finally:
        client.close()


def test_refuses_a_host_with_no_recorded_key(
    smoke_hosts: list[LabHost], lab_paths: LabPaths
) -> None:
    client = _client(paramiko.HostKeys())
    try:
        with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
            _connect(client, smoke_hosts[0], lab_paths)
    finally:
        client.close()
