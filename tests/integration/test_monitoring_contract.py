"""The ``Monitoring`` contract against ``FilePrometheus`` (same checks as the fake's,
``orchestrator.testing.contracts.monitoring``), on the folders the lab's site file names, as the
composition root builds it; the lab's Prometheus reads them. The one file a check writes lists
no target and is removed again."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.adapters.prometheus_files import FilePrometheus
from orchestrator.engine.ports.monitoring import Monitoring
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.site import site_file
from orchestrator.site import load_site
from orchestrator.testing.contracts.monitoring import CHECKS


@pytest.fixture
def prometheus(lab_paths: LabPaths) -> FilePrometheus:
    monitoring = load_site(site_file(lab_paths)).monitoring
    return FilePrometheus(monitoring.targets.path, monitoring.rules.path,
                          str(monitoring.prometheus_url))  # fmt: skip


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_file_prometheus_keeps_the_contract(
    check: Callable[[Monitoring], None], prometheus: FilePrometheus
) -> None:
    check(prometheus)
