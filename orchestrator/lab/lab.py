"""The lab as one thing: ``up``, ``down`` and ``status`` over NetBox, the mirror and the hosts.

``up`` is idempotent and self-healing: each part checks what exists and repairs what is missing,
so running it after a reboot, a killed process or an interrupted ``up`` ends in a working lab.
NetBox (slow when cold: install and migrate) comes up in a thread beside the image, the mirror and
the hosts: the smoke hosts asked for and, always, the backup host (``orchestrator.lab.backup``)
and the migration source (``orchestrator.lab.migration_source``).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from orchestrator.lab import hosts as lab_hosts
from orchestrator.lab import network, owner, preflight
from orchestrator.lab.addressing import BRIDGE, smoke_host_addresses
from orchestrator.lab.backup import ensure_backup_host
from orchestrator.lab.image import ensure_base_image
from orchestrator.lab.migration_source import ensure_migration_source
from orchestrator.lab.mirror import ensure_mirror, serve_mirror, stop_mirror
from orchestrator.lab.netbox import NetBoxInfo, NetBoxLab
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.progress import Progress
from orchestrator.lab.prometheus import URL as PROMETHEUS_URL
from orchestrator.lab.prometheus import ensure_prometheus, stop_prometheus
from orchestrator.lab.site import write_site


@dataclass(frozen=True)
class LabUp:
    """What ``lab up`` brought up and how long it took."""

    netbox: NetBoxInfo
    hosts: list[lab_hosts.LabHost]  # the smoke hosts
    seconds: float
    site: Path  # the lab's site file
    backup: lab_hosts.LabHost  # where the lab site's deliveries send their backups
    migration_source: lab_hosts.LabHost  # the "old hosting" phase 6 migrates from


def _prefixed(progress: Progress, part: str) -> Progress:
    return lambda message: progress(f"{part}: {message}")


def _hosts_up(
    paths: LabPaths, count: int, progress: Progress
) -> tuple[list[lab_hosts.LabHost], lab_hosts.LabHost, lab_hosts.LabHost]:
    """The smoke hosts, the backup host and the migration source, made or repaired side by
    side."""
    image = ensure_base_image(paths, _prefixed(progress, "image"))
    ensure_mirror(paths, image, _prefixed(progress, "mirror"))
    network.ensure_bridge()
    serve_mirror(paths)
    ensure_prometheus(paths)
    progress(f"monitoring: Prometheus at {PROMETHEUS_URL}")
    lab_hosts.ensure_lab_ssh_key(paths)
    for name in lab_hosts.reboot_outdated(paths, _prefixed(progress, "hosts")):
        progress(f"hosts: {name} booted again with today's options")
    wanted = smoke_host_addresses(count)
    with ThreadPoolExecutor(max_workers=min(len(wanted) + 2, 8)) as pool:
        backup = pool.submit(ensure_backup_host, paths, _prefixed(progress, "backup"))
        source = pool.submit(ensure_migration_source, paths, _prefixed(progress, "migration"))
        futures = [
            pool.submit(lab_hosts.create_host, name, str(ip), paths=paths) for name, ip in wanted
        ]
        made = [f.result() for f in futures]
        backup_host = backup.result()
        source_host = source.result()
    for host in made:
        progress(f"hosts: {host.name} up at {host.address}")
    progress(f"backup: {backup_host.name} up at {backup_host.address}")
    progress(f"migration: source {source_host.name} up at {source_host.address}")
    return made, backup_host, source_host


def up(paths: LabPaths, hosts: int, progress: Progress) -> LabUp:
    """Bring the whole lab up (or repair it) with ``hosts`` smoke hosts."""
    preflight.check_machine(preflight.machine_facts())
    owner.claim(paths)
    started = time.monotonic()
    netbox = NetBoxLab(paths, progress=_prefixed(progress, "netbox"))
    with ThreadPoolExecutor(max_workers=1) as pool:
        netbox_up = pool.submit(netbox.up)
        made, backup, source = _hosts_up(paths, hosts, progress)
        info = netbox_up.result()
    site = write_site(paths, info, backup)
    progress(f"site: {site}")
    seconds = time.monotonic() - started
    return LabUp(
        netbox=info, hosts=made, seconds=seconds, site=site, backup=backup, migration_source=source
    )


def down(paths: LabPaths, progress: Progress) -> None:
    """Remove every host, namespace, link, mount and process the lab made; keep the caches."""
    preflight.check_machine(preflight.machine_facts())
    owner.claim(paths)
    lab_hosts.destroy_all_hosts(paths)
    progress("hosts: removed")
    stop_mirror(paths)
    stop_prometheus(paths)
    network.remove_bridge()
    progress("network: removed")
    NetBoxLab(paths).down()
    progress("netbox: stopped")
    owner.give_up(paths)


def status(paths: LabPaths) -> dict[str, object]:
    """The lab's state as JSON-able data."""
    return {
        "state": str(paths.state),
        "cache": str(paths.cache),
        "netbox": NetBoxLab(paths).status(),
        "bridge": BRIDGE in network.lab_links(),
        "hosts": [
            {"name": h.name, "address": h.address, **lab_hosts.host_status(h.name, paths)}
            for h in lab_hosts.list_hosts(paths)
        ],
    }
