"""Where an alert goes, as ``AlertRouting.receivers`` says: the same assertions hold for
``ScriptedAlertRouting`` (``scripted_world``: tests/unit/test_alert_routing_contract.py) and for
``AmtoolRouting`` against the lab's Alertmanager (tests/integration/
test_alert_routing_contract.py).

A world is a routing tree on one label: each team's value of it reaches the team's receiver,
and every other alert reaches a default receiver, as the lab's Alertmanager is configured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from orchestrator.engine.ports.alert_routing import AlertRouting
from orchestrator.testing.alert_routing import routing_to


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


CHECKS: tuple[Callable[[World], None], ...] = (
    check_each_team_reaches_its_receiver,
    check_an_alert_of_no_team_reaches_the_default_only,
    check_label_values_are_taken_literally,
)


def scripted_world(label: str, teams: Mapping[str, str], default: str) -> World:
    """The fake, routing ``label``'s values to ``teams`` and everything else to ``default`` (as
    the real routing tree a test holds it to)."""
    return World(routing_to(label, teams, default), label, teams, default)
