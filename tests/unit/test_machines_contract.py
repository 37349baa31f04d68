"""The ``Machines`` contract for ``InMemoryMachines`` (the same checks run against ``LabMachines``
on the lab in tests/integration/test_machines_contract.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.testing.contracts.machines import CHECKS, World, memory_world


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_in_memory_machines_keep_the_contract(check: Callable[[World], None]) -> None:
    check(memory_world())
