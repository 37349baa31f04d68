"""The ``PlaybookRunner`` contract for ``ScriptedPlaybooks`` (the same checks run against
``AnsibleRunnerPlaybooks`` on a lab host in tests/integration/test_playbooks_contract.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.testing.contracts.playbooks import CHECKS, World, scripted_world


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_scripted_playbooks_keep_the_contract(
    check: Callable[[World], None], tmp_path: Path
) -> None:
    check(scripted_world(tmp_path))
