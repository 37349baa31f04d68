"""Phase 5 against the lab NetBox: phase 1 for real (delivery ``ho-lab``, no hosts booted), phases
2-4 as fixed records (``tests/unit/handover_support.py``), then the handover steps.

The delivery's NetBox objects are released before and after each test (its tenant takes the
journal entries with it); nothing else in NetBox is touched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.adapters.netbox import NetBoxIpam
from orchestrator.adapters.weasyprint import WeasyPrintCommand
from orchestrator.engine.ports.ipam import Kind
from orchestrator.lab.netbox import read_netbox_env
from orchestrator.lab.paths import LabPaths
from orchestrator.phases.handover import ContractEffectiveStep, DocumentStep, journal_key
from orchestrator.phases.release import release
from orchestrator.phases.reservations import key_of
from orchestrator.spec import DeliverySpec
from orchestrator.store.records import JsonMap
from orchestrator.testing import InMemoryRunStore
from tests.unit import handover_support as support

pytestmark = pytest.mark.integration

DELIVERY = "ho-lab"
type Fresh = Callable[[], NetBoxIpam]
type Recorded = tuple[DeliverySpec, dict[str, JsonMap]]


@pytest.fixture(scope="module")
def netbox() -> Fresh:
    """A new adapter per call: nothing one step read ahead answers for the next."""
    info = read_netbox_env(LabPaths.from_env())
    return lambda: NetBoxIpam(info.url, info.token)


@pytest.fixture
def recorded(netbox: Fresh) -> Iterator[Recorded]:
    release(netbox(), InMemoryRunStore(), DELIVERY, "test")  # what an interrupted run left
    spec = support.full_spec(DELIVERY, tenant=DELIVERY)
    yield spec, support.standin_outputs(spec, support.phase1(netbox(), spec))
    release(netbox(), InMemoryRunStore(), DELIVERY, "test")


def test_the_document_is_written_and_named_once_on_the_tenant(
    recorded: Recorded, netbox: Fresh, tmp_path: Path
) -> None:
    spec, outputs = recorded
    adapters = dataclasses.replace(support.adapters(tmp_path), printer=WeasyPrintCommand())
    step = DocumentStep(lambda: adapters, netbox)
    ctx = support.context(spec, outputs, "run-ho-1")
    first = step.apply(ctx)
    second = step.apply(ctx)  # a resumed run: the same document
    assert second.outputs["sha256"] == first.outputs["sha256"]
    notes = netbox().notes(DELIVERY)
    handover = {k: n for k, n in notes.items() if k.startswith(f"{DELIVERY}/journal/handover/")}
    key = journal_key(DELIVERY, str(first.outputs["sha256"]))
    assert list(handover) == [key]
    tenant = netbox().owned(Kind.TENANT, DELIVERY)[key_of(DELIVERY, "tenant")]
    assert (handover[key].kind, handover[key].id) == (Kind.TENANT, tenant.id)
    assert f"run run-ho-1, buddycheck evidence {support.EVIDENCE}" in handover[key].text
    markdown = Path(str(first.outputs["markdown"])).read_text()
    assert all(f"`{h.name}`" in markdown for h in spec.expanded_hosts())
    assert not any(secret in markdown for secret in support.SECRETS.values())
    if first.outputs["pdf"] is not None:  # where weasyprint is installed
        assert Path(str(first.outputs["pdf"])).read_bytes().startswith(b"%PDF-")


def test_contract_effective_activates_once_and_keeps_the_start_date(
    recorded: Recorded, netbox: Fresh, tmp_path: Path
) -> None:
    spec, outputs = recorded
    hosts = [key_of(DELIVERY, "ip", h.name) for h in spec.expanded_hosts()]
    ips = netbox().owned(Kind.IP, DELIVERY)
    netbox().update(Kind.IP, [(ips[key].id, {"status": "reserved"}) for key in hosts])
    adapters = support.adapters(tmp_path)
    step = ContractEffectiveStep(lambda: adapters, netbox)
    ctx = support.context(spec, outputs)
    plan = [str(change) for change in step.plan(ctx)]
    assert sum(line.startswith("activate NetBox vm ") for line in plan) == 3
    assert sum(line.startswith("activate NetBox ip ") for line in plan) == 3

    first = step.apply(ctx)
    assert first.changed
    assert first.outputs["contract_start"] == support.TODAY.isoformat()
    fresh = netbox()
    assert {vm.status for vm in fresh.owned(Kind.VM, DELIVERY).values()} == {"active"}
    now = fresh.owned(Kind.IP, DELIVERY)
    assert {now[key].status for key in [*hosts, key_of(DELIVERY, "ip", "vip")]} == {"active"}
    assert now[key_of(DELIVERY, "ip", "gateway")].status == "reserved"
    assert fresh.owned(Kind.PREFIX, DELIVERY)[key_of(DELIVERY, "prefix")].status == "active"

    again = step.apply(ctx)
    assert not again.changed
    assert again.outputs["contract_start"] == first.outputs["contract_start"]
    assert again.outputs["activated"] == {"prefix": [], "ip": [], "vm": []}
    assert [c.action for c in step.plan(ctx)] == ["none", "none"]
    starts = [k for k in netbox().notes(DELIVERY) if "/contract-start/" in k]
    assert starts == [key_of(DELIVERY, "journal", "contract-start", support.TODAY.isoformat())]
