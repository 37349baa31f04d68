"""The ``Ipam`` contract for ``InMemoryIpam`` (the same checks run against ``NetBoxIpam`` on the
lab NetBox in tests/integration/test_phase1_contract.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.engine.ports.ipam import Ipam
from orchestrator.testing import InMemoryIpam
from orchestrator.testing.contracts.ipam import CHECKS, fresh_delivery


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_in_memory_ipam_keeps_the_contract(check: Callable[[Ipam, str], None]) -> None:
    check(InMemoryIpam(), fresh_delivery())
