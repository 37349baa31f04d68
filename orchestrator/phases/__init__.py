"""The seven phases of a delivery, in order, with their steps and gates.

Each phase module has a ``phase(...)`` function taking the adapters its steps work through; the
composition root (``orchestrator.wiring.Wiring.phases``) calls them with the site's adapters.
Steps not written yet are ``Placeholder`` steps: they report ``not implemented`` and stop the run
(fail closed). Replace a placeholder with the real step under the same key.
"""

from typing import Never

from orchestrator.engine.phase import Phase
from orchestrator.phases import base, buddycheck, golive, handover, migration, network, software
from orchestrator.phases.base import AdapterSource, RecordsSource
from orchestrator.phases.gateway import GATEWAY_ADDRESSES
from orchestrator.phases.handover import HandoverSource
from orchestrator.phases.migration import MigrationAdapterSource
from orchestrator.phases.netbox_steps import IpamSource, Placement


def all_phases(  # noqa: PLR0913, PLR0917 - a source per kind of adapter, and the site's values
    ipam: IpamSource,
    adapters: AdapterSource,
    records: RecordsSource,
    placement: Placement | None = None,
    gateway_addresses: int = GATEWAY_ADDRESSES,
    handover_adapters: HandoverSource | None = None,
    migration_adapters: MigrationAdapterSource | None = None,
) -> tuple[Phase, ...]:
    """Phases 1-7, their steps working through the given adapter sources (called on first use);
    phases 5 and 6 refuse to run without ``handover_adapters`` and ``migration_adapters``."""
    return (
        network.network_phase(ipam, placement, gateway_addresses=gateway_addresses),
        base.phase(adapters, ipam, records),
        software.phase(adapters),
        buddycheck.phase(adapters, ipam, records),
        handover.phase(handover_adapters, ipam),
        migration.phase(migration_adapters),
        golive.phase(adapters, handover_adapters or handover.unwired_handover),
    )


def _no_adapters() -> Never:
    raise AssertionError("the phases' names were asked for, not their steps' adapters")


def phase_names() -> dict[int, str]:
    """The number and name of each phase, without adapters (no step is run)."""
    return {
        phase.number: phase.name for phase in all_phases(_no_adapters, _no_adapters, _no_adapters)
    }


__all__ = ["all_phases", "phase_names"]
