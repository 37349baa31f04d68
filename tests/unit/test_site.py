"""The site file: chosen by option, environment or spec; errors at file:line; secrets as refs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.engine.errors import BadInput
from orchestrator.site import NoSite, SecretRef, SecretUnavailable, SiteError, load_site, site_path
from orchestrator.site.secrets import Secret

SITE = """\
name: ams1
netbox:
  url: https://netbox.example.net
  token: env:TEST_SITE_NETBOX_TOKEN
  site: ams1
  vlan_group: ams1-customers
  parent_prefix: 192.0.2.0/24
  clusters: {static: ams1-vms}
ssh:
  user: deploy
  become: true
  key: /home/deploy/.ssh/id_ed25519
host_defaults:
  ntp_servers: [ntp1.example.net, ntp2.example.net]
monitoring:
  targets: {path: /srv/prometheus/targets}
  rules: {path: /srv/prometheus/rules}
  prometheus_url: http://prometheus.example.net:9090
  blackbox: prometheus.example.net:9115
  scraper_networks: [192.0.2.10/32]
management_networks: [198.51.100.0/24]
"""


def write(tmp_path: Path, text: str = SITE, name: str = "ams1.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SiteError) as caught:
        load_site(path)
    return [str(p) for p in caught.value.problems]


def test_a_site_file_loads_with_its_defaults(tmp_path: Path) -> None:
    site = load_site(write(tmp_path))
    assert site.name == "ams1"
    assert str(site.netbox.token) == "env:TEST_SITE_NETBOX_TOKEN"
    assert site.netbox.gateway_addresses == 1
    assert site.netbox.interface == "eth0"
    assert site.host_defaults.upgrades.existing_hosts == "security"
    assert site.cluster_for("static") == "ams1-vms"
    assert site.cluster_for("lab") is None
    assert site.firewall_networks() == ("198.51.100.0/24", "192.0.2.10/32")


def test_problems_name_the_file_the_line_and_the_field(tmp_path: Path) -> None:
    text = SITE.replace("become: true", "becom: true").replace(
        "token: env:TEST_SITE_NETBOX_TOKEN", "token: nbt_0123456789ab.secretsecret"
    )
    path = write(tmp_path, text)
    found = problems(path)
    assert f"{path}:4: netbox.token: must be a reference" in found[0]
    assert found[1] == f"{path}:11: ssh.becom: unknown key (did you mean 'become'?)"
    assert not any("nbt_0123456789ab" in line for line in found)


def test_a_non_root_user_needs_sudo(tmp_path: Path) -> None:
    path = write(tmp_path, SITE.replace("  become: true\n", ""))
    assert problems(path) == [f"{path}:9: ssh: a user other than root needs `become: true` (sudo)"]


def test_the_environment_overrides_the_file_and_is_named_in_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path)
    monkeypatch.setenv("ORCHESTRATOR_SITE__NETBOX__TIMEOUT", "5")
    monkeypatch.setenv("ORCHESTRATOR_SITE__MANAGEMENT_NETWORKS", "[10.9.0.0/16]")
    site = load_site(path)
    assert site.netbox.timeout == 5.0
    assert [str(n) for n in site.management_networks] == ["10.9.0.0/16"]
    monkeypatch.setenv("ORCHESTRATOR_SITE__NETBOX__TIMEOUT", "soon")
    expected = "ORCHESTRATOR_SITE__NETBOX__TIMEOUT: netbox.timeout: must be a number"
    assert problems(path) == [expected]


def test_an_option_overrides_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_SITE__NETBOX__TIMEOUT", "5")
    site = load_site(write(tmp_path), {"netbox.timeout": 7})
    assert site.netbox.timeout == 7.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("- a\n- b\n", "must be a mapping of keys"),
        ("name: [\n", "invalid YAML"),
    ],
)
def test_files_that_are_not_a_site(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problems(write(tmp_path, text))[0]


def test_only_a_regular_file_is_read(tmp_path: Path) -> None:
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    assert problems(link) == [f"{link}: not a regular file (a FIFO, socket or device)"]
    assert problems(tmp_path / "missing.yaml") == [f"{tmp_path / 'missing.yaml'}: file not found"]


def test_the_option_wins_then_the_environment_then_the_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sites = tmp_path / "sites"
    sites.mkdir()
    for name in ("ams1", "rtm2", "lab"):
        write(sites, name=f"{name}.yaml")
    monkeypatch.setenv("ORCHESTRATOR_SITES_DIR", str(sites))
    monkeypatch.setenv("ORCHESTRATOR_SITE", "rtm2")
    assert site_path("ams1", "lab") == sites / "ams1.yaml"
    assert site_path(None, "lab") == sites / "rtm2.yaml"
    monkeypatch.delenv("ORCHESTRATOR_SITE")
    assert site_path(None, "lab") == sites / "lab.yaml"
    assert site_path(str(tmp_path / "any.yaml")) == tmp_path / "any.yaml"
    with pytest.raises(NoSite, match="no site 'nowhere'"):
        site_path("nowhere")
    with pytest.raises(NoSite, match="no site chosen"):
        site_path(None)
    assert issubclass(NoSite, BadInput)


def test_an_env_reference_resolves_only_when_used(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = SecretRef.parse("env:TEST_SITE_SECRET")
    monkeypatch.delenv("TEST_SITE_SECRET", raising=False)
    with pytest.raises(SecretUnavailable, match="TEST_SITE_SECRET is not set"):
        ref.resolve()
    monkeypatch.setenv("TEST_SITE_SECRET", "hunter2-xyz")
    secret = ref.resolve()
    assert secret.reveal() == "hunter2-xyz"
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"


def test_a_file_reference_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("s3cr3t-value\nignored second line\n")
    path.chmod(0o644)
    ref = SecretRef.parse(f"file:{path}")
    with pytest.raises(SecretUnavailable, match="mode 0644 lets others read it") as caught:
        ref.resolve()
    assert "s3cr3t" not in str(caught.value)
    path.chmod(0o600)
    assert ref.resolve() == Secret("s3cr3t-value")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(SecretUnavailable, match="not a regular file"):
        SecretRef.parse(f"file:{fifo}").resolve()


def test_a_command_reference_runs_without_a_shell(tmp_path: Path) -> None:
    assert SecretRef.parse("command:printf 'from-a-command\\n'").resolve().reveal() == (
        "from-a-command"
    )
    with pytest.raises(SecretUnavailable, match="exited 1"):
        SecretRef.parse("command:false").resolve()
    with pytest.raises(SecretUnavailable, match="No such file"):
        SecretRef.parse(f"command:{tmp_path / 'no-such-tool'}").resolve()
    marker = tmp_path / "marker"
    SecretRef.parse(f"command:echo x; touch {marker}").resolve()
    assert not marker.exists()  # `;` is an argument of echo, not a shell's


@pytest.mark.parametrize("text", ["nbt_abc.def", "password123", "vault:x", "env:", "file:  "])
def test_anything_but_a_reference_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="must be a reference"):
        SecretRef.parse(text)


# --- backups: an sftp repository on a backup host whose key the site gives ---------------------

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFl0z9xbYiYZGJ0k0ojGdCGoSV6GQkN+pww6R/poQZdQ"
BACKUPS = f"""\
backups:
  repository: sftp:restic@backup.example.net:/srv/restic/
  host_key: {HOST_KEY}
  password: env:TEST_SITE_RESTIC_PASSWORD
"""


def test_a_backup_repository_names_its_account_host_and_folder(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, SITE + BACKUPS))
    backups = site.backups
    assert backups is not None
    assert (backups.user, backups.host, backups.base, backups.port) == (
        "restic", "backup.example.net", "/srv/restic", 22
    )  # fmt: skip
    assert backups.keys_file() == "/etc/ssh/authorized_keys/restic"
    assert str(backups.password) == "env:TEST_SITE_RESTIC_PASSWORD"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("sftp:restic@backup.example.net:/srv/restic/", "rest:https://backup.example.net:8000"),
            "backups.repository: must be a restic sftp repository like sftp:restic@",
        ),
        (
            ("sftp:restic@backup.example.net:/srv/restic/", "sftp:restic@backup.example.net:/"),
            "backups.repository: the repository's path must be a folder below /",
        ),
        ((f"host_key: {HOST_KEY}", "host_key: AAAAC3Nza"), "backups.host_key: must be an SSH"),
        ((f"  host_key: {HOST_KEY}\n", ""), "backups.host_key: required"),
    ],
)
def test_a_backup_host_needs_an_sftp_repository_and_its_host_key(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    path = write(tmp_path, SITE + BACKUPS.replace(*edit))
    with pytest.raises(SiteError) as caught:
        load_site(path)
    assert any(expected in str(p) for p in caught.value.problems), caught.value.problems


def test_the_example_site_names_a_backup_host() -> None:
    site = load_site(Path(__file__).parents[2] / "examples" / "sites" / "ams1.yaml")
    assert site.backups is not None
    assert (site.backups.user, site.backups.host, site.backups.base) == (
        "restic", "backup.ams1.hosting.example.net", "/srv/restic"
    )  # fmt: skip
    assert str(site.backups.password) == "env:AMS1_RESTIC_PASSWORD"


def test_true_or_false_is_not_a_port(tmp_path: Path) -> None:
    """Found while writing the fuzzer: ``port: on`` was port 1."""
    path = write(tmp_path, SITE.replace("  become: true\n", "  become: true\n  port: on\n"))
    assert problems(path) == [f"{path}:12: ssh.port: must be a number, not true/false"]
