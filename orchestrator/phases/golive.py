"""Phase 7, go-live & production: the go-live checks, application monitoring, the evaluation,
and the handover to the operations team.

    golive.checks        the spec's go-live checks sent to the platform by address
                         (``orchestrator.phases.app_checks``); the ``go_live`` approval signs
                         their results and confirms the manual ones
    go_live              the delivery manager's approval to go live
    golive.monitoring    application monitoring switched on
    evaluation           the evaluation recorded (``orchestrator evaluate``) by the lead
                         engineer or the delivery manager
    golive.report        the final report the operations team accepts
                         (``orchestrator.phases.final_report``)
    ops_acceptance       the operations team accepts the platform: the delivery is done
"""

from orchestrator.engine.gates import EVALUATION, GO_LIVE, OPS_ACCEPTANCE
from orchestrator.engine.phase import Phase
from orchestrator.phases.app_checks import GoLiveChecksStep
from orchestrator.phases.base import AdapterSource
from orchestrator.phases.final_report import ReportStep
from orchestrator.phases.golive_monitoring import MonitoringStep
from orchestrator.phases.handover import HandoverSource, unwired_handover


def phase(adapters: AdapterSource, handover: HandoverSource = unwired_handover) -> Phase:
    """The phase's steps, working through ``adapters`` (and phase 5's, for the final report)."""
    return Phase(
        number=7,
        name="golive",
        title="Go-live & production",
        entries=(
            GoLiveChecksStep(adapters),
            GO_LIVE,
            MonitoringStep(adapters),
            EVALUATION,
            ReportStep(handover),
            OPS_ACCEPTANCE,
        ),
    )
