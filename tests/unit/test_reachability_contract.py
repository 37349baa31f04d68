"""The ``ReachabilityProbe`` contract for ``ScriptedProbe`` (the same checks run against
``ParamikoProbe`` on a lab host in tests/integration/test_reachability_contract.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.testing.contracts.reachability import CHECKS, World, scripted_world


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_scripted_probe_keeps_the_contract(check: Callable[[World], None], tmp_path: Path) -> None:
    check(scripted_world(tmp_path))
