"""The lab as a site: ``lab up`` writes ``<state>/site.yaml``, a site file like any other.

The demo, the tests and the benchmarks deliver through it (``--site .lab/site.yaml``); nothing
outside the lab knows its names or addresses. No secret is in it: the file refers to
``<state>/netbox.token`` (0600), as a site refers to wherever it keeps its own token, and to
``<state>/state.key`` (0600), the Fernet key of the shared state, made by the first ``lab up``
and kept after (state sealed with it stays readable). Backups go to the lab's backup host over
sftp, its host key given as a site names any backup host's.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from cryptography.fernet import Fernet

from orchestrator.lab import backup, netbox, prometheus
from orchestrator.lab.addressing import CONTROLLER, PLATFORM_PARENT
from orchestrator.lab.files import write_atomically
from orchestrator.lab.hosts import LabHost
from orchestrator.lab.netbox import NetBoxInfo, write_private
from orchestrator.lab.paths import LabPaths

NAME = "lab"
PROVIDER = "lab"


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
    host (the password of each delivery's repositories is generated)."""
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
        "shared_state": {"key": f"file:{state_key_file(paths)}"},
    }


def write_site(paths: LabPaths, info: NetBoxInfo, backup_host: LabHost) -> Path:
    """Write the lab's token file, its shared-state key (once) and site file; the site file's
    path."""
    write_private(token_file(paths), info.token + "\n")
    ensure_state_key(paths)
    text = "# The lab's site, written by `orchestrator lab up`; see docs/site.md.\n"
    text += yaml.safe_dump(site_data(paths, info, backup_host), sort_keys=False)
    write_atomically(site_file(paths), text)
    return site_file(paths)
