"""The public API of ``orchestrator.testing``, pinned (as httpx pins its own): the names it
exports, that it exports every public name it holds, and that every name the project's tests
import from it is one of them."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import orchestrator.testing
import orchestrator.testing_alerts
import orchestrator.testing_checks
from orchestrator import testing

ROOT = Path(__file__).resolve().parents[2]

PINNED = {
    "BOB_BUDDY", "OLGA_OPS", "OPERATIONS", "T0",
    "CrashPoint", "CrashingObserver", "EngineBench", "FakeClock", "FixedComposition",
    "FixedIdentity", "FolderMonitoring", "HostScript", "InMemoryAppMonitoring",
    "InMemoryHostRecords", "InMemoryIpam", "InMemoryMachineRelease", "InMemoryMachines",
    "InMemoryRegistrations", "InMemoryRunStore",
    "RecordingNotifier", "RecordingObserver", "ScriptedAlertRouting", "ScriptedAppProbe",
    "ScriptedChecks",
    "ScriptedMonitoringStatus", "ScriptedPlaybooks", "ScriptedPrinter", "ScriptedProbe",
    "ScriptedStep", "SimulatedCrash", "all_ok", "approve_gates", "catalogue", "fake_adapters",
    "fake_runtime", "inventory_hosts", "keys_of", "known_person", "make_delivery", "routing_to",
    "scripted_phases", "site_people", "unwired",
}  # fmt: skip


def test_the_testing_package_exports_exactly_its_public_api() -> None:
    assert set(orchestrator.testing.__all__) == PINNED
    assert sorted(orchestrator.testing.__all__) == sorted(PINNED)  # each name once
    for name in orchestrator.testing.__all__:
        assert getattr(orchestrator.testing, name) is not None


def test_every_public_name_of_the_package_is_exported() -> None:
    held = {
        name
        for name, value in vars(orchestrator.testing).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert held == set(orchestrator.testing.__all__)


def imported_from(module: str, *folders: str) -> dict[str, set[str]]:
    """The names ``from <module> import ...`` imports, with the files that import each."""
    found: dict[str, set[str]] = {}
    for path in (p for folder in folders for p in (ROOT / folder).rglob("*.py")):
        text = path.read_text()
        if f"from {module} import" not in text:
            continue  # parse only the files that may import it
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == module:
                for alias in node.names:
                    found.setdefault(alias.name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_name_the_tests_import_from_it_is_exported() -> None:
    used = imported_from("orchestrator.testing", "tests", "bench", "orchestrator")
    assert used  # the scan found the tests' imports
    missing = {name: files for name, files in used.items() if name not in PINNED}
    assert missing == {}


def test_the_modules_the_fakes_moved_from_give_the_same_ones() -> None:
    assert orchestrator.testing_alerts.InMemoryAppMonitoring is testing.InMemoryAppMonitoring
    assert orchestrator.testing_alerts.ScriptedAlertRouting is testing.ScriptedAlertRouting
    assert orchestrator.testing_alerts.routing_to is testing.routing_to
    assert orchestrator.testing_checks.ScriptedChecks is testing.ScriptedChecks
    assert orchestrator.testing_checks.inventory_hosts is testing.inventory_hosts
