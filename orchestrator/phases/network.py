"""Phase 1, network & infrastructure: NetBox reservations, load balancer, contacts, hardware."""

from orchestrator.engine.gates import PRECONDITIONS
from orchestrator.engine.phase import Phase
from orchestrator.engine.step import Placeholder

PHASE = Phase(
    number=1,
    name="network",
    title="Network & infrastructure",
    entries=(
        PRECONDITIONS,
        Placeholder("network.tenant", "Record the customer as a NetBox tenant, with contacts"),
        Placeholder("network.vlan", "Reserve a VLAN from the VLAN group"),
        Placeholder("network.prefix", "Reserve a prefix from the parent prefix"),
        Placeholder("network.addresses", "Reserve an IP address per host"),
        Placeholder("network.load_balancer", "Base configuration of the load balancer"),
        Placeholder("network.access", "Record who gets access"),
        Placeholder("network.hardware", "Order new hardware"),
    ),
)
