"""Fakes of phase 7's monitoring ports, for tests; shipped with the package.

    InMemoryAppMonitoring   ``AppMonitoring``: keeps each delivery's go-live checks; changed when
                            they differ from what it had (``published`` lists every call)
    ScriptedAlertRouting    ``AlertRouting``: a routing tree of one label, ``routes`` mapping its
                            value to receivers, ``default`` for every other alert; ``faults`` are
                            raised by the next calls, in order; ``asked`` lists the label sets

Each is held honest by a contract suite that runs the same assertions against the real adapter
on the lab (tests/unit/test_app_monitoring_contract.py and test_alert_routing_contract.py, and
their twins in tests/integration).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


@dataclass
class ScriptedAlertRouting:
    """The ``AlertRouting`` port as a routing tree on one label."""

    label: str = "team"
    routes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default: str = "unrouted"
    faults: list[Exception] = field(default_factory=list)
    asked: list[dict[str, str]] = field(default_factory=list)

    def receivers(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        self.asked.append(dict(labels))
        if self.faults:
            raise self.faults.pop(0)
        return tuple(self.routes.get(labels.get(self.label, ""), (self.default,)))


def routing_to(
    label: str, teams: Mapping[str, str], default: str = "unrouted"
) -> ScriptedAlertRouting:
    """A routing tree sending ``label=value`` to the receiver ``teams[value]``."""
    routes: dict[str, Sequence[str]] = {value: (receiver,) for value, receiver in teams.items()}
    return ScriptedAlertRouting(label, {k: tuple(v) for k, v in routes.items()}, default)
