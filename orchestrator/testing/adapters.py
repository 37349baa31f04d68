"""``fake_adapters``: phase 2-4 adapters with fakes, files under a folder."""

from __future__ import annotations

from pathlib import Path

from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.ports.vault import DeliveryVault
from orchestrator.phases.base import Adapters
from orchestrator.testing.app_probe import ScriptedAppProbe
from orchestrator.testing.machines import InMemoryMachines
from orchestrator.testing.monitoring import FolderMonitoring
from orchestrator.testing.platform_checks import ScriptedChecks
from orchestrator.testing.playbooks import ScriptedPlaybooks
from orchestrator.testing.reachability import ScriptedProbe


def fake_adapters(  # noqa: PLR0913 - one optional fake per port
    root: Path,
    *,
    machines: InMemoryMachines | None = None,
    probe: ScriptedProbe | None = None,
    playbooks: ScriptedPlaybooks | None = None,
    vault: DeliveryVault | None = None,
    platform_checks: ScriptedChecks | None = None,
    app_probe: ScriptedAppProbe | None = None,
) -> Adapters:
    """Phase 2-4 adapters with fakes, files under ``root``; pins and secrets in ``vault`` (as
    when the site shares its state) or only in the files."""
    return Adapters(
        machines=machines or InMemoryMachines(),
        probe=probe or ScriptedProbe(),
        playbooks=playbooks or ScriptedPlaybooks(),
        workspace=Workspace(root / "deliveries", vault),
        monitoring=FolderMonitoring(root / "targets"),
        management_networks=("10.213.0.1/32",),
        platform_checks=platform_checks or ScriptedChecks(),
        app_probe=app_probe or ScriptedAppProbe(),
    )
