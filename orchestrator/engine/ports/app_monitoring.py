"""The ``AppMonitoring`` port: a delivery's go-live checks as probes and alerts, installed.

    AppMonitoring.publish_app_checks(AppChecks) -> bool     whether anything changed

Phase 7 (``golive.monitoring``) resolves the spec's ``go_live.checks`` of kind ``http`` and
``tcp`` to the delivery's addresses (``orchestrator.phases.app_checks``): an ``http`` check goes
to the load balancer's VIP, or to each host of its role, with the URL's own host name as the
``Host`` header, never to the customer's public name; a ``tcp`` check goes to each host of its
role. Each target becomes a ``GoLiveProbe``; the monitoring system probes it and alerts, with the
delivery's ``labels`` (customer, tenant, delivery, the operations team's routing label), when it
has failed for ``alert_after``. Publishing replaces the delivery's earlier go-live probes, so a
check removed from the spec disappears; ``AppChecks(delivery, ())`` removes them all.

Adapters: ``FileAppMonitoring`` (``orchestrator.adapters.prometheus_files``: blackbox exporter
modules, file-SD probe targets and Prometheus alert rules) and ``InMemoryAppMonitoring``
(``orchestrator.testing``). Errors: ``Refused`` when the monitoring system refuses the
configuration (the blackbox exporter or Prometheus will not load it), ``TransientError``
subclasses when it could not be asked to reload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from orchestrator.engine.ports.alert_routing import ALERT_AFTER

type AppKind = Literal["http", "tcp"]
#: Labels the orchestrator gives the delivery's alerts itself (its checks', go-live or not, and
#: the customer's): a site's routing label must be another one.
OWN_LABELS = frozenset({"alertname", "check", "customer", "delivery", "host", "instance", "job",
                        "kind", "module", "role", "severity", "stage", "tenant"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class GoLiveProbe:
    """One target of a go-live check, reached by the delivery's own address."""

    check: str
    kind: AppKind
    target: str  # http: the URL with the address in place of its host; tcp: ``address:port``
    host: str | None = None  # the delivery's host probed; ``None`` for the VIP
    host_header: str | None = None  # http: the URL's own host, sent as ``Host`` (and TLS name)
    expect_status: int = 200  # http
    content: str | None = None  # http: text the body must contain (literally)

    @property
    def where(self) -> str:
        """The host probed, or ``vip``."""
        return self.host or "vip"


@dataclass(frozen=True, slots=True)
class AppChecks:
    """Every go-live probe of one delivery, and the labels its alerts carry."""

    delivery: str
    probes: tuple[GoLiveProbe, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    alert_after: str = ALERT_AFTER  # a Prometheus duration: ``30s``, ``1m``

    def checks(self) -> tuple[str, ...]:
        """The names of the checks probed, in order, each once."""
        return tuple(dict.fromkeys(p.check for p in self.probes))


class AppMonitoring(Protocol):
    """A monitoring system that probes a delivery's go-live checks and alerts on them."""

    def publish_app_checks(self, checks: AppChecks) -> bool:
        """Install ``checks`` in place of the delivery's earlier ones; whether anything changed."""
        ...
