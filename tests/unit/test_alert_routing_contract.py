"""The ``AlertRouting`` contract for ``ScriptedAlertRouting``, routing as the lab's Alertmanager
does (the same checks run against ``AmtoolRouting`` in
tests/integration/test_alert_routing_contract.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.lab import alertmanager
from orchestrator.testing.contracts.alert_routing import CHECKS, World, scripted_world


def lab_routes() -> World:
    teams = {receiver: receiver for receiver in alertmanager.TEAMS.values()}
    return scripted_world(alertmanager.ROUTE_LABEL, teams, alertmanager.UNROUTED)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_scripted_alert_routing_keeps_the_contract(check: Callable[[World], None]) -> None:
    check(lab_routes())
