"""The seven phases of a delivery, in order, with their steps and gates.

Steps not written yet are ``Placeholder`` steps: they report ``not implemented`` and stop the run
(fail closed). Replace a placeholder with the real step under the same key.
"""

from orchestrator.engine.phase import Phase
from orchestrator.phases import base, buddycheck, golive, handover, migration, network, software


def default_phases() -> tuple[Phase, ...]:
    """Phases 1-7."""
    return (
        network.PHASE,
        base.PHASE,
        software.PHASE,
        buddycheck.PHASE,
        handover.PHASE,
        migration.PHASE,
        golive.PHASE,
    )


__all__ = ["default_phases"]
