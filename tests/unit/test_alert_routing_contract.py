"""Where an alert goes, as ``AlertRouting.receivers`` says: the same assertions hold for
``ScriptedAlertRouting`` (here) and for ``AmtoolRouting`` against the lab's Alertmanager
(tests/integration/test_alert_routing_contract.py).

A world is a routing tree on one label: each team's value of it reaches the team's receiver,
and every other alert reaches a default receiver, as the lab's Alertmanager is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.engine.ports.alert_routing import AlertRouting
from orchestrator.lab import alertmanager
from orchestrator.testing import routing_to


@dataclass(frozen=True)
class World:
    """A routing tree and what it is known to hold."""

    routing: AlertRouting
    label: str  # the label routes match on
    teams: Mapping[str, str]  # its value -> the receiver that value reaches
    default: str  # where everything else goes


def check_each_team_reaches_its_receiver(world: World) -> None:
    for value, receiver in world.teams.items():
        labels = {world.label: value, "alertname": "GoLiveCheckFailed", "delivery": "rt-contract"}
        assert world.routing.receivers(labels) == (receiver,)


def check_an_alert_of_no_team_reaches_the_default_only(world: World) -> None:
    assert world.routing.receivers({"alertname": "InstanceDown"}) == (world.default,)
    assert world.routing.receivers({world.label: "nobody-s-team"}) == (world.default,)


def check_label_values_are_taken_literally(world: World) -> None:
    value, receiver = next(iter(world.teams.items()))
    labels = {world.label: value, "customer": 'Bakkerij "de Vries", café = 100%\\ok'}
    assert world.routing.receivers(labels) == (receiver,)


CHECKS = (
    check_each_team_reaches_its_receiver,
    check_an_alert_of_no_team_reaches_the_default_only,
    check_label_values_are_taken_literally,
)


def scripted_world() -> World:
    """The fake, routing as the lab's Alertmanager does."""
    teams = {receiver: receiver for receiver in alertmanager.TEAMS.values()}
    label = alertmanager.ROUTE_LABEL
    return World(
        routing_to(label, teams, alertmanager.UNROUTED), label, teams, alertmanager.UNROUTED
    )


def test_each_team_reaches_its_receiver() -> None:
    check_each_team_reaches_its_receiver(scripted_world())


def test_an_alert_of_no_team_reaches_the_default_only() -> None:
    check_an_alert_of_no_team_reaches_the_default_only(scripted_world())


def test_label_values_are_taken_literally() -> None:
    check_label_values_are_taken_literally(scripted_world())
