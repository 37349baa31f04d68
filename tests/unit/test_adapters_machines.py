"""Machine providers: the spec's provider picks the adapter; lab errors are translated by type."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.machines import ProviderMachines, StaticMachines
from orchestrator.engine import BadInput, Refused, TimedOut
from orchestrator.engine.ports.machines import MachineRequest
from orchestrator.lab.errors import HostBootTimeout, LabError, UnsafeTarget
from orchestrator.lab.hosts import LabHost
from orchestrator.lab.machines import LabMachines, lab_machines
from orchestrator.lab.paths import LabPaths

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
    machines = ProviderMachines({"lab": lab, "static": StaticMachines()})
    static = MachineRequest("db-01", "db", "10.213.200.20", "debian-12", "static")
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
