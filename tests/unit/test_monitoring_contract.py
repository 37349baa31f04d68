"""The ``Monitoring`` contract for ``FolderMonitoring`` (the same checks run against
``FilePrometheus`` on the lab's folders in tests/integration/test_monitoring_contract.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.engine.ports.monitoring import Monitoring
from orchestrator.testing import FolderMonitoring
from orchestrator.testing.contracts.monitoring import CHECKS


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_folder_monitoring_keeps_the_contract(
    check: Callable[[Monitoring], None], tmp_path: Path
) -> None:
    check(FolderMonitoring(tmp_path / "targets"))
