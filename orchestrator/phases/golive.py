"""Phase 7, go-live & production: the go-live checks, application monitoring, the evaluation,
and the handover to the operations team.

    golive.checks        the spec's go-live checks sent to the platform by address
                         (``orchestrator.phases.app_checks``); the ``go_live`` approval signs
                         their results and confirms the manual ones
    go_live              the delivery manager's approval to go live
    golive.monitoring    application monitoring switched on
    golive.evaluation    the evaluation recorded (``orchestrator evaluate``)
    golive.operations    the final report for the operations team
    ops_acceptance       the operations team accepts the platform: the delivery is done
"""

from orchestrator.engine.gates import GO_LIVE, OPS_ACCEPTANCE
from orchestrator.engine.phase import Phase
from orchestrator.engine.step import Placeholder
from orchestrator.phases.app_checks import GoLiveChecksStep
from orchestrator.phases.base import AdapterSource
from orchestrator.phases.golive_monitoring import MonitoringStep


def phase(adapters: AdapterSource) -> Phase:
    """The phase's steps, working through ``adapters``."""
    return Phase(
        number=7,
        name="golive",
        title="Go-live & production",
        entries=(
            GoLiveChecksStep(adapters),
            GO_LIVE,
            MonitoringStep(adapters),
            Placeholder("golive.evaluation", "Record the evaluation"),
            Placeholder("golive.operations", "Hand over to the operations team"),
            OPS_ACCEPTANCE,
        ),
    )
