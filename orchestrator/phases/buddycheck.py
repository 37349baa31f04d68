"""Phase 4, internal quality control: a second engineer verifies the platform.

Failed checks become action items; the ``buddycheck`` gate before phase 5 needs every one closed.
"""

from orchestrator.engine.phase import Phase
from orchestrator.engine.step import Placeholder
from orchestrator.phases.evidence import EvidenceStep


def phase() -> Phase:
    """The phase's steps (placeholders until it is written)."""
    return Phase(
        number=4,
        name="buddycheck",
        title="Internal quality control (buddycheck)",
        entries=(
            Placeholder("buddycheck.verify", "Verify the platform against what was agreed"),
            EvidenceStep(),
        ),
    )
