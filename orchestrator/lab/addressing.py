"""The lab's address plan, and the guard that keeps the lab inside it.

The lab is one flat layer-2 segment (a bridge on the controller) numbered from ``LAB_PREFIX``.
Customer platforms get their prefixes from ``PLATFORM_PARENT`` (through NetBox, phase 1); the
hosts ``lab up --hosts N`` makes for a quick check are numbered from ``SMOKE_HOSTS``; the backup
host has ``BACKUP_HOST`` and the migration source ``MIGRATION_SOURCE``, beside the controller
and outside both ranges. The lab never creates or
targets an address outside ``LAB_PREFIX``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

from orchestrator.lab.errors import UnsafeTarget

LAB_PREFIX = ipaddress.IPv4Network("10.213.0.0/16")
CONTROLLER = ipaddress.IPv4Address("10.213.0.1")
SMOKE_HOSTS = ipaddress.IPv4Network("10.213.1.0/24")
PLATFORM_PARENT = ipaddress.IPv4Network("10.213.128.0/17")
#: The lab's backup host (``orchestrator.lab.backup``): no smoke host or delivery can take it.
BACKUP_HOST = ipaddress.IPv4Address("10.213.0.5")
#: The lab's migration source host (``orchestrator.lab.migration_source``), the "old hosting".
MIGRATION_SOURCE = ipaddress.IPv4Address("10.213.0.6")
MIRROR_PORT = 8780
MIRROR_URL = f"http://{CONTROLLER}:{MIRROR_PORT}/debian"

BRIDGE = "orchlab0"
#: Every link the lab creates carries this alias; the lab deletes only links that carry it.
LINK_ALIAS = "orchestrator-lab"
NETNS_PREFIX = "orchlab-"

_HOST_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")


def lab_address(address: str) -> ipaddress.IPv4Address:
    """Parse ``address`` and refuse anything outside the lab prefix or reserved inside it."""
    try:
        ip = ipaddress.IPv4Address(address.split("/", 1)[0])
    except ValueError as exc:
        raise UnsafeTarget(f"{address!r} is not an IPv4 address") from exc
    if ip not in LAB_PREFIX:
        raise UnsafeTarget(
            f"{ip} is outside the lab prefix {LAB_PREFIX}",
            "the lab only creates and targets addresses inside its own prefix",
        )
    if ip in (LAB_PREFIX.network_address, LAB_PREFIX.broadcast_address, CONTROLLER):
        raise UnsafeTarget(f"{ip} is reserved in the lab prefix {LAB_PREFIX}")
    return ip


def is_host_name(name: str) -> bool:
    """Whether ``name`` is a valid lab host name (see ``host_name``)."""
    return _HOST_NAME.fullmatch(name) is not None


def host_name(name: str) -> str:
    """Check a lab host name: lowercase letters, digits and dashes, at most 32 characters."""
    if not _HOST_NAME.fullmatch(name):
        raise UnsafeTarget(
            f"{name!r} is not a valid lab host name",
            "use lowercase letters, digits and dashes, at most 32 characters",
        )
    return name


def netns_name(name: str) -> str:
    """The network namespace of lab host ``name``."""
    return NETNS_PREFIX + host_name(name)


def veth_name(name: str) -> str:
    """The controller-side veth of lab host ``name`` (interface names are at most 15 bytes)."""
    return "olv" + hashlib.sha1(host_name(name).encode(), usedforsecurity=False).hexdigest()[:10]


def smoke_host_addresses(count: int) -> list[tuple[str, ipaddress.IPv4Address]]:
    """Names and addresses of the ``count`` hosts ``lab up --hosts N`` makes."""
    hosts = list(SMOKE_HOSTS.hosts())[9 : 9 + count]
    return [(f"lab-{i + 1:02d}", ip) for i, ip in enumerate(hosts)]
