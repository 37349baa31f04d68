"""A second site: one delivery through phases 1-3 where every name and access path differs from
the lab's seed.

    NetBox      its own site, VLAN group, parent prefix and cluster (pynetbox), custom fields
                from `orchestrator netbox bootstrap`; the VMs' interface is `ens3`
    SSH         a non-root deploy user with sudo, its own key, every connection through a lab
                host acting as bastion; the targets' firewall lets SSH in from the bastion only
    monitoring  registered in a folder of this test, not the lab's
    backups     sent over sftp to the second site's own backup host
    state       pins and passwords sealed in the run store with the site's own key

The delivery runs through the installed command line, as a user would. Afterwards the run's logs,
inventory and playbook variables are searched for the lab site's names and addresses.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet

from orchestrator.lab import backup
from orchestrator.lab import netbox as lab_netbox
from orchestrator.lab import site as lab_site
from orchestrator.lab.addressing import CONTROLLER, PLATFORM_PARENT
from orchestrator.lab.hosts import LabHost, create_host, destroy_host, list_hosts
from orchestrator.lab.lab import LabUp
from orchestrator.lab.netbox import netbox_api
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.prometheus import BLACKBOX_LISTEN, URL, targets_dir
from orchestrator.lab.users import add_deploy_user

ORCHESTRATOR = str(Path(sys.executable).parent / "orchestrator")
DELIVERY = "s2-shop"
SITE, VLANS, CLUSTER, CLUSTER_TYPE = "ams2-test", "ams2-test-vlans", "ams2-test-vms", "ams2-kvm"
PARENT = "10.213.96.0/19"
BASTION = ("s2-bastion", "10.213.1.70")
BACKUP = ("s2-backup", "10.213.1.71")
HOSTS = ("s2-web-01", "s2-db-01")
RUN_SECONDS = 1200

SPEC = f"""
id: {DELIVERY}
customer: {{name: Second Site Shop, tenant: {DELIVERY}}}
delivery_manager: {{name: Sanne Jansen, email: sanne@hosting.example.com}}
lead_engineer: {{name: Joris Bakker, email: joris@hosting.example.com}}
preconditions:
  quote: {{signed: true}}
  data_processing_agreement: {{signed: true}}
network:
  site: {SITE}
  vlan_group: {VLANS}
  parent_prefix: {PARENT}
  prefix_length: 28
hosts:
  - {{name: "s2-web-{{n:02d}}", role: web, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
  - {{name: "s2-db-{{n:02d}}", role: db, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
software:
  web: {{packages: [nginx], services: [nginx]}}
  db: {{packages: [postgresql]}}
backups:
  db: {{schedule: "30 2 * * *", retention: {{days: 7}}, paths: [/etc/postgresql]}}
monitoring:
  checks:
    - {{name: web-port, kind: tcp, roles: [web], port: 80}}
operations: {{team: Ops B, email: ops-b@hosting.example.com}}
"""


@dataclass(frozen=True, slots=True)
class Second:
    """The second site's files and the result of its delivery."""

    root: Path
    site: Path
    bastion: LabHost
    key: Path
    runs: list[str]

    def env(self) -> dict[str, str]:
        return {"ORCHESTRATOR_STATE": str(self.root / "state"), "ORCHESTRATOR_USER": "Sanne Jansen",
                "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(Path.home()),
                "LANG": "C.UTF-8"}  # fmt: skip

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        argv = [ORCHESTRATOR, *args]
        return subprocess.run(argv, env=self.env(), capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip

    def folder(self, name: str) -> Path:
        return self.root / name


def _ensure(endpoint: Any, lookup: dict[str, object], fields: dict[str, object]) -> Any:
    return endpoint.get(**lookup) or endpoint.create({**lookup, **fields})


def make_netbox(api: Any) -> list[Any]:
    """The second site's own NetBox objects, newest last (removed in reverse)."""
    site = _ensure(api.dcim.sites, {"slug": SITE}, {"name": "AMS2 test", "status": "active"})
    on_site = {"scope_type": "dcim.site", "scope_id": site.id}
    vlans = _ensure(api.ipam.vlan_groups, {"slug": VLANS},
                    {"name": VLANS, **on_site, "vid_ranges": [[2000, 2099]]})  # fmt: skip
    parent = _ensure(api.ipam.prefixes, {"prefix": PARENT},
                     {"status": "container", "description": "second site test"})  # fmt: skip
    kind = _ensure(api.virtualization.cluster_types, {"slug": CLUSTER_TYPE}, {"name": CLUSTER_TYPE})
    cluster = _ensure(api.virtualization.clusters, {"name": CLUSTER},
                      {"type": kind.id, "status": "active", **on_site})  # fmt: skip
    return [site, vlans, parent, kind, cluster]


def site_data(
    root: Path, lab_paths: LabPaths, hosts: tuple[LabHost, LabHost], key: Path
) -> dict[str, Any]:
    bastion, backups = hosts
    targets, rules = root / "prometheus" / "targets", root / "prometheus" / "rules"
    for folder in (targets, rules):
        folder.mkdir(parents=True, exist_ok=True)
    state_key = root / "state.key"
    state_key.write_text(Fernet.generate_key().decode() + "\n")
    state_key.chmod(0o600)
    lab = yaml.safe_load(lab_site.site_file(lab_paths).read_text())
    return {
        "name": "ams2",
        "netbox": {"url": lab["netbox"]["url"], "token": lab["netbox"]["token"], "site": SITE,
                   "vlan_group": VLANS, "parent_prefix": PARENT, "clusters": {"lab": CLUSTER},
                   "interface": "ens3", "gateway_addresses": 1},
        "ssh": {"user": "deploy", "become": True, "key": str(key),
                "jump_hosts": [{"host": bastion.address, "user": "jump",
                                "host_key": bastion.host_key}]},
        "host_defaults": {"ntp_servers": [bastion.address], "timezone": "Europe/Amsterdam"},
        "monitoring": {"targets": {"path": str(targets)}, "rules": {"path": str(rules)},
                       "prometheus_url": URL, "blackbox": BLACKBOX_LISTEN,
                       "scraper_networks": ["10.213.0.0/30"]},
        "backups": {"repository": f"sftp:{backup.USER}@{backups.address}:{backup.BASE}",
                    "host_key": backups.host_key, "authorized_keys": backup.AUTHORIZED_KEYS},
        "management_networks": [f"{bastion.address}/32"],
        "machines": {"lab": {"state": str(lab_paths.state), "cache": str(lab_paths.cache),
                             "user": "deploy", "user_key": f"{key}.pub"}},
        "people": {"sanne": {"name": "Sanne Jansen", "email": "sanne@hosting.example.com",
                             "roles": ["delivery_manager"],
                             "ssh_keys": [(root / "sanne.pub").read_text().strip()]}},
        "shared_state": {"key": f"file:{state_key}"},
    }  # fmt: skip


@pytest.fixture(scope="module")
def second(
    lab_up: LabUp, lab_paths: LabPaths, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Second]:
    root = tmp_path_factory.mktemp("second-site")
    api = netbox_api(lab_up.netbox)
    made = make_netbox(api)
    key = root / "deploy"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ams2 deploy", "-f",
                    str(key)], check=True)  # fmt: skip
    public = (root / "deploy.pub").read_text()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sanne", "-f",
                    str(root / "sanne")], check=True)  # fmt: skip
    bastion = create_host(*BASTION, paths=lab_paths)
    add_deploy_user(bastion, "jump", public, lab_paths)
    backups = backup.ensure_backup_host(lab_paths, name=BACKUP[0], address=BACKUP[1])
    add_deploy_user(backups, "deploy", public, lab_paths)  # the controller authorises keys so
    site = root / "ams2.yaml"
    site.write_text(yaml.safe_dump(site_data(root, lab_paths, (bastion, backups), key)))
    (root / "spec.yaml").write_text(SPEC)
    found = Second(root, site, bastion, key, [])
    try:
        found.runs.extend(deliver(found))
        yield found
    finally:
        found.cli("release", DELIVERY, "--yes", "--site", str(site))
        for name in (*HOSTS, BASTION[0], BACKUP[0]):
            if name in {h.name for h in list_hosts(lab_paths)}:
                destroy_host(name, paths=lab_paths)
        for item in reversed(made):
            item.delete()


def deliver(second: Second) -> list[str]:
    """Bootstrap, check the site, run phases 1-3 through the gate; the ids of the runs."""
    spec, site = str(second.root / "spec.yaml"), ("--site", str(second.site))
    boot = second.cli("netbox", "bootstrap", *site)
    assert boot.returncode == 0, boot.stdout + boot.stderr
    checked = second.cli("site", "check", *site)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    started = second.cli("run", spec, "--through-phase", "3", *site)
    assert started.returncode == 3, started.stdout + started.stderr
    approved = second.cli("approve", DELIVERY, "preconditions", "--comment", "signed",
                          "--sign-with", str(second.root / "sanne"), *site)  # fmt: skip
    assert approved.returncode == 0, approved.stdout + approved.stderr
    done = second.cli("resume", spec, *site, timeout=RUN_SECONDS)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = json.loads(second.cli("runs", DELIVERY, "--json").stdout)
    return [str(run["id"]) for run in runs]


def test_netbox_holds_the_delivery_in_the_second_sites_objects(
    second: Second, lab_up: LabUp
) -> None:
    assert second.runs
    api = netbox_api(lab_up.netbox)
    vms = list(api.virtualization.virtual_machines.filter(cf_orchestrator_delivery=DELIVERY))
    assert sorted(vm.name for vm in vms) == sorted(HOSTS)
    assert {vm.site.slug for vm in vms} == {SITE}
    assert {vm.cluster.name for vm in vms} == {CLUSTER}
    interfaces = api.virtualization.interfaces.filter(virtual_machine_id=[vm.id for vm in vms])
    assert {i.name for i in interfaces} == {"ens3"}
    (prefix,) = api.ipam.prefixes.filter(cf_orchestrator_delivery=DELIVERY)
    assert prefix.prefix.startswith("10.213.9")  # inside 10.213.96.0/19
    (vlan,) = api.ipam.vlans.filter(cf_orchestrator_delivery=DELIVERY)
    assert vlan.group.slug == VLANS
    gateway = prefix.prefix.rsplit(".", 1)[0] + ".1/28"
    addresses = {ip.address: ip for ip in api.ipam.ip_addresses.filter(parent=prefix.prefix)}
    assert addresses[gateway].assigned_object_id is None  # the gateway is no host's


def test_monitoring_is_registered_in_the_sites_folder_not_the_labs(
    second: Second, lab_paths: LabPaths
) -> None:
    targets = second.folder("prometheus") / "targets"
    assert sorted(p.name for p in targets.glob(f"{DELIVERY}-*.json")) == sorted(
        f"{DELIVERY}-{host}.json" for host in HOSTS
    )
    assert (targets / "probes" / f"{DELIVERY}.json").is_file()
    assert (second.folder("prometheus") / "rules" / f"{DELIVERY}.yml").is_file()
    assert not list(targets_dir(lab_paths).glob(f"{DELIVERY}-*"))


def test_backups_live_on_the_second_sites_backup_host(second: Second, lab_paths: LabPaths) -> None:
    repository = f"{backup.BASE}/{DELIVERY}/{HOSTS[1]}"
    listing = backup.root_shell(lab_paths, BACKUP[1], f"stat -c %U {repository}/config\n")
    assert listing.strip() == backup.USER
    assert second.runs


def _ssh(second: Second, address: str, *via: str) -> subprocess.CompletedProcess[str]:
    """``sudo whoami`` as deploy, every host key checked: the delivery's pins and the bastion's."""
    pins = second.root / "state" / "deliveries" / DELIVERY / "known_hosts"
    known = second.root / "test_known_hosts"
    bastion = f"{second.bastion.address} {second.bastion.host_key}\n"
    known.write_text(pins.read_text() + bastion)
    config = second.root / "test_ssh_config"
    config.write_text(
        f"Host *\n  IdentityFile {second.key}\n  IdentitiesOnly yes\n  BatchMode yes\n"
        f"  StrictHostKeyChecking yes\n  UserKnownHostsFile {known}\n  ConnectTimeout 5\n"
    )
    argv = ["ssh", "-F", str(config), *via, f"deploy@{address}", "sudo", "-n", "whoami"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_hosts_take_ssh_only_from_the_bastion(second: Second, lab_up: LabUp) -> None:
    api = netbox_api(lab_up.netbox)
    web = api.virtualization.virtual_machines.get(name=HOSTS[0], cf_orchestrator_delivery=DELIVERY)
    address = str(web.primary_ip4.address).split("/", 1)[0]
    direct = _ssh(second, address)
    assert direct.returncode != 0  # the firewall drops the controller's SSH
    jump = f"jump@{second.bastion.address}"
    through = _ssh(second, address, "-J", jump)
    assert (through.returncode, through.stdout.strip()) == (0, "root"), through.stderr


LAB_NAMES = (lab_netbox.VLAN_GROUP, lab_netbox.CLUSTER, str(PLATFORM_PARENT), "lab-01", "lab-02")
LAB_ADDRESSES = re.compile(rf"(?<![\d.]){re.escape(str(CONTROLLER))}(?![\d])|10\.213\.1[2-9]\d\.")


def _run_texts(second: Second) -> dict[str, str]:
    """The run logs, inventories and playbook variables of the second site's delivery."""
    texts = {f"log {run}": second.cli("logs", run, "--json").stdout for run in second.runs}
    runs = second.root / "state" / "deliveries" / DELIVERY / "runs"
    for path in runs.rglob("*"):
        if path.is_file() and path.name in {"hosts", "hosts.json", "extravars", "cmdline"}:
            texts[str(path.relative_to(runs))] = path.read_text(errors="replace")
    return texts


def test_the_run_names_none_of_the_labs_names_or_addresses(second: Second) -> None:
    texts = _run_texts(second)
    assert any(name.endswith("extravars") for name in texts), sorted(texts)
    assert any("/hosts" in name or name.endswith("hosts") for name in texts), sorted(texts)
    found = [(where, name) for where, text in texts.items() for name in LAB_NAMES if name in text]
    found += [(where, m.group(0)) for where, text in texts.items()
              for m in LAB_ADDRESSES.finditer(text)]  # fmt: skip
    assert found == []


def test_no_secret_reaches_the_run_or_the_store_in_plain_text(
    second: Second, lab_up: LabUp
) -> None:
    workspace = second.root / "state" / "deliveries" / DELIVERY
    generated = json.loads((workspace / "secrets.json").read_text())
    assert generated  # the database and restic passwords of the delivery
    private = "".join(second.key.read_text().splitlines()[1:-1])
    secrets = {
        "netbox token": lab_up.netbox.token,
        "netbox token secret": lab_up.netbox.token.rsplit(".", 1)[-1],
        "shared-state key": (second.root / "state.key").read_text().strip(),
        "deploy key": private[20:60],
        **{f"generated {name}": value for name, value in generated.items()},
    }
    places = _run_texts(second)
    places["run store"] = (second.root / "state" / "runs.db").read_bytes().decode(errors="replace")
    leaks = [f"{what} in {where}" for what, value in secrets.items()
             for where, text in places.items() if value in text]  # fmt: skip
    assert leaks == []
