"""The app-monitoring contract against the lab (same checks as the fake,
``orchestrator.testing.contracts.app_monitoring``): ``FileAppMonitoring``
on the lab's folders and blackbox configuration (as its site names them) writes blackbox
modules, probe targets and rules, and the lab's Prometheus and blackbox exporter reload them.
What alerts is read from Prometheus's rules API. Every ``am-contract-*`` delivery is removed at
the start and at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import yaml

from orchestrator.adapters.blackbox_config import BlackboxConfig
from orchestrator.adapters.prometheus_files import FileAppMonitoring, FilePrometheus
from orchestrator.engine.ports.app_monitoring import AppChecks
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.prometheus import (
    BLACKBOX_LISTEN,
    URL,
    api,
    blackbox_file,
    checks_dir,
    targets_dir,
)
from orchestrator.testing.contracts.app_monitoring import CHECKS, PREFIX, World

DELIVERIES = ("once", "change", "one", "two")


def loaded(delivery: str) -> set[str]:
    groups = [g for g in api("rules")["groups"] if g["name"] == f"golive-{delivery}"]
    return {rule["labels"]["check"] for group in groups for rule in group["rules"]}


@pytest.fixture
def world(lab_paths: LabPaths) -> Iterator[World]:
    prometheus = FilePrometheus(targets_dir(lab_paths), checks_dir(lab_paths), URL)
    blackbox = BlackboxConfig(blackbox_file(lab_paths), f"http://{BLACKBOX_LISTEN}")
    monitoring = FileAppMonitoring(prometheus, blackbox)
    for name in DELIVERIES:
        monitoring.publish_app_checks(AppChecks(f"{PREFIX}{name}", ()))
    yield World(monitoring, loaded)
    for name in DELIVERIES:
        monitoring.publish_app_checks(AppChecks(f"{PREFIX}{name}", ()))
    modules = yaml.safe_load(blackbox_file(lab_paths).read_text())["modules"]
    assert not [m for m in modules if m.startswith(f"golive_{PREFIX}")]
    assert {"icmp", "tcp_connect", "http_any"} <= set(modules)  # the lab's own stay


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_file_app_monitoring_keeps_the_contract(
    world: World, check: Callable[[World], None]
) -> None:
    check(world)
