"""The lab's pure rules: the addresses and names it accepts, the files it renders and parses."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from orchestrator.lab.addressing import (
    CONTROLLER,
    MIRROR_URL,
    NETNS_PREFIX,
    host_name,
    is_host_name,
    lab_address,
    netns_name,
    veth_name,
)
from orchestrator.lab.errors import PreflightError, UnsafeTarget
from orchestrator.lab.hosts import create_host, known_hosts_line
from orchestrator.lab.image import (
    APT_SOURCE_LINE,
    AptSource,
    debian_mirror_uri,
    debian_sources,
    parse_deb822_sources,
    parse_sources_list,
)
from orchestrator.lab.mirror import release_text
from orchestrator.lab.preflight import require_tools

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DEB822 = f"""\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: {KEYRING}

Types: deb deb-src
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: {KEYRING}

Types: deb
URIs: https://vendor.example/apt
Suites: nodistro
Components: main
Enabled: no

Types: deb-src
URIs: http://mirror.example/debian
Suites: trixie
Components: main
"""
SOURCES_LIST = f"""\
# a comment
deb [arch=amd64 signed-by={KEYRING}] http://mirror.example/debian bookworm main
deb-src http://mirror.example/debian bookworm main
deb http://mirror.example/debian-security bookworm-security main non-free  # trailing
deb http://vendor.example/apt stable main
"""
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake"


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "10.214.0.5",
        "192.168.1.10",
        "127.0.0.1",
        "10.213.0.0",
        "10.213.255.255",
        str(CONTROLLER),
        "not-an-address",
        "10.213.1",
    ],
)
def test_lab_address_refuses_anything_outside_the_lab(address: str) -> None:
    with pytest.raises(UnsafeTarget):
        lab_address(address)


@pytest.mark.parametrize("address", ["10.213.1.10", "10.213.128.5/17", "10.213.0.2"])
def test_lab_address_accepts_lab_addresses(address: str) -> None:
    assert str(lab_address(address)) == address.split("/", 1)[0]


def test_veth_names_fit_the_kernel_limit_and_are_stable() -> None:
    names = ["a", "lab-01", "lab-02", "x" * 32]
    veths = [veth_name(name) for name in names]
    assert all(len(veth) <= 15 and veth.startswith("olv") for veth in veths)
    assert len(set(veths)) == len(names)
    assert veths == [veth_name(name) for name in names]
    digest = hashlib.sha1(b"lab-01", usedforsecurity=False).hexdigest()
    assert veth_name("lab-01") == "olv" + digest[:10]


@pytest.mark.parametrize("name", ["", "Lab-01", "lab_01", "-lab", "lab-", "x" * 33, "a b", "é"])
def test_host_name_refuses_bad_names(name: str) -> None:
    with pytest.raises(UnsafeTarget):
        host_name(name)
    assert not is_host_name(name)


@pytest.mark.parametrize("name", ["a", "lab-01", "web-1-prod", "x" * 32])
def test_host_name_accepts_good_names(name: str) -> None:
    assert host_name(name) == name
    assert netns_name(name) == NETNS_PREFIX + name


def test_parse_deb822_keeps_enabled_binary_sources() -> None:
    assert parse_deb822_sources(DEB822) == [
        AptSource("http://mirror.example/debian", "bookworm", ("main", "contrib"), KEYRING),
        AptSource("http://mirror.example/debian", "bookworm-updates", ("main", "contrib"), KEYRING),
        AptSource("http://mirror.example/debian-security", "bookworm-security", ("main",), KEYRING),
    ]


def test_parse_sources_list_reads_options_and_skips_deb_src() -> None:
    assert parse_sources_list(SOURCES_LIST) == [
        AptSource("http://mirror.example/debian", "bookworm", ("main",), KEYRING),
        AptSource(
            "http://mirror.example/debian-security", "bookworm-security", ("main", "non-free")
        ),
        AptSource("http://vendor.example/apt", "stable", ("main",)),
    ]


def test_debian_sources_keep_bookworm_main_only() -> None:
    sources = parse_deb822_sources(DEB822) + parse_sources_list(SOURCES_LIST)
    kept = debian_sources(sources)
    assert {s.suite for s in kept} == {"bookworm", "bookworm-updates", "bookworm-security"}
    assert all(s.components == ("main",) for s in kept)
    assert debian_mirror_uri(sources).uri == "http://mirror.example/debian"
    assert kept[0].line() == (
        f"deb [signed-by={KEYRING}] http://mirror.example/debian bookworm main\n"
    )


def test_no_bookworm_source_is_a_preflight_error() -> None:
    with pytest.raises(PreflightError) as caught:
        debian_mirror_uri(parse_sources_list("deb http://vendor.example/apt stable main\n"))
    assert "Suites: bookworm" in caught.value.hint


def test_hosts_use_the_lab_mirror_only() -> None:
    assert f"deb [trusted=yes] {MIRROR_URL} ./\n" == APT_SOURCE_LINE
    assert MIRROR_URL.startswith(f"http://{CONTROLLER}:")


def test_known_hosts_line() -> None:
    line = known_hosts_line("10.213.1.10", HOST_KEY + " root@lab-01")
    assert line == f"10.213.1.10 {HOST_KEY}\n"


def test_known_hosts_line_refuses_outside_addresses() -> None:
    with pytest.raises(UnsafeTarget):
        known_hosts_line("192.0.2.1", HOST_KEY)


def test_create_host_refuses_outside_addresses_before_doing_anything() -> None:
    with pytest.raises(UnsafeTarget):
        create_host("lab-01", "192.0.2.10")
    with pytest.raises(UnsafeTarget):
        create_host("Not A Name", "10.213.1.10")


def test_release_file_lists_index_checksums(tmp_path: Path) -> None:
    (tmp_path / "Packages").write_text("Package: x\n")
    (tmp_path / "Packages.gz").write_bytes(b"gz")
    release = release_text(tmp_path)
    assert "Origin: orchestrator-lab\n" in release
    assert f" {hashlib.sha256(b'Package: x\n').hexdigest()} 11 Packages\n" in release
    assert f" {hashlib.sha256(b'gz').hexdigest()} 2 Packages.gz\n" in release


def test_missing_tools_are_a_preflight_error_with_an_apt_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PreflightError) as caught:
        require_tools({"debootstrap": "debootstrap", "systemd-nspawn": "systemd-container"})
    assert caught.value.message == "missing debootstrap, systemd-nspawn on this machine"
    assert caught.value.hint == "install with `apt-get install -y debootstrap systemd-container`"
