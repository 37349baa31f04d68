"""The ``MonitoringStatus`` port: what the monitoring system says about a delivery, right now.

    MonitoringStatus.observe(delivery) -> Observed     its scrape targets, probes, check rules
                                                       and active alerts, in one look

Phase 2 registers each host as a scrape target (its node exporter) and phase 3 installs the
spec's monitoring checks (``CheckMonitoring``); phase 4 asks the monitoring system, never the
host, whether every host is up and every check passes (``orchestrator.phases.observed``). Every
value is identified by the labels phases 2 and 3 give it: ``delivery``, ``host``, ``check``.

Adapters: ``PrometheusApi`` (``orchestrator.adapters.prometheus_api``, Prometheus's HTTP API) and
``ScriptedMonitoringStatus`` (``orchestrator.testing``), held to the same contract
(``orchestrator.testing.contracts.monitoring_status``: the fake in tests/unit, the lab's
Prometheus in tests/integration). Errors (``orchestrator.engine.errors``): ``Refused`` when the
monitoring system refuses the question or answers nonsense, ``TransientError`` subclasses when it
could not answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TargetState:
    """One host's scrape target (its node exporter): whether the last scrape worked."""

    host: str
    instance: str  # ``address:port``
    up: bool
    error: str = ""  # why the last scrape failed; ``not scraped yet`` before the first one


@dataclass(frozen=True, slots=True)
class ProbeState:
    """The last probe of one check on one host (``ping``, ``tcp``, ``http`` checks)."""

    check: str
    host: str
    success: bool
    status_code: int | None = None  # ``http`` probes: the status the host answered


@dataclass(frozen=True, slots=True)
class RuleState:
    """One alert rule of a check: whether it is loaded, healthy and evaluated at least once."""

    check: str
    alert: str  # the rule's alert name, ``CheckDiskFull``
    evaluated: bool
    error: str = ""  # why it is unhealthy


@dataclass(frozen=True, slots=True)
class AlertState:
    """An active alert of a check: its condition holds (``pending``) or held long enough
    (``firing``)."""

    check: str
    host: str | None  # ``None`` when the alert names no host
    alert: str
    state: str  # ``pending`` | ``firing``


@dataclass(frozen=True, slots=True)
class Observed:
    """Everything the monitoring system says about one delivery."""

    targets: tuple[TargetState, ...] = ()
    probes: tuple[ProbeState, ...] = ()
    rules: tuple[RuleState, ...] = ()
    alerts: tuple[AlertState, ...] = ()


class MonitoringStatus(Protocol):
    """A monitoring system asked what it sees."""

    def observe(self, delivery: str) -> Observed:
        """The delivery's targets, probes, check rules and active alerts, as they are now."""
        ...
