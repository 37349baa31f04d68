"""The ``CheckMonitoring`` port: the spec's monitoring checks, resolved to hosts, installed.

    CheckMonitoring.publish_checks(DeliveryChecks) -> bool     whether anything changed

Phase 3 resolves ``monitoring.checks`` to the delivery's hosts (names, roles, addresses from the
records) and hands them to a ``CheckMonitoring``, which turns them into whatever its monitoring
system runs (Prometheus alert rules and blackbox probes: ``orchestrator.adapters.prometheus``
renders them, ``LabPrometheus`` in ``orchestrator.lab.prometheus`` implements the port). Checks
with ``activate: build`` alert from phase 3 on; checks with ``activate: go_live`` are recorded but
stay silent until phase 7 publishes the same checks with ``live=True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.spec.model import MonitoringCheck


@dataclass(frozen=True, slots=True)
class CheckHost:
    """A host a check applies to."""

    name: str
    role: str
    address: str  # without the prefix length


@dataclass(frozen=True, slots=True)
class ResolvedCheck:
    """One spec check and the hosts it applies to."""

    check: MonitoringCheck
    hosts: tuple[CheckHost, ...]

    @property
    def name(self) -> str:
        """The check's name from the spec."""
        return self.check.name

    def active(self, *, live: bool) -> bool:
        """Whether the check alerts: build checks always, go-live checks once live."""
        return self.check.activate == "build" or live


@dataclass(frozen=True, slots=True)
class DeliveryChecks:
    """Every monitoring check of one delivery; ``live`` once phase 7 activated the go-live ones."""

    delivery: str
    checks: tuple[ResolvedCheck, ...]
    live: bool = False
    #: labels every rule carries besides its own (phase 7: the customer's, the team's route)
    labels: Mapping[str, str] = field(default_factory=dict)

    def active(self) -> tuple[ResolvedCheck, ...]:
        """The checks that alert now."""
        return tuple(c for c in self.checks if c.active(live=self.live))

    def pending(self) -> tuple[ResolvedCheck, ...]:
        """The checks recorded but not alerting yet."""
        return tuple(c for c in self.checks if not c.active(live=self.live))


def resolve(
    delivery: str,
    checks: Sequence[MonitoringCheck],
    hosts: Sequence[CheckHost],
    *,
    live: bool,
    labels: Mapping[str, str] | None = None,
) -> DeliveryChecks:
    """Each check with the hosts of its roles (every host when it names no roles)."""
    return DeliveryChecks(
        delivery,
        tuple(
            ResolvedCheck(c, tuple(h for h in hosts if c.roles is None or h.role in c.roles))
            for c in checks
        ),
        live,
        dict(labels or {}),
    )


def systemd_unit(process: str) -> str:
    """The systemd unit a ``process`` check watches: ``nginx`` -> ``nginx.service``."""
    suffixes = (".service", ".socket", ".timer", ".mount", ".target", ".path")
    return process if process.endswith(suffixes) else f"{process}.service"


class CheckMonitoring(Protocol):
    """A monitoring system that runs a delivery's checks."""

    def publish_checks(self, checks: DeliveryChecks) -> bool:
        """Install ``checks`` in place of the delivery's earlier ones; whether anything changed."""
        ...
