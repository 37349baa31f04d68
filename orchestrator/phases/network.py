"""Phase 1, network & infrastructure: NetBox reservations, load balancer, contacts, hardware.

Every object is created with the delivery's key (see ``orchestrator.phases.reservations``), so a
re-run adopts instead of allocating again and ``orchestrator release`` removes exactly what the
delivery made. ``network_phase(ipam)`` builds the phase on any ``Ipam`` (tests pass
``InMemoryIpam``); ``PHASE`` uses the NetBox named by ``NETBOX_URL``/``NETBOX_TOKEN`` or the lab's.
``gateway_addresses`` is the site's number of addresses kept for the gateway at the start of each
prefix (see ``orchestrator.phases.gateway``).
"""

from __future__ import annotations

import functools
import os

from orchestrator.adapters.ipam import Ipam
from orchestrator.adapters.netbox import NetBoxIpam
from orchestrator.engine.gates import HARDWARE_DELIVERED, PRECONDITIONS
from orchestrator.engine.phase import Phase
from orchestrator.lab.netbox import read_netbox_env
from orchestrator.lab.paths import LabPaths
from orchestrator.phases.gateway import GATEWAY_ADDRESSES
from orchestrator.phases.netbox_machines import (
    AccessStep,
    HardwareStep,
    LoadBalancerStep,
    MachinesStep,
)
from orchestrator.phases.netbox_steps import (
    AddressesStep,
    IpamSource,
    JournalStep,
    PrefixStep,
    TenantStep,
    VlanStep,
)

URL_ENV = "NETBOX_URL"
TOKEN_ENV = "NETBOX_TOKEN"  # noqa: S105 - the name of a variable, not a secret


@functools.cache
def default_ipam() -> Ipam:
    """NetBox from ``NETBOX_URL``/``NETBOX_TOKEN``, else the lab's (``.lab/netbox.env``)."""
    url, token = os.environ.get(URL_ENV), os.environ.get(TOKEN_ENV)
    if url and token:
        return NetBoxIpam(url, token)
    info = read_netbox_env(LabPaths.from_env())
    return NetBoxIpam(info.url, info.token)


def network_phase(
    ipam: IpamSource = default_ipam, *, gateway_addresses: int = GATEWAY_ADDRESSES
) -> Phase:
    """Phase 1 on ``ipam`` (called only when a step runs), keeping ``gateway_addresses`` at the
    start of the delivery's prefix for the gateway."""
    return Phase(
        number=1,
        name="network",
        title="Network & infrastructure",
        entries=(
            PRECONDITIONS,
            TenantStep(
                "network.tenant", "Record the customer as a NetBox tenant, with contacts", ipam
            ),
            VlanStep("network.vlan", "Reserve a VLAN from the VLAN group", ipam),
            PrefixStep(
                "network.prefix", "Reserve a prefix from the parent prefix", ipam, gateway_addresses
            ),
            AddressesStep(
                "network.addresses",
                "Record the gateway, reserve an IP address per host",
                ipam,
                gateway_addresses,
            ),
            MachinesStep(
                "network.machines", "Record planned VMs with interface and primary IP", ipam
            ),
            LoadBalancerStep(
                "network.load_balancer", "Base configuration of the load balancer", ipam
            ),
            AccessStep("network.access", "Record who gets access", ipam),
            HardwareStep("network.hardware", "Order new hardware", ipam),
            JournalStep("network.journal", "Write the phase's journal entries to NetBox", ipam),
            HARDWARE_DELIVERED,
        ),
    )


PHASE = network_phase()
