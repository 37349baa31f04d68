"""The buddycheck's checks from the spec and the records: spec in, checks out (pure, no fakes
needed), including a role with nothing sold and a platform without its VIP."""

from __future__ import annotations

from pathlib import Path

import yaml

from orchestrator.adapters.ansible import PLAYBOOKS
from orchestrator.engine.ports.platform_checks import Check
from orchestrator.engine.ports.reachability import fingerprint
from orchestrator.phases.checks import (
    BACKUP_SAMPLE,
    LIMITS_FILE,
    RESTIC_COMMAND,
    SYSCTL_FILE,
    Delivered,
    checks_for,
)
from tests.integration.phase23_support import FEMKE_KEY, JORIS_KEY, make_spec

SPEC = make_spec("unit-bc", "u-")
HOSTS = ("u-lb-01", "u-web-01", "u-web-02", "u-db-01")
DELIVERED = Delivered(
    owns_kernel=frozenset(HOSTS),
    vip="10.213.128.6",
    vip_holder="u-lb-01",
    prefix="10.213.128.0/28",
    management_networks=("10.213.0.1/32",),
)  # fmt: skip
BASE = [
    "package nftables", "package prometheus-node-exporter", "service nftables",
    "service prometheus-node-exporter", "port tcp/9100", "firewall input policy", "firewall ssh",
]  # fmt: skip
JORIS = ["user joris", "user joris key 1", "user joris sudo"]
FEMKE = ["user femke", "user femke key 1", "user femke sudo"]
BACKUPS = ["package restic", "backup snapshot", "backup restore"]


def names(checks: tuple[Check, ...], host: str) -> list[str]:
    return [c.name for c in checks if c.host == host]


def by_name(checks: tuple[Check, ...], host: str) -> dict[str, Check]:
    return {c.name: c for c in checks if c.host == host}


def test_a_web_host_gets_base_users_software_port_tuning_and_backups() -> None:
    checks = checks_for(SPEC, DELIVERED)
    assert names(checks, "u-web-01") == [
        *BASE, *JORIS, *FEMKE, "package nginx", "service nginx", "port tcp/80",
        "sysctl net.core.somaxconn", "limit www-data both nofile", *BACKUPS,
    ]  # fmt: skip


def test_a_db_host_gets_postgresql_its_port_the_login_and_backups_and_no_web_only_user() -> None:
    checks = checks_for(SPEC, DELIVERED)
    assert names(checks, "u-db-01") == [
        *BASE, *JORIS, "package postgresql", "service postgresql@15-main", "port tcp/5432",
        "database unit_bc user unit_bc", *BACKUPS,
    ]  # fmt: skip
    login = by_name(checks, "u-db-01")["database unit_bc user unit_bc"]
    assert login.kind == "database"
    assert login.params == {"database": "unit_bc", "user": "unit_bc", "secret": "db_password",
                            "networks": ["10.213.128.0/28", "10.213.0.1/32"]}  # fmt: skip


def test_the_balancer_holding_the_vip_checks_haproxy_on_it_and_every_backend_through_it() -> None:
    checks = checks_for(SPEC, DELIVERED)
    assert names(checks, "u-lb-01") == [
        *BASE, *JORIS, "package haproxy", "service haproxy", "port tcp/10.213.128.6:80",
        "vip tcp/80",
    ]  # fmt: skip
    vip = by_name(checks, "u-lb-01")["vip tcp/80"]
    assert vip.params == {"vip": "10.213.128.6", "port": 80,
                          "pages": ["Acme B.V. (unit-bc) on u-web-01",
                                    "Acme B.V. (unit-bc) on u-web-02"]}  # fmt: skip
    assert vip.expected == "requests to 10.213.128.6:80 reach every backend: u-web-01, u-web-02"


def test_no_vip_recorded_means_no_balancer_checks_beyond_haproxy_itself() -> None:
    checks = checks_for(SPEC, Delivered(vip=None, vip_holder="u-lb-01"))
    assert [n for n in names(checks, "u-lb-01") if n.startswith(("vip", "port tcp/10."))] == []


def test_a_role_with_nothing_sold_gets_the_base_checks_and_its_users_only() -> None:
    misc = (
        '  - {name: "u-misc-{n:02d}", role: misc, image: debian-12, provider: lab,\n'
        "     size: {cpus: 1, memory_mb: 1024, disk_gb: 10}}\n"
    )
    spec = make_spec("unit-bc", "u-", {'  - {name: "u-db-': misc + '  - {name: "u-db-'})
    checks = checks_for(spec, DELIVERED)
    assert names(checks, "u-misc-01") == [*BASE, *JORIS]


def test_users_keys_and_sudo_are_as_sold() -> None:
    checks = by_name(checks_for(SPEC, DELIVERED), "u-web-01")
    assert checks["user joris key 1"].params == {"user": "joris", "key": JORIS_KEY}
    assert checks["user joris key 1"].expected == f"{fingerprint(JORIS_KEY)} in authorized_keys"
    assert checks["user femke key 1"].params == {"user": "femke", "key": FEMKE_KEY}
    assert (checks["user joris sudo"].params, checks["user joris sudo"].expected) == (
        {"user": "joris", "sudo": True}, "may use sudo")  # fmt: skip
    assert (checks["user femke sudo"].params, checks["user femke sudo"].expected) == (
        {"user": "femke", "sudo": False}, "may not use sudo")  # fmt: skip


def test_sysctl_is_checked_live_only_where_the_host_owns_its_kernel() -> None:
    live = by_name(checks_for(SPEC, DELIVERED), "u-web-01")["sysctl net.core.somaxconn"]
    shared = by_name(checks_for(SPEC, Delivered()), "u-web-01")["sysctl net.core.somaxconn"]
    assert live.params == {"name": "net.core.somaxconn", "value": "4096", "live": True,
                           "file": SYSCTL_FILE}  # fmt: skip
    assert shared.params["live"] is False
    assert shared.expected == f"4096 (in {SYSCTL_FILE} (the host shares its kernel))"
    limit = by_name(checks_for(SPEC, DELIVERED), "u-web-01")["limit www-data both nofile"]
    assert limit.params == {"line": "www-data - nofile 65536", "file": LIMITS_FILE}


def test_the_firewall_ssh_check_names_the_management_networks() -> None:
    check = by_name(checks_for(SPEC, DELIVERED), "u-db-01")["firewall ssh"]
    assert check.params == {"networks": ["10.213.0.1/32"]}
    assert check.expected == "ssh (tcp/22) accepted only from 10.213.0.1/32"


def test_names_are_unique_per_host_and_every_check_says_what_it_expects() -> None:
    checks = checks_for(SPEC, DELIVERED)
    for host in HOSTS:
        assert len(names(checks, host)) == len(set(names(checks, host))), host
    assert all(c.expected for c in checks)
    assert {c.host for c in checks} == set(HOSTS)


def test_a_package_sold_twice_is_checked_once() -> None:
    twice = {"web: {packages: [nginx]": "web: {packages: [nginx, restic]"}
    spec = make_spec("unit-bc", "u-", twice)
    assert names(checks_for(spec, DELIVERED), "u-web-01").count("package restic") == 1


def test_the_checks_follow_the_roles_paths() -> None:
    defaults = yaml.safe_load((PLAYBOOKS / "roles/backups_restic/defaults/main.yml").read_text())
    assert (defaults["backups_restic_command"], defaults["backups_restic_sample"]) == (
        RESTIC_COMMAND, BACKUP_SAMPLE)  # fmt: skip
    tuning = (PLAYBOOKS / "roles/tuning/tasks/main.yml").read_text()
    assert SYSCTL_FILE in tuning
    assert LIMITS_FILE in tuning
    assert Path(PLAYBOOKS / "roles/tuning/templates/limits.conf.j2").is_file()
