"""Phase 7, go-live & production: application monitoring, evaluation, handover to operations."""

from orchestrator.engine.gates import GO_LIVE, OPS_ACCEPTANCE
from orchestrator.engine.phase import Phase
from orchestrator.engine.step import Placeholder
from orchestrator.phases.base import AdapterSource
from orchestrator.phases.golive_monitoring import MonitoringStep


def phase(adapters: AdapterSource) -> Phase:
    """The phase's steps (placeholders until it is written)."""
    return Phase(
        number=7,
        name="golive",
        title="Go-live & production",
        entries=(
            GO_LIVE,
            Placeholder("golive.checks", "Run the go-live checks"),
            MonitoringStep(adapters),
            Placeholder("golive.evaluation", "Record the evaluation"),
            Placeholder("golive.operations", "Hand over to the operations team"),
            OPS_ACCEPTANCE,
        ),
    )
