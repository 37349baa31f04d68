"""The ``AppProbe`` contract for ``ScriptedAppProbe`` (the same checks run against ``SocketProbe``
in tests/integration/test_app_probe_contract.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.testing.contracts.app_probe import CHECKS, Scene, scripted_scene


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_scripted_app_probe_keeps_the_contract(check: Callable[[Scene], None]) -> None:
    check(scripted_scene())
