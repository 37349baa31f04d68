"""The ``Monitoring`` port: the monitoring system phase 2 registers each host with.

    Monitoring.targets_dir() -> Path     the folder of scrape targets (Prometheus file-based
                                         discovery): one ``*.json`` file per host
    MonitoringRegistrations              everything of one delivery registered with the
        .registrations(delivery)         monitoring system (host targets, probe targets, rule
        .unregister(delivery)            files, blackbox modules), listed and removed again

Adapters: ``FilePrometheus`` (``orchestrator.adapters.prometheus_files``) and ``FolderMonitoring``
(``orchestrator.testing``), held to one contract (``orchestrator.testing.contracts.monitoring``);
``FileRegistrations`` (``orchestrator.adapters.prometheus_files``) and ``InMemoryRegistrations``
(``orchestrator.testing``) for the registrations. The checks a delivery's spec adds are the
``CheckMonitoring`` port
(``orchestrator.engine.ports.check_monitoring``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Monitoring(Protocol):
    """The monitoring system hosts are registered with (Prometheus file-based discovery)."""

    def targets_dir(self) -> Path:
        """The folder whose ``*.json`` files list the scrape targets; the system is running."""
        ...


class MonitoringRegistrations(Protocol):
    """What phases 2, 3 and 7 registered for a delivery, as ``orchestrator release`` removes it.

    Errors: ``Refused`` when the monitoring system refuses its configuration without the
    delivery's part, ``TransientError`` subclasses when it could not be asked to reload."""

    def registrations(self, delivery: str) -> tuple[str, ...]:
        """One name per registration of ``delivery`` (a file, a blackbox module); no side
        effects."""
        ...

    def unregister(self, delivery: str) -> tuple[str, ...]:
        """Remove every registration of ``delivery``; what was removed (nothing the second
        time)."""
        ...
