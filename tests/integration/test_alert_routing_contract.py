"""The alert-routing contract against the lab's Alertmanager (same checks as the fake,
``orchestrator.testing.contracts.alert_routing``): its running configuration, read over its API
and tested with amtool. Nothing is sent to anyone."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.adapters.alertmanager import AmtoolRouting
from orchestrator.engine.errors import Unreachable
from orchestrator.lab import alertmanager
from orchestrator.testing.contracts.alert_routing import CHECKS, World


def lab_world() -> World:
    teams = {receiver: receiver for receiver in alertmanager.TEAMS.values()}
    routing = AmtoolRouting(alertmanager.URL)
    return World(routing, alertmanager.ROUTE_LABEL, teams, alertmanager.UNROUTED)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_amtool_routing_keeps_the_contract(check: Callable[[World], None]) -> None:
    check(lab_world())


def test_an_alertmanager_that_does_not_answer_is_unreachable() -> None:
    with pytest.raises(Unreachable, match=r"Alertmanager at http://127\.0\.0\.1:9 "):
        AmtoolRouting("http://127.0.0.1:9", timeout=2.0).receivers({"team": "ops-b"})
