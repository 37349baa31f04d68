"""The ``MonitoringStatus`` contract for ``ScriptedMonitoringStatus`` (the same checks run
against ``PrometheusApi`` on the lab's Prometheus in
tests/integration/test_monitoring_status_contract.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.testing.contracts.monitoring_status import CHECKS, ScriptedWorld, World


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_the_fake_keeps_the_contract(check: Callable[[World], None]) -> None:
    check(ScriptedWorld())
