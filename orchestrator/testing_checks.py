"""Moved to ``orchestrator.testing`` (module ``platform_checks``); this module keeps older imports
working."""

from orchestrator.testing.platform_checks import ScriptedChecks, inventory_hosts

__all__ = ["ScriptedChecks", "inventory_hosts"]
