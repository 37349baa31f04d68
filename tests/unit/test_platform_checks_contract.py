"""The ``PlatformChecks`` contract for ``ScriptedChecks`` (the same checks run against
``TestinfraChecks`` on a lab host in tests/integration/test_platform_checks_contract.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.testing.contracts.platform_checks import CHECKS, ScriptedWorld, World, failing


@pytest.mark.parametrize("contract", CHECKS, ids=lambda c: c.__name__)
def test_scripted_checks(contract: Callable[[World], None]) -> None:
    contract(ScriptedWorld.make())


def test_scripted_checks_remember_requests_and_can_be_mended() -> None:
    world = ScriptedWorld.make()
    asked = failing(world.host)[:1]
    assert not world.checks.run(world.request(asked))[0].passed
    world.checks.fix(world.host, asked[0].name)
    assert world.checks.run(world.request(asked))[0].passed
    assert len(world.checks.requests) == 2
