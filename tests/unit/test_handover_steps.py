"""Phase 5's steps on fakes: phase 1 real on ``InMemoryIpam``, phases 2-4 as fixed records."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from orchestrator.adapters.weasyprint import MISSING
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.errors import Refused
from orchestrator.engine.ports.ipam import Kind, Note
from orchestrator.phases.handover import (
    AccessDetailsStep,
    ContractEffectiveStep,
    DocumentStep,
    HandoverAdapters,
    journal_key,
    phase,
)
from orchestrator.phases.handover_document import sha256
from orchestrator.phases.reservations import key_of
from orchestrator.testing import T0, InMemoryIpam, InMemoryRunStore, ScriptedPrinter
from tests.unit import handover_support as support

SPEC = support.full_spec()


class Lab:
    """Phase 1 done on an ``InMemoryIpam``, phases 2-4 recorded, phase 5's adapters on fakes."""

    def __init__(self, root: Path, printer: ScriptedPrinter | None = None) -> None:
        self.ipam = InMemoryIpam()
        self.outputs = support.standin_outputs(SPEC, support.phase1(self.ipam, SPEC))
        self.printer = printer or ScriptedPrinter()
        self.adapters: HandoverAdapters = support.adapters(root, self.printer)

    def document(self) -> DocumentStep:
        return DocumentStep(lambda: self.adapters, lambda: self.ipam)

    def contract(self) -> ContractEffectiveStep:
        return ContractEffectiveStep(lambda: self.adapters, lambda: self.ipam)

    def statuses(self, kind: Kind) -> dict[str, str]:
        return {o.value: o.status for o in self.ipam.owned(kind, SPEC.id).values()}


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return Lab(tmp_path)


def _private(path: Path) -> bool:
    return (
        stat.S_IMODE(path.stat().st_mode) == 0o600
        and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    )


def test_the_document_step_writes_markdown_html_pdf_and_links_them_once(lab: Lab) -> None:
    ctx = support.context(SPEC, lab.outputs)
    step = lab.document()
    assert [str(c) for c in step.plan(ctx)] == [
        (
            f"write handover document {SPEC.id}-handover (3 hosts, 10 checks, evidence "
            f"{support.EVIDENCE[:12]}; Markdown, HTML, PDF)"
        ),
        "journal NetBox tenant acme (an entry naming it)",
    ]
    result = step.apply(ctx)
    out = result.outputs
    markdown = Path(str(out["markdown"])).read_text()
    assert out["sha256"] == sha256(markdown)
    assert all(_private(Path(str(out[name]))) for name in ("markdown", "html", "pdf"))
    assert out["pdf_note"] == ""
    assert lab.printer.printed == [Path(str(out["html"]))]
    key = journal_key(SPEC.id, str(out["sha256"]))
    note = lab.ipam.notes(SPEC.id)[key]
    tenant = lab.ipam.owned(Kind.TENANT, SPEC.id)[key_of(SPEC.id, "tenant")]
    assert (note.kind, note.id) == (Kind.TENANT, tenant.id)
    assert f"sha256 {out['sha256']}" in note.text
    assert f"run {ctx.run_id}, buddycheck evidence {support.EVIDENCE}" in note.text
    again = step.apply(ctx)  # the same run again (a resume): the same document, no second entry
    assert again.outputs["sha256"] == out["sha256"]
    assert sum(k.startswith(f"{SPEC.id}/journal/handover/") for k in lab.ipam.notes(SPEC.id)) == 1


def test_a_controller_without_weasyprint_gets_no_pdf_and_a_note(tmp_path: Path) -> None:
    lab = Lab(tmp_path, ScriptedPrinter(note=MISSING))
    result = lab.document().apply(support.context(SPEC, lab.outputs))
    assert result.outputs["pdf"] is None
    assert "weasyprint command is not installed" in str(result.outputs["pdf_note"])
    assert Path(str(result.outputs["html"])).is_file()


def test_the_document_inputs_follow_the_records_not_the_run(lab: Lab) -> None:
    step = lab.document()
    first = step.inputs(support.context(SPEC, lab.outputs, "run-1"))
    assert first == step.inputs(support.context(SPEC, lab.outputs, "run-2"))
    closed = support.action_items(SPEC.id)
    lab.adapters = HandoverAdapters(
        lab.adapters.workspace, lab.printer, lambda _d: [*closed, closed[0]], lab.adapters.settings
    )
    assert step.inputs(support.context(SPEC, lab.outputs)) != first


def test_before_phase_4_the_document_waits_and_refuses_to_run(lab: Lab) -> None:
    early = {k: v for k, v in lab.outputs.items() if not k.startswith("buddycheck.")}
    ctx = support.context(SPEC, early)
    step = lab.document()
    assert step.inputs(ctx) == {"waiting_for": "buddycheck.verify"}
    assert [c.action for c in step.plan(ctx)] == ["write"]
    with pytest.raises(Refused, match="run phase 4"):
        step.apply(ctx)


def test_access_details_are_one_document_per_user(lab: Lab) -> None:
    step = AccessDetailsStep(lambda: lab.adapters)
    ctx = support.context(SPEC, lab.outputs)
    assert [str(c) for c in step.plan(ctx)] == [
        "write access details for joris (roles all)",
        "write access details for femke (roles web)",
    ]
    users = step.apply(ctx).outputs["users"]
    assert isinstance(users, dict)
    assert set(users) == {"joris", "femke"}
    femke = users["femke"]
    assert isinstance(femke, dict)
    assert femke["hosts"] == 2
    text = Path(str(femke["markdown"])).read_text()
    assert "femke@10.213.128.2" in text
    assert "db-01" not in text
    assert _private(Path(str(femke["html"])))


def test_contract_effective_plans_activates_in_bulk_and_then_has_nothing_to_do(lab: Lab) -> None:
    ctx = support.context(SPEC, lab.outputs)
    lab.ipam.update(Kind.IP, [(o.id, {"status": "reserved"})
                              for o in lab.ipam.owned(Kind.IP, SPEC.id).values()])  # fmt: skip
    step = lab.contract()
    plan = [str(c) for c in step.plan(ctx)]
    assert "activate NetBox vm web-01 (planned -> active)" in plan
    assert "activate NetBox ip 10.213.128.5/28 (reserved -> active)" in plan  # the VIP
    assert not any("10.213.128.1/28" in line for line in plan)  # the gateway stays reserved
    assert plan[-1] == "record contract start (the day this step runs)"
    calls = len(lab.ipam.calls)
    result = step.apply(ctx)
    updates = [c for c in lab.ipam.calls[calls:] if c.startswith("update")]
    assert updates == ["update ip", "update vm"]  # one request per kind
    assert result.outputs["contract_start"] == support.TODAY.isoformat()
    assert result.outputs["in_production"] is True
    assert set(lab.statuses(Kind.VM).values()) == {"active"}
    assert lab.statuses(Kind.IP)["10.213.128.1/28"] == "reserved"
    assert {s for a, s in lab.statuses(Kind.IP).items() if a != "10.213.128.1/28"} == {"active"}
    assert result.changed


def test_a_second_run_changes_nothing_and_keeps_the_first_day(lab: Lab) -> None:
    ctx = support.context(SPEC, lab.outputs)
    lab.contract().apply(ctx)
    later = dt.date(2025, 7, 1)
    lab.adapters = HandoverAdapters(lab.adapters.workspace, lab.printer, lab.adapters.items,
                                    lab.adapters.settings, lambda: later)  # fmt: skip
    step = lab.contract()
    assert [str(c) for c in step.plan(ctx)] == [
        "none NetBox (the delivery's systems are active)",
        f"none contract start (recorded: {support.TODAY.isoformat()})",
    ]
    calls = len(lab.ipam.calls)
    again = step.apply(ctx)
    assert not again.changed
    assert again.outputs["contract_start"] == support.TODAY.isoformat()
    assert not [c for c in lab.ipam.calls[calls:] if c.startswith("update ") or c == "note"]


def test_existing_servers_records_are_not_the_delivery_s_to_flip(lab: Lab) -> None:
    server = lab.ipam.existing_server(Kind.VM, "legacy-db", "192.0.2.20/24")
    lab.ipam.update(Kind.VM, [(server, {"status": "planned"})])
    lab.contract().apply(support.context(SPEC, lab.outputs))
    legacy = lab.ipam.rows[Kind.VM][server]
    assert legacy.fields["status"] == "planned"


def test_a_status_someone_chose_is_left_and_reported(lab: Lab) -> None:
    vm = lab.ipam.owned(Kind.VM, SPEC.id)[key_of(SPEC.id, "vm", "db-01")]
    lab.ipam.update(Kind.VM, [(vm.id, {"status": "offline"})])
    step = lab.contract()
    ctx = support.context(SPEC, lab.outputs)
    assert "leave NetBox vm db-01 (status offline)" in [str(c) for c in step.plan(ctx)]
    assert step.apply(ctx).outputs["left"] == {"db-01": "offline"}
    assert lab.statuses(Kind.VM)["db-01"] == "offline"


def test_the_contract_start_recorded_by_another_controller_wins(lab: Lab) -> None:
    tenant = lab.ipam.owned(Kind.TENANT, SPEC.id)[key_of(SPEC.id, "tenant")]
    earlier = key_of(SPEC.id, "journal", "contract-start", "2025-05-30")
    lab.ipam.note([Note(Kind.TENANT, tenant.id, "Contract effective from 2025-05-30", earlier)])
    result = lab.contract().apply(support.context(SPEC, lab.outputs))
    assert result.outputs["contract_start"] == "2025-05-30"


def test_the_phase_keeps_its_keys_and_gates_in_order(lab: Lab) -> None:
    names = [getattr(e, "key", getattr(e, "name", "")) for e in phase().entries]
    assert names == ["buddycheck", "handover.document", "handover.access_details",
                     "customer_confirmation", "handover.contract_effective"]  # fmt: skip
    unwired = phase().entries[1]
    with pytest.raises(Refused, match="without its adapters"):
        unwired.apply(support.context(SPEC, lab.outputs))  # type: ignore[union-attr]


def test_the_wiring_lists_action_items_from_the_run_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.site.loader import load_site  # noqa: PLC0415 - only this test
    from orchestrator.wiring import Wiring  # noqa: PLC0415 - only this test

    monkeypatch.setenv("AMS1_ORCHESTRATOR_STATE_KEY", Fernet.generate_key().decode())
    store = InMemoryRunStore()
    store.save_delivery(delivery_from_spec(SPEC).record(T0))
    for item in support.action_items(SPEC.id):
        store.open_action_item(item)
    site = load_site(support.ROOT / "examples" / "sites" / "ams1.yaml")
    handover = Wiring(site, tmp_path).using(store).handover
    assert [i.title for i in handover.items(SPEC.id)] == [support.action_items(SPEC.id)[0].title]
    assert handover.settings.jump_hosts
    assert handover.settings.backup_password.startswith(("env:", "file:", "command:"))
    with pytest.raises(Refused, match="no run store"):
        Wiring(site, tmp_path).handover.items(SPEC.id)
