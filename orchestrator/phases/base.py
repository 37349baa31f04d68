"""Phase 2, base configuration: machines from the standard images, updates, standard monitoring."""

from orchestrator.engine.phase import Phase
from orchestrator.engine.step import Placeholder

PHASE = Phase(
    number=2,
    name="base",
    title="Base configuration",
    entries=(
        Placeholder("base.machines", "Bring the machines up from the standard images"),
        Placeholder("base.reachability", "Reach every host over SSH and pin its host key"),
        Placeholder("base.updates", "Install the latest security updates"),
        Placeholder("base.monitoring", "Install the standard monitoring checks"),
    ),
)
