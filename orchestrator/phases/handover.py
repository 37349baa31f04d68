"""Phase 5, handover: access details and documentation, customer confirmation, production.

The buddycheck sign-off comes first; the customer's confirmation (recorded by the delivery manager)
comes after the handover itself and before the systems go to production and the contract takes
effect.
"""

from orchestrator.engine.gates import BUDDYCHECK, CUSTOMER_CONFIRMATION
from orchestrator.engine.phase import Phase
from orchestrator.engine.step import Placeholder


def phase() -> Phase:
    """The phase's steps (placeholders until it is written)."""
    return Phase(
        number=5,
        name="handover",
        title="Handover",
        entries=(
            BUDDYCHECK,
            Placeholder("handover.document", "Write the handover document"),
            Placeholder("handover.access_details", "Hand over access details"),
            CUSTOMER_CONFIRMATION,
            Placeholder("handover.contract_effective", "Set the systems to production in NetBox"),
        ),
    )
