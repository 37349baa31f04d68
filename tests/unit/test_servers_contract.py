"""The existing-servers contract (``Ipam.find`` and ``HostRecords.fields``) for ``InMemoryIpam`` and
``InMemoryHostRecords`` (the same checks run against ``NetBoxIpam`` and ``NetBoxHostRecords`` on
the lab NetBox in tests/integration/test_servers_contract.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.testing.contracts.host_records import CHECKS, InMemoryServers, Servers


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_the_fakes_keep_the_contract(check: Callable[[Servers], None]) -> None:
    check(InMemoryServers())
