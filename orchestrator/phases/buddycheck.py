"""Phase 4, internal quality control: a second engineer verifies the platform.

    buddycheck.verify         checks on the hosts themselves
    buddycheck.observed       checks asked of other systems: the monitoring system sees every
                              host and check up, NetBox records what phase 2 found
                              (``orchestrator.phases.observed_step``)
    buddycheck.action_items   the results' fingerprint, which the sign-off signs
                              (``orchestrator.phases.evidence``)

Failed checks become action items as each check step finishes; the ``buddycheck`` gate before
phase 5 needs every one closed.
"""

from orchestrator.engine.phase import Phase
from orchestrator.engine.step import Placeholder
from orchestrator.phases.base import AdapterSource, RecordsSource
from orchestrator.phases.evidence import EvidenceStep
from orchestrator.phases.netbox_steps import IpamSource
from orchestrator.phases.observed_step import ObservedStep


def phase(adapters: AdapterSource, ipam: IpamSource, records: RecordsSource) -> Phase:
    """The phase's steps, asking through ``adapters``, ``ipam`` and ``records``."""
    return Phase(
        number=4,
        name="buddycheck",
        title="Internal quality control (buddycheck)",
        entries=(
            Placeholder("buddycheck.verify", "Verify the platform against what was agreed"),
            ObservedStep(adapters, ipam, records),
            EvidenceStep(),
        ),
    )
