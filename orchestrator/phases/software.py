"""Phase 3, custom software & implementation."""

from orchestrator.engine.phase import Phase
from orchestrator.engine.step import Placeholder

PHASE = Phase(
    number=3,
    name="software",
    title="Custom software & implementation",
    entries=(
        Placeholder("software.packages", "Install the customer's software per role"),
        Placeholder("software.infrastructure", "Finish the infrastructure configuration"),
        Placeholder("software.tuning", "Performance and security tuning"),
        Placeholder("software.users", "Create user access"),
        Placeholder("software.monitoring", "Monitor the extra software"),
        Placeholder("software.backups", "Set up backups"),
    ),
)
