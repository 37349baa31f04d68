"""``InMemoryAppMonitoring``: the ``AppMonitoring`` port in memory; it keeps each delivery's go-live
checks, and says changed when they differ from what it had (``published`` lists every call).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.engine.ports.app_monitoring import AppChecks


@dataclass
class InMemoryAppMonitoring:
    """The ``AppMonitoring`` port in memory."""

    installed: dict[str, AppChecks] = field(default_factory=dict)
    published: list[AppChecks] = field(default_factory=list)

    def publish_app_checks(self, checks: AppChecks) -> bool:
        self.published.append(checks)
        before = self.installed.pop(checks.delivery, None)
        if checks.probes:
            self.installed[checks.delivery] = checks
        return before != (checks if checks.probes else None)
