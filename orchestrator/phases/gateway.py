"""The gateway address(es) at the start of a delivery's prefix, never given to a host.

The site keeps the first ``gateway_addresses`` usable addresses of each delivery prefix for the
gateway (default 1, 0 keeps none). The addresses step records them in NetBox before it allocates
host addresses through ``available-ips``, so NetBox never hands them out: keyed IP addresses
(``acme-webshop/ip/gateway``, ``acme-webshop/ip/gateway-2``, ...) with status ``reserved`` and a
description naming the delivery's gateway. They get no NetBox role: ``vrrp``, ``hsrp``, ``glbp``
and ``carp`` name a redundancy protocol we do not know, and those roles (like ``anycast`` and
``vip``) exempt an address from NetBox's duplicate-address check, which a gateway must keep.

A gateway address that something else already holds (a host of a delivery reserved before this
setting, or an address someone recorded by hand) is kept where it is and reported (a ``skip`` line
in the plan, the warning ``gateway_address_held``, ``netbox_gateway_held`` in the audit log)
instead of failing: a failed phase 1 releases the delivery's reservations, and moving a live host
is not phase 1's to decide. While one is held the addresses step runs again on every run (its
inputs count the reports), so it records the gateway once the address is free.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import structlog

from orchestrator.engine.errors import KeyTaken, Refused
from orchestrator.engine.ports.ipam import Ipam, Kind, New, Owned
from orchestrator.engine.step import StepContext
from orchestrator.phases.reservations import Make, key_of, record
from orchestrator.spec import DeliverySpec
from orchestrator.store.records import Json

log = structlog.get_logger("orchestrator.phases.network")

#: How many addresses at the start of a prefix are kept for the gateway unless the site says.
GATEWAY_ADDRESSES: Final = 1
GATEWAY_STATUS: Final = "reserved"
#: Audit action: gateway addresses found held (``{"held": {address: holder}}``).
HELD: Final = "netbox_gateway_held"


def usable(prefix_length: int, version: int) -> int:
    """How many addresses NetBox hands out from a prefix (not a pool) of this length: all of an
    IPv4 /31-/32 or IPv6 /127-/128, else all but IPv4's network and broadcast addresses or IPv6's
    subnet-router anycast address (NetBox's ``Prefix.usable_ip_bounds``)."""
    bits = 32 if version == 4 else 128
    size = 1 << (bits - prefix_length)
    if prefix_length >= bits - 1:
        return size
    return size - (2 if version == 4 else 1)


def gateway_addresses(prefix: str, count: int) -> list[str]:
    """The first ``count`` usable addresses of ``prefix``, with its length (``10.213.128.1/28``)."""
    network = ipaddress.ip_network(prefix, strict=False)
    return [f"{host}/{network.prefixlen}" for host in itertools.islice(network.hosts(), count)]


def gateway_key(delivery: str, number: int) -> str:
    """``acme-webshop/ip/gateway`` for the first gateway address, ``.../gateway-2`` after it."""
    return key_of(delivery, "ip", "gateway" if number == 1 else f"gateway-{number}")


def wanted_gateway(delivery: str, prefix: str, count: int, tenant: int) -> list[New]:
    """The gateway addresses of ``prefix`` to record for the delivery, keyed, in order."""
    fields: dict[str, Json] = {
        "status": GATEWAY_STATUS, "tenant": tenant, "description": f"gateway of {delivery}",
    }  # fmt: skip
    return [
        New(gateway_key(delivery, number), {**fields, "address": address})
        for number, address in enumerate(gateway_addresses(prefix, count), start=1)
    ]


def host_of(address: str) -> str:
    """``10.213.128.1`` from ``10.213.128.1/28``."""
    return address.split("/", 1)[0]


def room_problem(spec: DeliverySpec, gateway: int) -> str | None:
    """Why a prefix of the spec's length cannot hold the gateway address(es), the hosts given no
    address and the VIP; ``None`` if it can. The spec's own check counts no gateway: the number is
    the site's. ``prefix /29 holds 6 usable addresses: 1 gateway + 5 hosts + 1 VIP do not fit``."""
    net = spec.network
    hosts = sum(1 for host in spec.expanded_hosts() if host.address is None)
    vip = int(net.load_balancer is not None and net.load_balancer.vip is True)
    needed, version = gateway + hosts + vip, net.parent.version
    room = usable(net.prefix_length, version)
    if needed <= room:
        return None
    parts = [
        f"{gateway} gateway" + (" addresses" if gateway > 1 else "") if gateway else "",
        f"{hosts} host" + ("s" if hosts != 1 else "") if hosts else "",
        f"{vip} VIP" if vip else "",
    ]
    message = (
        f"prefix /{net.prefix_length} holds {room} usable addresses: "
        f"{' + '.join(part for part in parts if part)} do not fit"
    )
    for length in range(net.prefix_length - 1, net.parent.prefixlen, -1):
        if (bigger := usable(length, version)) >= needed:
            return f"{message}; network.prefix_length {length} would hold {bigger}"
    return message


@dataclass(frozen=True, slots=True)
class Held:
    """A gateway address something else holds: kept where it is, no gateway recorded at it."""

    key: str
    address: str
    holder: Owned

    def __str__(self) -> str:
        if self.holder.key:
            return (
                f"gateway address {self.address} is held by {self.holder.key} "
                f"(#{self.holder.id}): kept, no gateway recorded there; to free it, move that "
                "address (in NetBox and on the host) and run phase 1 again"
            )
        return (
            f"gateway address {self.address} is held by NetBox IP address #{self.holder.id} "
            f"({self.holder.value}), not the delivery's: kept, no gateway recorded there"
        )


def held_by_delivery(wanted: Sequence[New], found: dict[str, Owned]) -> list[Held]:
    """Gateway addresses not yet recorded that another of the delivery's addresses holds (a host
    allocated before the gateway was kept), from what the delivery owns: no request."""
    keys = {item.key for item in wanted}
    holders = {host_of(item.value): item for key, item in found.items() if key not in keys}
    return [
        Held(item.key, address, holders[host_of(address)])
        for item in wanted
        if item.key not in found and host_of(address := str(item.fields["address"])) in holders
    ]


def held_elsewhere(ipam: Ipam, wanted: Sequence[New]) -> list[Held]:
    """The gateway addresses of ``wanted`` that NetBox holds already, whoever owns them (one read
    each: only after NetBox refused to record them, or in a plan)."""
    held = []
    for item in wanted:
        address = str(item.fields["address"])
        holder = ipam.find(Kind.IP, host_of(address))  # by host: whatever its prefix length
        if holder is not None:
            held.append(Held(item.key, address, holder))
    return held


def gateway_maker(ipam: Ipam, delivery: str, held: list[Held]) -> Make:
    """Create gateway addresses; if NetBox refuses because some are held (its duplicate-address
    check), record the others and add the held ones to ``held``."""

    def make(items: Sequence[New]) -> list[Owned]:
        try:
            return ipam.create(Kind.IP, delivery, items)
        except KeyTaken:
            raise
        except Refused as exc:
            found = held_elsewhere(ipam, items)
            # ours after all (an earlier request committed late): NetBox 4.7 says so as a taken
            # key; this covers a NetBox that names the duplicate address instead
            if any(one.holder.key == one.key for one in found):
                raise KeyTaken(str(exc)) from exc
            if not found:
                raise
            known = {one.key for one in held}
            held.extend(one for one in found if one.key not in known)
            taken = {one.key for one in found}
            rest = [item for item in items if item.key not in taken]
            return ipam.create(Kind.IP, delivery, rest) if rest else []

    return make


def holder_of(held: Held) -> str:
    """Who holds a gateway address: its key, or ``#id`` if it is not the delivery's."""
    return held.holder.key or f"#{held.holder.id}"


def report_held(ctx: StepContext, held: Sequence[Held], prefix: str) -> None:
    """Log each held gateway address as a warning and record them in the audit log (which makes
    the addresses step's next run look again)."""
    for one in held:
        log.warning(
            "gateway_address_held", prefix=prefix, address=one.address, key=one.key,
            holder=holder_of(one), reason=str(one),
        )  # fmt: skip
    if held:
        record(ctx, HELD, {"held": {one.address: holder_of(one) for one in held}})


def held_reports(ctx: StepContext) -> int:
    """How often the delivery's gateway addresses were found held; the addresses step's inputs
    include it, so the step looks again on the next run while one is held."""
    if ctx.audit is None:
        return 0
    return sum(1 for entry in ctx.audit.list_audit(ctx.delivery.id) if entry.action == HELD)
