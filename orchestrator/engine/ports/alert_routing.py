"""The ``AlertRouting`` port: where an alerting system sends an alert with given labels.

    AlertRouting.receivers(labels) -> tuple[str, ...]     the receivers, in routing-tree order

Phase 7 (``golive.monitoring``) asks it, for the labels of each of the delivery's go-live alerts,
whether the alert reaches the receiver of the spec's operations team (the site says which one:
``monitoring.alertmanager.teams``); nothing is sent to anyone.

Adapters: ``AmtoolRouting`` (``orchestrator.adapters.alertmanager``: the running Alertmanager's
configuration, tested with ``amtool config routes test``) and ``ScriptedAlertRouting``
(``orchestrator.testing``), held to the same contract
(``orchestrator.testing.contracts.alert_routing``: the fake in tests/unit, the lab's Alertmanager
in tests/integration). Errors: ``Refused`` when the configuration cannot be read or tested,
``TransientError`` subclasses when the Alertmanager could not be asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

#: How long a go-live check fails before it alerts, when the site does not say.
ALERT_AFTER = "1m"


@dataclass(frozen=True, slots=True)
class TeamRoute:
    """How one operations team's alerts are routed: the label the routes match on, its value on
    the team's alerts, and the receiver that must get them."""

    label: str
    value: str
    receiver: str


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """The site's alerting for go-live: a route per operations team (``monitoring.alertmanager``),
    and how long a go-live check fails before it alerts."""

    teams: Mapping[str, TeamRoute] = field(default_factory=dict)
    alert_after: str = ALERT_AFTER


class AlertRouting(Protocol):
    """An alerting system's routing tree."""

    def receivers(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        """The receivers an alert with exactly ``labels`` is routed to, in order."""
        ...
