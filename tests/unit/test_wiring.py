"""The composition root builds a run's phases and adapters from a site, and nothing before use."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from structlog.testing import capture_logs

from orchestrator.adapters.ansible import AnsibleRunnerPlaybooks
from orchestrator.adapters.machines import ProviderMachines, StaticMachines
from orchestrator.adapters.prometheus_files import FilePrometheus
from orchestrator.adapters.ssh import ParamikoProbe
from orchestrator.adapters.ssh_access import Hop
from orchestrator.adapters.vault import FernetVault
from orchestrator.engine.delivery import Delivery, delivery_from_spec
from orchestrator.engine.errors import BadInput, Refused, SharedStateError
from orchestrator.engine.ports.host_records import RecordRef
from orchestrator.engine.ports.ipam import Kind
from orchestrator.engine.ports.machines import MachineRequest
from orchestrator.site import SecretUnavailable, load_site
from orchestrator.spec.loader import parse_spec
from orchestrator.testing import InMemoryRunStore
from orchestrator.wiring import Wiring, ssh_access
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


SHARED = SITE + "shared_state: {key: env:TEST_SITE_STATE_KEY}\n"


def test_with_a_key_every_controller_on_the_store_sees_the_same_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SITE_STATE_KEY", Fernet.generate_key().decode())
    store = InMemoryRunStore()
    site = load_site(write(tmp_path, SHARED))
    first = Wiring(site, tmp_path / "first").using(store).adapters.workspace
    second = Wiring(site, tmp_path / "second").using(store).workspace
    assert isinstance(first.vault, FernetVault)
    assert second.secret("acme", "db_password") == first.secret("acme", "db_password")
    assert "TEST_SITE_STATE_KEY" in repr(first.vault)  # the reference, never the key


def test_the_state_key_is_read_only_when_the_workspace_is_first_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_SITE_STATE_KEY", raising=False)
    built = Wiring(load_site(write(tmp_path, SHARED)), tmp_path).using(InMemoryRunStore())
    assert len(built.phases()) == 7
    with pytest.raises(SecretUnavailable, match="TEST_SITE_STATE_KEY is not set"):
        _ = built.workspace


def test_a_key_that_is_not_a_fernet_key_is_named_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SITE_STATE_KEY", "hunter2-not-a-key")
    built = Wiring(load_site(write(tmp_path, SHARED)), tmp_path).using(InMemoryRunStore())
    with pytest.raises(SharedStateError) as refused:
        _ = built.workspace
    assert str(refused.value).startswith("shared_state.key (env:TEST_SITE_STATE_KEY)")
    assert "hunter2" not in str(refused.value)


def test_without_a_key_state_stays_local_with_one_warning(tmp_path: Path) -> None:
    built = wiring(tmp_path).using(InMemoryRunStore())
    with capture_logs() as logs:
        assert built.adapters.workspace is built.workspace
        assert not built.workspace.shared
    warnings = [e for e in logs if e["event"] == "state_kept_locally"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"
    assert "the site has no shared_state.key" in warnings[0]["why"]


def test_a_key_without_a_store_keeps_state_local_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SITE_STATE_KEY", Fernet.generate_key().decode())
    with capture_logs() as logs:
        assert not Wiring(load_site(write(tmp_path, SHARED)), tmp_path).workspace.shared
    assert "no run store was given" in logs[0]["why"]


JUMP_SITE = SITE.replace(
    "  key: /home/deploy/.ssh/id_ed25519\n",
    "  port: 2222\n"
    "  jump_hosts:\n"
    "    - host: bastion.example.net\n"
    "      user: jump\n"
    "      host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA\n"
    "  connect_timeout: 12\n",
)


def test_the_probe_and_ansible_log_in_the_same_way_the_site_says(tmp_path: Path) -> None:
    adapters = wiring(tmp_path).adapters
    assert isinstance(adapters.probe, ParamikoProbe)
    assert isinstance(adapters.playbooks, AnsibleRunnerPlaybooks)
    access = adapters.probe.access
    assert adapters.playbooks.settings.access == access
    assert (access.user, access.become, access.port) == ("deploy", True, 22)
    assert access.key == Path("/home/deploy/.ssh/id_ed25519")
    assert access.agent is None


def test_without_a_key_file_the_agent_of_the_environment_is_used(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, JUMP_SITE))
    access = ssh_access(site.ssh, {"SSH_AUTH_SOCK": "/run/user/1000/agent.sock"})
    assert access.key is None
    assert access.agent == Path("/run/user/1000/agent.sock")
    assert access.port == 2222
    assert access.connect_timeout == 12.0
    assert access.jump_hosts == (
        Hop("bastion.example.net", 22, "jump", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"),
    )
    assert ssh_access(site.ssh, {}).agent is None  # the probe refuses that: no usable key
    with_key = load_site(write(tmp_path, SITE)).ssh
    assert ssh_access(with_key, {"SSH_AUTH_SOCK": "/run/agent.sock"}).agent is None
    assert wiring(tmp_path, JUMP_SITE).adapters.probe  # a site without a key file is no error


SMALL = Path(__file__).parents[2] / "examples" / "small.yaml"


def _small(*, placed: bool, prefix_length: int = 29) -> Delivery:
    text = SMALL.read_text().replace("prefix_length: 29", f"prefix_length: {prefix_length}")
    if not placed:
        for line in (
            "  site: lab\n",
            "  vlan_group: lab-vlans\n",
            "  parent_prefix: 10.213.128.0/17\n",
        ):
            text = text.replace(line, "")
    return delivery_from_spec(parse_spec(text, "small.yaml"))


def test_a_spec_that_leaves_its_place_out_lands_where_the_site_says(tmp_path: Path) -> None:
    built = wiring(tmp_path)
    placed = built.complete(_small(placed=False))
    assert placed.spec is not None
    net = placed.spec.network
    assert (net.site, net.vlan_group, str(net.parent_prefix)) == (
        "ams1", "ams1-customers", "192.0.2.0/24",
    )  # fmt: skip
    own = _small(placed=True)
    assert built.complete(own) is own  # a spec that names its place keeps it


def test_a_spec_that_does_not_fit_the_sites_prefix_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as refused:
        wiring(tmp_path).complete(_small(placed=False, prefix_length=20))
    message = str(refused.value)
    assert message.startswith("with the site's network.site ams1, ")
    assert "network.prefix_length: must be > 24" in message
