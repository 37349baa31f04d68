"""What a monitoring system says about a delivery, as ``MonitoringStatus.observe`` gives it: the
same assertions hold for ``ScriptedMonitoringStatus`` (``ScriptedWorld``: tests/unit/
test_monitoring_status_contract.py) and for ``PrometheusApi`` against the lab's Prometheus
(tests/integration/test_monitoring_status_contract.py).

A world is arranged as phases 2 and 3 arrange a real one: scrape targets labelled with their
delivery and host, probes labelled with their check, alert rules labelled with their check and
delivery; then it is asked, once it has settled (a real Prometheus needs a few scrapes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.engine.ports.monitoring_status import (
    AlertState,
    MonitoringStatus,
    Observed,
    ProbeState,
    RuleState,
    TargetState,
)
from orchestrator.testing.monitoring_status import ScriptedMonitoringStatus

#: The deliveries of these checks (the real world removes ``ob-contract-*`` at its start and end).
PREFIX = "ob-contract-"
ALERT = "ContractCheck"

type Done = Callable[[Observed], bool]


class World(Protocol):
    """A monitoring system (or its fake) and a way to arrange what it sees."""

    @property
    def status(self) -> MonitoringStatus: ...

    def target(self, delivery: str, host: str, *, up: bool) -> None:
        """A host's node exporter target, answering or not."""
        ...

    def probe(self, delivery: str, check: str, host: str, *, answers: int | None) -> None:
        """An ``http`` check's probe of a host that answers with status ``answers``, or refuses
        the connection (``None``)."""
        ...

    def rule(self, delivery: str, check: str, host: str, *, holds: bool) -> None:
        """An alert rule ``ALERT`` of ``check`` about ``host``, whose condition holds or never
        holds (it needs an hour to fire: an alert whose condition holds is ``pending``)."""
        ...

    def settled(self, delivery: str, done: Done) -> Observed:
        """What ``status`` says of ``delivery``, once ``done`` holds for it or a deadline passed."""
        ...


def check_a_delivery_it_does_not_know_is_nothing(world: World) -> None:
    assert world.status.observe(f"{PREFIX}nobody") == Observed()


def _scraped(count: int) -> Done:
    return lambda o: (
        len(o.targets) == count and all(t.error != "not scraped yet" for t in o.targets)
    )


def check_targets_are_up_or_down_with_the_reason(world: World) -> None:
    delivery = f"{PREFIX}targets"
    world.target(delivery, "ob-up", up=True)
    world.target(delivery, "ob-down", up=False)
    world.target(f"{PREFIX}other", "ob-other", up=True)
    observed = world.settled(delivery, _scraped(2))
    assert {t.host: t.up for t in observed.targets} == {"ob-up": True, "ob-down": False}
    assert all(t.instance for t in observed.targets)
    (down,) = (t for t in observed.targets if not t.up)
    assert down.error
    (up,) = (t for t in observed.targets if t.up)
    assert up.error == ""
    assert (observed.probes, observed.rules, observed.alerts) == ((), (), ())


def check_probes_say_success_and_the_http_status(world: World) -> None:
    delivery = f"{PREFIX}probes"
    world.probe(delivery, "web", "ob-200", answers=200)
    world.probe(delivery, "web", "ob-404", answers=404)
    world.probe(delivery, "web", "ob-refused", answers=None)
    observed = world.settled(delivery, lambda o: len(o.probes) == 3)
    assert sorted(observed.probes, key=lambda p: p.host) == [
        ProbeState("web", "ob-200", success=True, status_code=200),
        ProbeState("web", "ob-404", success=True, status_code=404),  # any answer is a success
        ProbeState("web", "ob-refused", success=False, status_code=None),
    ]


def _evaluated(count: int) -> Done:
    return lambda o: len(o.rules) == count and all(r.evaluated for r in o.rules) and bool(o.alerts)


def check_rules_are_evaluated_and_a_holding_condition_is_a_pending_alert(world: World) -> None:
    delivery = f"{PREFIX}rules"
    world.rule(delivery, "holds", "ob-a", holds=True)
    world.rule(delivery, "quiet", "ob-a", holds=False)
    observed = world.settled(delivery, _evaluated(2))
    assert sorted(observed.rules, key=lambda r: r.check) == [
        RuleState("holds", ALERT, evaluated=True),
        RuleState("quiet", ALERT, evaluated=True),
    ]
    assert observed.alerts == (AlertState("holds", "ob-a", ALERT, "pending"),)


CHECKS = [
    check_a_delivery_it_does_not_know_is_nothing,
    check_targets_are_up_or_down_with_the_reason,
    check_probes_say_success_and_the_http_status,
    check_rules_are_evaluated_and_a_holding_condition_is_a_pending_alert,
]


@dataclass
class Arranged:
    """What the fake world was told about one delivery."""

    targets: list[TargetState] = field(default_factory=list)
    probes: list[ProbeState] = field(default_factory=list)
    rules: list[RuleState] = field(default_factory=list)
    alerts: list[AlertState] = field(default_factory=list)

    def observed(self) -> Observed:
        return Observed(tuple(self.targets), tuple(self.probes), tuple(self.rules),
                        tuple(self.alerts))  # fmt: skip


@dataclass
class ScriptedWorld:
    """The fake: what is arranged is what it says, at once."""

    status: ScriptedMonitoringStatus = field(default_factory=ScriptedMonitoringStatus)
    arranged: defaultdict[str, Arranged] = field(default_factory=lambda: defaultdict(Arranged))

    def target(self, delivery: str, host: str, *, up: bool) -> None:
        error = "" if up else "connection refused"
        self.arranged[delivery].targets.append(TargetState(host, f"{host}:9100", up, error))
        self._said(delivery)

    def probe(self, delivery: str, check: str, host: str, *, answers: int | None) -> None:
        self.arranged[delivery].probes.append(ProbeState(check, host, answers is not None, answers))
        self._said(delivery)

    def rule(self, delivery: str, check: str, host: str, *, holds: bool) -> None:
        self.arranged[delivery].rules.append(RuleState(check, ALERT, evaluated=True))
        if holds:
            self.arranged[delivery].alerts.append(AlertState(check, host, ALERT, "pending"))
        self._said(delivery)

    def _said(self, delivery: str) -> None:
        self.status.observed[delivery] = self.arranged[delivery].observed()

    def settled(self, delivery: str, done: Done) -> Observed:  # noqa: ARG002 - nothing to wait for
        return self.status.observe(delivery)
