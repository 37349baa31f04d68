"""Machine providers: the spec's provider picks the adapter; lab errors are translated by type."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.machines import ProviderMachines, StaticMachines
from orchestrator.engine import BadInput, Refused, TimedOut
from orchestrator.engine.errors import HostKeyUnrecorded
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD, RecordRef
from orchestrator.engine.ports.ipam import Kind
from orchestrator.engine.ports.machines import MachineRequest
from orchestrator.lab.errors import HostBootTimeout, LabError, UnsafeTarget
from orchestrator.lab.hosts import LabHost
from orchestrator.lab.machines import LabMachines, lab_machines
from orchestrator.lab.paths import LabPaths
from orchestrator.testing import InMemoryHostRecords, InMemoryIpam

REQUEST = MachineRequest("web-01", "web", "10.213.200.11", "debian-12", "lab", ("10.213.200.100",))


def _lab(tmp_path: Path, error: LabError | None = None) -> tuple[LabMachines, list[str]]:
    added: list[str] = []

    def create(name: str, address: str) -> LabHost:
        if error is not None:
            raise error
        return LabHost(name, address, "ssh-ed25519 AAAA")

    paths = LabPaths(tmp_path / "state", tmp_path / "cache")
    return LabMachines(paths, create=create, add_address=lambda _n, a: added.append(a)), added


def test_lab_machines_bring_up_the_host_with_its_vip(tmp_path: Path) -> None:
    lab, added = _lab(tmp_path)
    machine = lab.ensure(REQUEST)
    assert (machine.address, machine.host_key, machine.owns_kernel) == (
        "10.213.200.11", "ssh-ed25519 AAAA", False,
    )  # fmt: skip
    assert machine.created
    assert added == ["10.213.200.100"]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (UnsafeTarget("8.8.8.8 is outside the lab prefix"), Refused),
        (HostBootTimeout("lab host web-01 gave no SSH banner on 10.213.200.11 in 120 s"), TimedOut),
        (LabError("address 10.213.200.11 is already used by lab host x"), Refused),
    ],
)
def test_lab_errors_are_translated(
    tmp_path: Path, error: LabError, expected: type[Exception]
) -> None:
    lab, _ = _lab(tmp_path, error)
    with pytest.raises(expected):
        lab.ensure(REQUEST)


def test_an_image_the_lab_does_not_have_is_refused(tmp_path: Path) -> None:
    lab, _ = _lab(tmp_path)
    with pytest.raises(Refused, match="no image"):
        lab.ensure(MachineRequest("x", "web", "10.213.200.9", "windows-2022", "lab"))


def test_the_provider_named_in_the_spec_is_used(tmp_path: Path) -> None:
    lab, _ = _lab(tmp_path)
    ipam = InMemoryIpam()
    vm = ipam.existing_server(Kind.VM, "db-01", "10.213.200.20/24", {HOST_KEY_FIELD: KEY})
    static_machines = StaticMachines(lambda: InMemoryHostRecords(ipam))
    machines = ProviderMachines({"lab": lab, "static": static_machines})
    static = MachineRequest("db-01", "db", "10.213.200.20", "debian-12", "static",
                            record=RecordRef(Kind.VM, vm))  # fmt: skip
    assert machines.ensure(static).provider == "static"
    assert machines.ensure(REQUEST).provider == "lab"
    with pytest.raises(Refused, match="no machine provider 'vmware'"):
        machines.ensure(MachineRequest("x", "web", "10.213.200.9", "debian-12", "vmware"))


def test_a_lab_provider_can_give_new_hosts_a_deploy_user(tmp_path: Path) -> None:
    key = tmp_path / "deploy.pub"
    key.write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T d\n"
    )
    folders = {"state": str(tmp_path / "state"), "cache": str(tmp_path / "cache")}
    assert lab_machines(folders).user is None
    made = lab_machines({**folders, "user": "deploy", "user_key": str(key)})
    assert made.user == ("deploy", key.read_text().strip())
    with pytest.raises(BadInput, match="both `user` and `user_key`"):
        lab_machines({**folders, "user": "deploy"})
    with pytest.raises(BadInput, match="cannot read"):
        lab_machines({**folders, "user": "deploy", "user_key": str(tmp_path / "missing.pub")})


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T"


type Static = tuple[StaticMachines, MachineRequest]


def _static(recorded: str | None, kind: Kind = Kind.DEVICE) -> Static:
    ipam = InMemoryIpam()
    server = ipam.existing_server(kind, "db-01", "192.0.2.20/24", {HOST_KEY_FIELD: recorded})
    request = MachineRequest("db-01", "db", "192.0.2.20", "debian-12", "static",
                             record=RecordRef(kind, server))  # fmt: skip
    return StaticMachines(lambda: InMemoryHostRecords(ipam)), request


@pytest.mark.parametrize(
    "recorded", [KEY, f"{KEY} root@db-01", f"\n{KEY} root@db-01\nssh-rsa AAAAB3Nza root@db-01\n"]
)
def test_a_static_server_must_show_the_key_netbox_records(recorded: str) -> None:
    machines, request = _static(recorded)
    machine = machines.ensure(request)
    assert (machine.host_key, machine.created, machine.address) == (KEY, False, "192.0.2.20")


@pytest.mark.parametrize("recorded", [None, "", "  \n"])
def test_a_static_server_without_a_recorded_key_is_refused_saying_how_to_record_it(
    recorded: str | None,
) -> None:
    machines, request = _static(recorded, Kind.VM)
    with pytest.raises(HostKeyUnrecorded) as refused:
        machines.ensure(request)
    message = str(refused.value)
    assert "NetBox VM #" in message
    assert f"custom field {HOST_KEY_FIELD}" in message
    assert "never trusted on first use" in message
    assert "cat /etc/ssh/ssh_host_ed25519_key.pub" in message
    assert "out of band" in message


def test_a_static_server_phase_1_did_not_adopt_is_refused_without_reading_netbox() -> None:
    def unreadable() -> InMemoryHostRecords:
        raise AssertionError("NetBox was read")

    request = MachineRequest("db-01", "db", "192.0.2.20", "debian-12", "static")
    with pytest.raises(Refused, match="phase 1 recorded no NetBox VM or device"):
        StaticMachines(unreadable).ensure(request)
