"""The ``Monitoring`` port: the monitoring system phase 2 registers each host with.

    Monitoring.targets_dir() -> Path     the folder of scrape targets (Prometheus file-based
                                         discovery): one ``*.json`` file per host

Adapters: ``FilePrometheus`` (``orchestrator.adapters.prometheus_files``) and ``FolderMonitoring``
(``orchestrator.testing``), held to one contract (``orchestrator.testing.contracts.monitoring``).
The checks a delivery's spec adds are the ``CheckMonitoring`` port
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
