"""The composition root builds a run's phases and adapters from a site, and nothing before use."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.machines import ProviderMachines, StaticMachines
from orchestrator.adapters.prometheus_files import FilePrometheus
from orchestrator.engine.errors import BadInput, Refused
from orchestrator.engine.ports.host_records import RecordRef
from orchestrator.engine.ports.ipam import Kind
from orchestrator.engine.ports.machines import MachineRequest
from orchestrator.site import SecretUnavailable, load_site
from orchestrator.wiring import Wiring
from tests.unit.test_site import SITE, write


def wiring(tmp_path: Path, text: str = SITE) -> Wiring:
    return Wiring(load_site(write(tmp_path, text)), tmp_path / "state")


def test_the_phases_are_built_without_touching_netbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_SITE_NETBOX_TOKEN", raising=False)
    built = wiring(tmp_path)
    phases = built.phases()
    assert [p.number for p in phases] == [1, 2, 3, 4, 5, 6, 7]
    with pytest.raises(SecretUnavailable, match="TEST_SITE_NETBOX_TOKEN is not set"):
        _ = built.ipam  # the token is read only when NetBox is first used


def test_the_adapters_follow_the_site(tmp_path: Path) -> None:
    adapters = wiring(tmp_path).adapters
    assert adapters.management_networks == ("198.51.100.0/24",)
    assert isinstance(adapters.monitoring, FilePrometheus)
    assert adapters.monitoring.targets_dir() == Path("/srv/prometheus/targets")
    assert adapters.workspace.root == (tmp_path / "state").resolve() / "deliveries"
    variables = adapters.settings.variables()
    assert variables["base_time_ntp_servers"] == ["ntp1.example.net", "ntp2.example.net"]
    assert variables["upgrade_policy"] == {"new": "all", "existing": "security"}
    assert variables["scraper_networks"] == ["192.0.2.10/32"]


def test_only_the_providers_the_site_names_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_SITE_NETBOX_TOKEN", raising=False)
    built = wiring(tmp_path)
    machines = built.machines()
    assert isinstance(machines, ProviderMachines)
    static = machines.providers["static"]
    assert isinstance(static, StaticMachines)
    with pytest.raises(SecretUnavailable):  # its keys are the site's NetBox's, read when asked
        static.records()
    request = MachineRequest("db-01", "db", "192.0.2.20", "debian-12", "static",
                             record=RecordRef(Kind.VM, 12))  # fmt: skip
    with pytest.raises(SecretUnavailable):
        machines.ensure(request)
    with pytest.raises(Refused, match="no machine provider 'lab' here"):
        machines.ensure(MachineRequest("web-01", "web", "192.0.2.21", "debian-12", "lab"))


def test_an_unknown_or_incomplete_provider_is_bad_input(tmp_path: Path) -> None:
    unknown = wiring(tmp_path, SITE + "machines: {vmware: {}}\n")
    with pytest.raises(BadInput, match="no machine provider 'vmware'"):
        unknown.machines()
    lab = wiring(tmp_path, SITE + "machines: {lab: {}}\n")
    with pytest.raises(BadInput, match=r"machines\.lab needs `state` and `cache`"):
        lab.machines()
