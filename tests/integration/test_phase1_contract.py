"""The ``Ipam`` contract against the lab NetBox (same checks as the in-memory fake)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.adapters.netbox import NetBoxIpam
from orchestrator.engine.ports.ipam import Ipam
from orchestrator.lab.netbox import read_netbox_env
from orchestrator.lab.paths import LabPaths
from orchestrator.testing.contracts.ipam import CHECKS, cleanup, fresh_delivery


@pytest.fixture(scope="module")
def netbox() -> NetBoxIpam:
    info = read_netbox_env(LabPaths.from_env())
    return NetBoxIpam(info.url, info.token)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_netbox_ipam_keeps_the_contract(
    netbox: NetBoxIpam, check: Callable[[Ipam, str], None]
) -> None:
    delivery = fresh_delivery()
    try:
        check(netbox, delivery)
    finally:
        cleanup(netbox, delivery)
