"""Integration tests run against the real lab; the session fixture brings it up (or repairs it)."""

from __future__ import annotations

import pytest

from orchestrator.lab import lab
from orchestrator.lab.hosts import LabHost, list_hosts
from orchestrator.lab.paths import LabPaths

SMOKE_HOSTS = 2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def lab_paths() -> LabPaths:
    return LabPaths.from_env()


@pytest.fixture(scope="session")
def lab_up(lab_paths: LabPaths) -> lab.LabUp:
    """The lab with two smoke hosts, brought up once per session and left running afterwards."""
    return lab.up(lab_paths, SMOKE_HOSTS, progress=lambda _message: None)


@pytest.fixture
def smoke_hosts(lab_up: lab.LabUp, lab_paths: LabPaths) -> list[LabHost]:
    """The smoke hosts as currently recorded (a test may have recreated them with new host keys)."""
    names = [h.name for h in lab_up.hosts]
    current = {h.name: h for h in list_hosts(lab_paths)}
    return [current[name] for name in names]


@pytest.fixture(scope="session", autouse=True)
def lab_for_every_test(lab_up: lab.LabUp) -> lab.LabUp:
    """Every integration test finds the lab up, also when its file runs alone."""
    return lab_up
