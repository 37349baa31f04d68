"""Phase 6, customer implementation & migration."""

from orchestrator.engine.phase import Phase
from orchestrator.engine.step import Placeholder


def phase() -> Phase:
    """The phase's steps (placeholders until it is written)."""
    return Phase(
        number=6,
        name="migration",
        title="Customer implementation & migration",
        entries=(
            Placeholder("migration.data", "Migrate the data sets"),
            Placeholder("migration.application", "Migrate the application"),
            Placeholder("migration.verify", "Verify the migration"),
        ),
    )
