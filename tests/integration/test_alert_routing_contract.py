"""The alert-routing contract against the lab's Alertmanager (same checks as the fake): its
running configuration, read over its API and tested with amtool. Nothing is sent to anyone."""

from __future__ import annotations

import pytest

from orchestrator.adapters.alertmanager import AmtoolRouting
from orchestrator.engine.errors import Unreachable
from orchestrator.lab import alertmanager
from tests.unit.test_alert_routing_contract import (
    World,
    check_an_alert_of_no_team_reaches_the_default_only,
    check_each_team_reaches_its_receiver,
    check_label_values_are_taken_literally,
)


def lab_world() -> World:
    teams = {receiver: receiver for receiver in alertmanager.TEAMS.values()}
    routing = AmtoolRouting(alertmanager.URL)
    return World(routing, alertmanager.ROUTE_LABEL, teams, alertmanager.UNROUTED)


def test_each_team_reaches_its_receiver() -> None:
    check_each_team_reaches_its_receiver(lab_world())


def test_an_alert_of_no_team_reaches_the_default_only() -> None:
    check_an_alert_of_no_team_reaches_the_default_only(lab_world())


def test_label_values_are_taken_literally() -> None:
    check_label_values_are_taken_literally(lab_world())


def test_an_alertmanager_that_does_not_answer_is_unreachable() -> None:
    with pytest.raises(Unreachable, match=r"Alertmanager at http://127\.0\.0\.1:9 "):
        AmtoolRouting("http://127.0.0.1:9", timeout=2.0).receivers({"team": "ops-b"})
