"""Moved to ``orchestrator.testing`` (modules ``app_monitoring`` and ``alert_routing``); this
module keeps older imports working."""

from orchestrator.testing.alert_routing import ScriptedAlertRouting, routing_to
from orchestrator.testing.app_monitoring import InMemoryAppMonitoring

__all__ = ["InMemoryAppMonitoring", "ScriptedAlertRouting", "routing_to"]
