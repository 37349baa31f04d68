"""Phase 1, network & infrastructure: NetBox reservations, load balancer, contacts, hardware.

Every object is created with the delivery's key (see ``orchestrator.phases.reservations``), so a
re-run adopts instead of allocating again and ``orchestrator release`` removes exactly what the
delivery made. ``network_phase(ipam, placement)`` builds the phase on any ``Ipam`` (tests pass
``InMemoryIpam``; the composition root, ``orchestrator.wiring``, the site's NetBox).
``gateway_addresses`` is the site's number of addresses kept for the gateway at the start of each
prefix (see ``orchestrator.phases.gateway``).
"""

from __future__ import annotations

from orchestrator.engine.gates import HARDWARE_DELIVERED, PRECONDITIONS
from orchestrator.engine.phase import Phase
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
    Placement,
    PrefixStep,
    TenantStep,
    VlanStep,
)


def network_phase(
    ipam: IpamSource,
    placement: Placement | None = None,
    *,
    gateway_addresses: int = GATEWAY_ADDRESSES,
) -> Phase:
    """Phase 1 on ``ipam`` (called only when a step runs), placing VMs as ``placement`` says and
    keeping ``gateway_addresses`` at the start of the delivery's prefix for the gateway."""
    where = placement or Placement()
    return Phase(
        number=1,
        name="network",
        title="Network & infrastructure",
        entries=(
            PRECONDITIONS,
            TenantStep(
                "network.tenant",
                "Record the customer as a NetBox tenant, with contacts",
                ipam,
                where,
            ),
            VlanStep("network.vlan", "Reserve a VLAN from the VLAN group", ipam, where),
            PrefixStep(
                "network.prefix",
                "Reserve a prefix from the parent prefix",
                ipam,
                where,
                gateway_addresses=gateway_addresses,
            ),
            AddressesStep(
                "network.addresses",
                "Record the gateway, reserve an IP address per host",
                ipam,
                where,
                gateway_addresses=gateway_addresses,
            ),
            MachinesStep(
                "network.machines", "Record planned VMs with interface and primary IP", ipam, where
            ),
            LoadBalancerStep(
                "network.load_balancer", "Base configuration of the load balancer", ipam, where
            ),
            AccessStep("network.access", "Record who gets access", ipam, where),
            HardwareStep("network.hardware", "Order new hardware", ipam, where),
            JournalStep(
                "network.journal", "Write the phase's journal entries to NetBox", ipam, where
            ),
            HARDWARE_DELIVERED,
        ),
    )
