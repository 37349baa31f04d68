"""The lab's layer-2 segment: one bridge on the controller, one namespace and veth per host.

Every link the lab creates carries ``LINK_ALIAS``; every namespace starts with ``NETNS_PREFIX``.
Removal touches only those. A link with one of our names but without our alias belongs to
someone else: the lab raises ``UnsafeTarget`` and leaves it alone.

Nothing routes lab traffic off the machine: the bridge is not enslaved to any uplink, no NAT rule
is made, and forwarding is switched off for packets arriving on the bridge. Hosts get a default
route via the controller only so that tools reading "the default address" find their lab address.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import structlog

from orchestrator.lab.addressing import (
    BRIDGE,
    CONTROLLER,
    LAB_PREFIX,
    LINK_ALIAS,
    NETNS_PREFIX,
    lab_address,
    netns_name,
    veth_name,
)
from orchestrator.lab.errors import LabError, UnsafeTarget
from orchestrator.lab.files import file_lock
from orchestrator.lab.preflight import require_root, require_tools
from orchestrator.lab.proc import run, succeeds

log = structlog.get_logger(__name__)

NETNS_DIR = Path("/run/netns")
#: The bridge and namespaces are machine-wide, so their lock is too.
NET_LOCK = Path("/run/lock/orchestrator-lab-network.lock")
HOST_IFACE = "eth0"
_TOOLS = {"ip": "iproute2"}


# --- reading -----------------------------------------------------------------------------------


def _links() -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = json.loads(run(["ip", "-j", "link", "show"]).stdout or "[]")
    return links


def _link(name: str) -> dict[str, Any] | None:
    return next((link for link in _links() if link.get("ifname") == name), None)


def _ours(link: dict[str, Any]) -> bool:
    return link.get("ifalias") == LINK_ALIAS


def lab_links() -> list[str]:
    """Names of the links in the controller's namespace that carry the lab's alias."""
    return sorted(str(link["ifname"]) for link in _links() if _ours(link))


def lab_namespaces() -> list[str]:
    """Names of the network namespaces the lab made (by prefix)."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(NETNS_PREFIX))


def namespace_pids(namespace: str) -> list[int]:
    """Processes inside one lab namespace (a container whose nspawn died keeps running there)."""
    if not namespace.startswith(NETNS_PREFIX) or not (NETNS_DIR / namespace).exists():
        return []
    listed = run(["ip", "netns", "pids", namespace], check=False).stdout
    return [int(word) for word in listed.split() if word.isdigit()]


def namespace_live(namespace: str) -> bool:
    """Whether the namespace file is mounted (a namespace), not just a file left on disk."""
    path = str(NETNS_DIR / namespace)
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    return any(line.split()[1] == path for line in mounts)


def netns_path(name: str) -> Path:
    """The namespace file of lab host ``name`` (what nspawn joins)."""
    return NETNS_DIR / netns_name(name)


def _claimed(name: str) -> dict[str, Any] | None:
    """The link ``name`` if it is ours, ``None`` if absent; refuse if it is someone else's."""
    link = _link(name)
    if link is not None and not _ours(link):
        raise UnsafeTarget(
            f"a network link named {name} exists but was not made by the lab",
            f"the lab only touches links with the alias {LINK_ALIAS!r}; rename or remove it",
        )
    return link


# --- the bridge --------------------------------------------------------------------------------


def ensure_bridge() -> None:
    """Create the lab bridge with the controller address, or check and repair the existing one."""
    require_root()
    require_tools(_TOOLS)
    with file_lock(NET_LOCK):
        _ensure_bridge()


def _ensure_bridge() -> None:
    if _claimed(BRIDGE) is None:
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        run(["ip", "link", "set", "dev", BRIDGE, "alias", LINK_ALIAS])
        log.info("bridge_created", bridge=BRIDGE)
    address = f"{CONTROLLER}/{LAB_PREFIX.prefixlen}"
    run(["ip", "addr", "replace", address, "dev", BRIDGE])
    run(["ip", "link", "set", "dev", BRIDGE, "up"])
    _keep_local(BRIDGE)


def _keep_local(iface: str) -> None:
    """No forwarding of packets that arrive on ``iface``; no IPv6 on it (the lab is IPv4 only)."""
    for setting, value in (("ipv4/conf/{}/forwarding", "0"), ("ipv6/conf/{}/disable_ipv6", "1")):
        knob = Path("/proc/sys/net") / setting.format(iface)
        if knob.exists() and knob.read_text().strip() != value:
            knob.write_text(value)


def remove_bridge() -> None:
    """Delete the lab bridge if it is ours (its hosts' veths are detached with it)."""
    with file_lock(NET_LOCK):
        if _claimed(BRIDGE) is not None:
            run(["ip", "link", "del", BRIDGE])
            log.info("bridge_removed", bridge=BRIDGE)


# --- hosts -------------------------------------------------------------------------------------


def attach_host(name: str, ip: str, known: Collection[str] = ()) -> None:
    """Give lab host ``name`` its namespace, wired to the bridge, with address ``ip``. No other
    namespace may hold ``ip``; those in ``known`` (hosts whose recorded addresses the caller has
    checked) are not looked into."""
    address = lab_address(ip)
    ensure_bridge()
    with file_lock(NET_LOCK):
        _attach(name, address, known)
    log.info("host_attached", host=name, address=str(address), veth=veth_name(name))


def _attach(name: str, address: IPv4Address, known: Collection[str]) -> None:
    namespace, veth = netns_name(name), veth_name(name)
    _free_address(address, {namespace, *known})
    if not namespace_live(namespace):
        remove_namespace(namespace)  # a stale file, e.g. after a reboot when /run is on disk
        run(["ip", "netns", "add", namespace])
    if _claimed(veth) is not None and not _peer_present(namespace):
        run(["ip", "link", "del", veth])
    if _link(veth) is None:
        run(
            [
                "ip",
                "link",
                "add",
                veth,
                "type",
                "veth",
                "peer",
                "name",
                HOST_IFACE,
                "netns",
                namespace,
            ]
        )
        run(["ip", "link", "set", "dev", veth, "alias", LINK_ALIAS])
    run(["ip", "link", "set", "dev", veth, "master", BRIDGE, "up"])
    _keep_local(veth)
    _configure_inside(namespace, f"{address}/{LAB_PREFIX.prefixlen}")
    # the controller may still map the address to a link-layer address that is gone (a stale
    # namespace's, or the host's before it was made again), and would keep sending there
    run(["ip", "neigh", "flush", "to", str(address), "dev", BRIDGE])


def _free_address(address: IPv4Address, skipped: Collection[str]) -> None:
    """Make sure no lab namespace outside ``skipped`` holds ``address``. Its interface would
    answer ARP for the new host and take its traffic (no SSH banner, ever). One with no process
    inside is a host that is gone (left by an earlier session or another state folder): it is
    removed. A live one is refused."""
    for other in lab_namespaces():
        if other in skipped or str(address) not in _addresses(other):
            continue
        inside = namespace_pids(other)
        if inside:
            raise LabError(
                f"address {address} is held by lab namespace {other}, which still runs "
                f"processes ({', '.join(map(str, inside[:5]))})",
                "destroy that host first (orchestrator lab down removes every lab host), or "
                "use another address",
            )
        remove_namespace(other)  # its end of the veth pair goes with it, and the pair with that
        log.warning("stale_namespace_removed", namespace=other, address=str(address))


def _addresses(namespace: str) -> set[str]:
    """The IPv4 addresses inside one lab namespace (none if it is only a file left on disk)."""
    shown = run(["ip", "-j", "-4", "-n", namespace, "addr", "show"], check=False)
    if shown.returncode != 0 or not shown.stdout.strip():
        return set()
    return {a["local"] for link in json.loads(shown.stdout) for a in link.get("addr_info", [])}


def _peer_present(namespace: str) -> bool:
    return succeeds(["ip", "-n", namespace, "link", "show", "dev", HOST_IFACE])


def _configure_inside(namespace: str, cidr: str) -> None:
    """Address, links and route inside the namespace (nspawn cannot bring ``lo`` up itself)."""
    inside = ["ip", "-n", namespace]
    run([*inside, "addr", "flush", "dev", HOST_IFACE, "scope", "global"])
    run([*inside, "addr", "add", cidr, "dev", HOST_IFACE])
    run([*inside, "link", "set", "dev", HOST_IFACE, "up"])
    run([*inside, "link", "set", "dev", "lo", "up"])
    run([*inside, "route", "replace", "default", "via", str(CONTROLLER), "dev", HOST_IFACE])


def detach_host(name: str) -> None:
    """Remove lab host ``name``'s veth and namespace; nothing to do if they are gone."""
    with file_lock(NET_LOCK):
        remove_link(veth_name(name))
        remove_namespace(netns_name(name))
    log.info("host_detached", host=name)


def remove_namespace(namespace: str) -> None:
    """Delete one lab namespace (refusing names without the lab prefix)."""
    if not namespace.startswith(NETNS_PREFIX):
        raise UnsafeTarget(f"{namespace!r} is not a lab namespace")
    if (NETNS_DIR / namespace).exists():
        run(["ip", "netns", "del", namespace])


def remove_link(name: str) -> None:
    """Delete one link if it carries the lab's alias."""
    if _claimed(name) is not None:
        run(["ip", "link", "del", name])
