"""The ``AppMonitoring`` contract for ``InMemoryAppMonitoring`` (the same checks run against
``FileAppMonitoring`` on the lab in tests/integration/test_app_monitoring_contract.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.testing.contracts.app_monitoring import CHECKS, World, memory_world


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_in_memory_app_monitoring_keeps_the_contract(check: Callable[[World], None]) -> None:
    check(memory_world())
