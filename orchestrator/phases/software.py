"""Phase 3, custom software & implementation.

One playbook run (``orchestrator/playbooks/phase3_software.yml``) on every host: the customer's
software per role (web: nginx; db: PostgreSQL with the customer's database and user; lb: haproxy
on the VIP with the backends from phase 1), tuning (sysctl, limits), customer user access,
monitoring of the extra software, and backups (restic to a repository of its own on the site's
backup host, over sftp with a key of its own: repository, schedule, first backup, verified
restore).
Then the spec's monitoring checks go into the monitoring system (``phases.monitoring``).
"""

from orchestrator.engine.phase import Phase
from orchestrator.phases.base import AdapterSource, PlaybookStep
from orchestrator.phases.monitoring import ChecksStep

#: The restic repositories' password: the site's (``backups.password``) or generated per delivery.
RESTIC_PASSWORD = "restic_password"  # noqa: S105 - the name of a secret, not its value
SECRETS = ("db_password", RESTIC_PASSWORD)


def phase(adapters: AdapterSource) -> Phase:
    """Phase 3 with its steps working through ``adapters``."""
    return Phase(
        number=3,
        name="software",
        title="Custom software & implementation",
        entries=(
            PlaybookStep(
                adapters,
                "software.configure",
                "Software per role, tuning, user access, monitoring, backups",
                "phase3_software.yml",
                SECRETS,
            ),
            ChecksStep(adapters),
        ),
    )


__all__ = ["RESTIC_PASSWORD", "SECRETS", "phase"]
