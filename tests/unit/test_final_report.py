"""Phase 7's final report (``golive.report``): written from the delivery's record, accepted by
the operations team by its hash, skipped when nothing changed, stale when something did."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.engine import Engine, RunRequest
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.evaluation import Evaluation, record_evaluation
from orchestrator.engine.gates import GATES
from orchestrator.engine.phase import Phase
from orchestrator.engine.status import Status
from orchestrator.phases.final_report import REPORT, ReportStep, cutover_lines
from orchestrator.phases.handover import HandoverAdapters
from orchestrator.phases.record import status_of
from orchestrator.store.records import ActionItem, JsonMap
from orchestrator.testing import (
    T0,
    EngineBench,
    FixedIdentity,
    approve_gates,
    scripted_phases,
    site_people,
)
from tests.unit import handover_support

DELIVERY = delivery_from_spec(handover_support.full_spec())
LEAD, MANAGER = DELIVERY.lead_engineer.name, DELIVERY.delivery_manager.name
REQUEST = RunRequest(DELIVERY, "Alice Lead", "orchestrator run acme.yaml")


class Bench:
    """The seven scripted phases with the real ``golive.report`` on one in-memory store."""

    def __init__(self, tmp_path: Path) -> None:
        self.bench = EngineBench()
        self.root = tmp_path
        scripted, self.steps = scripted_phases()
        self.phases = tuple(self._real(phase) for phase in scripted)

    def _real(self, phase: Phase) -> Phase:
        entries = tuple(
            ReportStep(self.adapters) if getattr(e, "key", "") == REPORT else e
            for e in phase.entries
        )
        return replace(phase, entries=entries)

    def adapters(self) -> HandoverAdapters:
        store = self.bench.store
        return replace(
            handover_support.adapters(self.root, items=store.list_action_items(DELIVERY.id)),
            record=lambda delivery: status_of(store, delivery),
        )

    def engine(self) -> Engine:
        return self.bench.engine(self.phases)

    def to_the_report(self) -> None:
        """Every gate before ops acceptance approved, the evaluation recorded; run to it."""
        store = self.bench.store
        store.save_delivery(DELIVERY.record(T0))
        store.open_action_item(ActionItem(DELIVERY.id, "web-01: nginx down", "buddycheck", T0))
        store.close_action_item(1, "Bob Buddy", "restarted nginx")
        approve_gates(store, DELIVERY, "preconditions", "hardware_delivered")
        self.engine().run(REQUEST)
        for gate in ("buddycheck", "customer_confirmation", "write_freeze", "go_live"):
            approve_gates(store, DELIVERY, gate)
            self.engine().resume(REQUEST)
        self.evaluate("the buddycheck caught nginx before the customer did")
        outcome = self.engine().resume(REQUEST)
        assert outcome.gate is not None
        assert outcome.gate.gate.name == "ops_acceptance"

    def evaluate(self, text: str) -> None:
        lead = FixedIdentity(site_people(DELIVERY)[LEAD.split()[0].lower()])
        record_evaluation(self.bench.store, DELIVERY.id, Evaluation(went_well=(text,)), lead)

    def report(self) -> str:
        step = self.bench.store.latest_step(DELIVERY.id, REPORT)
        assert step is not None
        return Path(str(step.outputs["markdown"])).read_text()


def test_the_report_writes_down_the_whole_record(tmp_path: Path) -> None:
    bench = Bench(tmp_path)
    bench.to_the_report()
    report = bench.report()
    assert report.startswith("# Final report: ")
    for line in (
        "| 6 | migration | done |",
        f"| `go_live` | {MANAGER} | delivery manager | 2025-01-10 09:00 UTC | ok |",
        "| 1 | web-01: nginx down | buddycheck, 2025-01-10 09:00 UTC | Bob Buddy,",
        f"- the buddycheck caught nginx before the customer did ({LEAD}, ",
        "| In production since | 2025-01-10 |",
    ):
        assert line in report, line
    assert "ops\\_acceptance" not in report.split("## 2.")[1].split("## 3.")[0]
    step = bench.bench.store.latest_step(DELIVERY.id, REPORT)
    assert step is not None
    assert step.outputs["evidence"] == step.outputs["sha256"]
    assert Path(str(step.outputs["html"])).read_text().count("<table>") == 4


def test_operations_accept_the_report_and_a_second_run_skips_it(tmp_path: Path) -> None:
    bench = Bench(tmp_path)
    bench.to_the_report()
    approve_gates(bench.bench.store, DELIVERY, "ops_acceptance")
    done = bench.engine().resume(REQUEST)
    assert done.run.status is Status.SUCCEEDED
    again = bench.engine().run(REQUEST)
    assert again.run.status is Status.SUCCEEDED
    steps = {s.key: s.status for s in bench.bench.store.list_steps(again.run.id)}
    assert steps[REPORT] is Status.SKIPPED


def test_a_new_evaluation_note_makes_the_acceptance_stale(tmp_path: Path) -> None:
    bench = Bench(tmp_path)
    bench.to_the_report()
    approve_gates(bench.bench.store, DELIVERY, "ops_acceptance")
    bench.engine().resume(REQUEST)
    bench.evaluate("the go-live checks ran by address before DNS moved")
    outcome = bench.engine().run(REQUEST)
    assert outcome.gate is not None
    assert outcome.gate.gate.name == "ops_acceptance"
    assert "the sign-off by Olga Ops is stale" in (outcome.run.reason or "")
    assert "the go-live checks ran by address" in bench.report()


@pytest.mark.parametrize("gate", ["ops_acceptance"])
def test_the_acceptance_signs_the_report(gate: str) -> None:
    assert GATES[gate].evidence_step == REPORT


def test_the_cut_over_checklist_is_listed_item_by_item() -> None:
    outputs: JsonMap = {"checklist": [
        {"item": "write freeze", "host": None, "done": True, "detail": "approved by Joris"},
        {"item": "smoke go-live web-port", "host": "web-01", "done": False, "detail": "refused"},
    ]}  # fmt: skip
    assert cutover_lines(outputs) == (
        "write freeze: done (approved by Joris)",
        "[web-01] smoke go-live web-port: not done (refused)",
    )
    assert cutover_lines({}) == ()
