"""The lab as a site: ``lab up`` writes ``<state>/site.yaml``, a site file like any other.

The demo, the tests and the benchmarks deliver through it (``--site .lab/site.yaml``); nothing
outside the lab knows its names or addresses. No secret is in it: the file refers to
``<state>/netbox.token`` (0600), as a site refers to wherever it keeps its own token, and to
``<state>/state.key`` (0600), the Fernet key of the shared state, made by the first ``lab up``
and kept after (state sealed with it stays readable). Backups go to the lab's backup host over
sftp, its host key given as a site names any backup host's.

The lab's people are the examples' delivery manager and lead engineer, a second engineer for
buddychecks and an operations engineer, each with an SSH key of their own in
``<state>/people/<login>`` (0600, made once): at a gate they sign with it (``orchestrator approve
--sign-with .lab/people/sanne``). The OS account ``root``, which runs everything here, is the
lab's CI account: it approves nothing.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from cryptography.fernet import Fernet

from orchestrator.lab import alertmanager, backup, netbox, prometheus
from orchestrator.lab.addressing import CONTROLLER, PLATFORM_PARENT
from orchestrator.lab.files import write_atomically
from orchestrator.lab.hosts import LabHost, ensure_key_pair
from orchestrator.lab.netbox import NetBoxInfo, write_private
from orchestrator.lab.paths import LabPaths

NAME = "lab"
PROVIDER = "lab"

#: The lab's people by login: name, email, roles. ``root`` is the CI account.
PEOPLE: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "sanne": ("Sanne Jansen", "sanne.jansen@hosting.example.com", ("delivery_manager",)),
    "joris": ("Joris Bakker", "joris.bakker@hosting.example.com", ("lead_engineer", "engineer")),
    "noor": ("Noor de Vries", "noor.devries@hosting.example.com", ("engineer",)),
    "ops": ("Operations on call", "ops@hosting.example.com", ("operations",)),
    "root": ("Lab CI", "ci@hosting.example.com", ("ci",)),
}
#: Who has a key to sign approvals with (the CI account signs nothing).
SIGNERS = ("sanne", "joris", "noor", "ops")


def person_key(paths: LabPaths, login: str) -> Path:
    """The private key a lab person signs approvals with."""
    return paths.state / "people" / login


def ensure_people_keys(paths: LabPaths) -> None:
    """Each signer's key pair, made once."""
    for login in SIGNERS:
        ensure_key_pair(person_key(paths, login), f"{login}@orchestrator-lab")


def people_data(paths: LabPaths) -> dict[str, object]:
    """The site's ``people``, with the public keys made so far."""
    people: dict[str, object] = {}
    for login, (name, email, roles) in PEOPLE.items():
        public = person_key(paths, login).with_suffix(".pub")
        keys = [public.read_text().strip()] if public.is_file() else []
        people[login] = {"name": name, "email": email, "roles": list(roles), "ssh_keys": keys}
    return people


def site_file(paths: LabPaths) -> Path:
    """Where the lab's site file is."""
    return paths.state / "site.yaml"


def token_file(paths: LabPaths) -> Path:
    """The lab NetBox's token, alone in a 0600 file (the site file refers to it)."""
    return paths.state / "netbox.token"


def state_key_file(paths: LabPaths) -> Path:
    """The Fernet key of the lab's shared state, alone in a 0600 file (the site refers to it)."""
    return paths.state / "state.key"


def ensure_state_key(paths: LabPaths) -> Path:
    """Make the shared-state key once; a key that exists is kept."""
    path = state_key_file(paths)
    if not path.is_file() or not path.read_text().strip():
        write_private(path, Fernet.generate_key().decode() + "\n")
    return path


def site_data(paths: LabPaths, info: NetBoxInfo, backup_host: LabHost) -> dict[str, object]:
    """The lab's site: its NetBox, root over SSH with the lab key, its Prometheus, NTP and backup
    host (the password of each delivery's repositories is generated), and its Alertmanager with
    a receiver per operations team (``orchestrator.lab.alertmanager``)."""
    controller = f"{CONTROLLER}/32"
    return {
        "name": NAME,
        "netbox": {
            "url": info.url,
            "token": f"file:{token_file(paths)}",
            "site": netbox.SITE,
            "vlan_group": netbox.VLAN_GROUP,
            "parent_prefix": str(PLATFORM_PARENT),
            "clusters": {PROVIDER: netbox.CLUSTER},
            "gateway_addresses": 1,
        },
        "ssh": {"user": "root", "key": str(paths.ssh_key)},
        "host_defaults": {"ntp_servers": [str(CONTROLLER)], "timezone": "Etc/UTC"},
        "monitoring": {
            "targets": {"path": str(prometheus.targets_dir(paths))},
            "rules": {"path": str(prometheus.checks_dir(paths))},
            "prometheus_url": prometheus.URL,
            "blackbox": prometheus.BLACKBOX_LISTEN,
            "blackbox_config": str(prometheus.blackbox_file(paths)),
            "alertmanager": alertmanager.site_section(),
            "go_live_alert_after": alertmanager.GO_LIVE_ALERT_AFTER,
            "scraper_networks": [controller],
        },
        "backups": {
            "repository": f"sftp:{backup.USER}@{backup_host.address}:{backup.BASE}",
            "host_key": backup_host.host_key,
            "authorized_keys": backup.AUTHORIZED_KEYS,
        },
        "management_networks": [controller],
        "machines": {
            PROVIDER: {"state": str(paths.state), "cache": str(paths.cache)},
            "static": {},
        },
        "people": people_data(paths),
        "shared_state": {"key": f"file:{state_key_file(paths)}"},
    }


def write_site(paths: LabPaths, info: NetBoxInfo, backup_host: LabHost) -> Path:
    """Write the lab's token file, its shared-state key (once) and site file; the site file's
    path."""
    write_private(token_file(paths), info.token + "\n")
    ensure_state_key(paths)
    ensure_people_keys(paths)
    text = "# The lab's site, written by `orchestrator lab up`; see docs/site.md.\n"
    text += yaml.safe_dump(site_data(paths, info, backup_host), sort_keys=False)
    write_atomically(site_file(paths), text)
    return site_file(paths)
