"""What publishing go-live checks does, as ``AppMonitoring.publish_app_checks`` tells it: the same
assertions hold for ``InMemoryAppMonitoring`` (``memory_world``: tests/unit/
test_app_monitoring_contract.py) and for ``FileAppMonitoring`` against the
lab's Prometheus and blackbox exporter (tests/integration/test_app_monitoring_contract.py).

A world is a monitoring system and a way to see which go-live checks of a delivery alert (a
real Prometheus: the rules it has loaded). Deliveries are ``am-contract-*``; the probes point at
loopback only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from orchestrator.engine.ports.app_monitoring import AppChecks, AppMonitoring, GoLiveProbe
from orchestrator.testing.app_monitoring import InMemoryAppMonitoring

PREFIX = "am-contract-"
LABELS = {"customer": "Contract B.V.", "tenant": "contract", "team": "ops-b"}
HTTP = GoLiveProbe("home", "http", "http://127.0.0.1:9090/-/healthy", None, "shop.example.net",
                200, "Healthy")  # fmt: skip
TCP = GoLiveProbe("port", "tcp", "127.0.0.1:9090", "contract-01")


@dataclass(frozen=True)
class World:
    """A monitoring system, and the go-live checks of a delivery it alerts on."""

    monitoring: AppMonitoring
    loaded: Callable[[str], set[str]]


def checks(delivery: str, *probes: GoLiveProbe) -> AppChecks:
    return AppChecks(delivery, probes, LABELS, "30s")


def check_publishing_installs_once_then_changes_nothing(world: World) -> None:
    delivery = f"{PREFIX}once"
    assert world.monitoring.publish_app_checks(checks(delivery, HTTP, TCP))
    assert not world.monitoring.publish_app_checks(checks(delivery, HTTP, TCP))
    assert world.loaded(delivery) == {"home", "port"}


def check_a_changed_check_is_a_change_and_a_removed_one_goes(world: World) -> None:
    delivery = f"{PREFIX}change"
    world.monitoring.publish_app_checks(checks(delivery, HTTP, TCP))
    assert world.monitoring.publish_app_checks(checks(delivery, replace(HTTP, expect_status=204)))
    assert world.loaded(delivery) == {"home"}
    assert world.monitoring.publish_app_checks(checks(delivery))
    assert not world.monitoring.publish_app_checks(checks(delivery))
    assert world.loaded(delivery) == set()


def check_removing_a_delivery_leaves_another_alone(world: World) -> None:
    one, two = f"{PREFIX}one", f"{PREFIX}two"
    world.monitoring.publish_app_checks(checks(one, HTTP))
    world.monitoring.publish_app_checks(checks(two, HTTP, TCP))
    assert world.monitoring.publish_app_checks(checks(one))
    assert world.loaded(one) == set()
    assert world.loaded(two) == {"home", "port"}
    world.monitoring.publish_app_checks(checks(two))


CHECKS: tuple[Callable[[World], None], ...] = (
    check_publishing_installs_once_then_changes_nothing,
    check_a_changed_check_is_a_change_and_a_removed_one_goes,
    check_removing_a_delivery_leaves_another_alone,
)


def memory_world() -> World:
    memory = InMemoryAppMonitoring()

    def loaded(delivery: str) -> set[str]:
        installed = memory.installed.get(delivery)
        return set(installed.checks()) if installed else set()

    return World(memory, loaded)
