"""Phase 7's ``golive.report``: the final report the operations team accepts.

It writes down the delivery's record as it stands after going live (``orchestrator.phases.record``,
what ``status`` shows): every phase, every gate with who decided, when and why, the action items
and how each was closed, the migration's cut-over checklist, the go-live checks' results and the
manual checks confirmed, what application monitoring was switched on, the evaluation, and where
the handover document is.
Markdown (canonical) and HTML, in the delivery's handover folder; no secret is in any of it.

The report's facts are the step's inputs, so a re-run with nothing new skips it, and its SHA-256
is the evidence the ``ops_acceptance`` approval signs: a new evaluation note or a reopened item
makes an earlier acceptance stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from orchestrator.engine.findings import results_in
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.phases.app_checks import GO_LIVE_CHECKS
from orchestrator.phases.handover import DOCUMENT, HandoverSource, write_pair
from orchestrator.phases.handover_document import render, sha256
from orchestrator.store.records import ActionItem, EvaluationNote, Json, JsonMap

if TYPE_CHECKING:
    from orchestrator.phases.record import StatusSummary

REPORT = "golive.report"
MONITORING = "golive.monitoring"
CUTOVER = "migration.cutover"
#: The gate that accepts the report; it is not in the report it accepts.
ACCEPTANCE = "ops_acceptance"


@dataclass(frozen=True, slots=True)
class GateLine:
    """A gate as the report lists it."""

    gate: str
    by: str
    role: str
    at: str
    comment: str


@dataclass(frozen=True, slots=True)
class ItemLine:
    """An action item as the report lists it."""

    id: int
    title: str
    opened: str
    closed: str  # who closed it, when and how; empty while open


@dataclass(frozen=True, slots=True)
class CheckLine:
    """A go-live check's result."""

    host: str
    check: str
    expected: str
    found: str
    passed: bool


@dataclass(frozen=True, slots=True)
class NoteLine:
    """An evaluation note."""

    kind: str
    text: str
    by: str
    on: str


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """Everything the report says: no run id or clock time beyond the records' own."""

    delivery: str
    title: str
    customer: str
    lead_engineer: str
    delivery_manager: str
    operations: str
    operations_email: str
    in_production_since: str
    phases: tuple[tuple[int, str, str], ...]  # number, name, status
    gates: tuple[GateLine, ...]
    items: tuple[ItemLine, ...]
    checks: tuple[CheckLine, ...]
    manual: tuple[str, ...]
    cutover: tuple[str, ...]  # phase 6's cut-over checklist, item by item
    monitoring: tuple[str, ...]
    notes: tuple[NoteLine, ...]
    handover: str  # the handover document's file name and SHA-256

    def as_json(self) -> JsonMap:
        """The facts as the step's inputs."""
        facts: JsonMap = asdict(self)
        return facts


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""


def _item(item: ActionItem) -> ItemLine:
    opened = f"{item.opened_by}, {_day(item.opened_at)}"
    closed = ""
    if not item.open:
        how = f": {item.resolution}" if item.resolution else ""
        closed = f"{item.closed_by}, {_day(item.closed_at)}{how}"
    return ItemLine(item.id or 0, item.title, opened, closed)


def _note(note: EvaluationNote) -> NoteLine:
    return NoteLine(note.kind, note.text, note.by, note.created_at.date().isoformat())


def _strings(outputs: JsonMap, key: str) -> tuple[str, ...]:
    value = outputs.get(key)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(str(v) for v in value)
    return ()


def cutover_lines(outputs: JsonMap) -> tuple[str, ...]:
    """The cut-over checklist's items: ``[web-01] smoke go-live web-port: done (...)``."""
    items = outputs.get("checklist")
    if not isinstance(items, Sequence) or isinstance(items, str):
        return ()
    lines = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        where = f"[{item['host']}] " if item.get("host") else ""
        state = "done" if item.get("done") else "not done"
        lines.append(f"{where}{item.get('item')}: {state} ({item.get('detail')})")
    return tuple(lines)


def _handover(outputs: Mapping[str, JsonMap]) -> str:
    document = outputs.get(DOCUMENT) or {}
    path, digest = document.get("markdown"), document.get("sha256")
    if not isinstance(path, str):
        return "not written (phase 5 has not run)"
    return f"{path.rsplit('/', 1)[-1]} (sha256 {digest})"


def report_facts(
    ctx: StepContext, record: StatusSummary, items: Sequence[ActionItem]
) -> ReportFacts:
    """The report's facts, from the delivery's record, its action items and the earlier steps'
    outputs."""
    spec = ctx.spec
    checks = ctx.outputs.get(GO_LIVE_CHECKS) or {}
    done = {"succeeded": "done", "skipped": "done"}
    phases = tuple((p.number, p.name, done.get(str(p.status), str(p.status)))
                   for p in record.record if p.number < ctx.phase)  # fmt: skip
    gates = tuple(GateLine(g.gate, g.approved_by or "", g.role.replace("_", " "),
                           _day(g.decided_at), g.comment)
                  for g in record.gates if g.passed and g.gate != ACCEPTANCE)  # fmt: skip
    results = tuple(CheckLine(r.check.host, r.check.name, r.check.expected, r.found, r.passed)
                    for r in results_in(checks))  # fmt: skip
    return ReportFacts(
        delivery=ctx.delivery.id,
        title=spec.title or spec.id,
        customer=spec.customer.name,
        lead_engineer=spec.lead_engineer.name,
        delivery_manager=spec.delivery_manager.name,
        operations=spec.operations.team,
        operations_email=spec.operations.email,
        in_production_since=record.in_production_since or "not yet",
        phases=phases,
        gates=gates,
        items=tuple(_item(i) for i in items),
        checks=results,
        manual=_strings(checks, "manual"),
        cutover=cutover_lines(ctx.outputs.get(CUTOVER) or {}),
        monitoring=_strings(ctx.outputs.get(MONITORING) or {}, "summary"),
        notes=tuple(_note(n) for n in record.evaluation),
        handover=_handover(ctx.outputs),
    )


def render_report(facts: ReportFacts) -> str:
    """The final report in Markdown."""
    return render("final-report.md.j2", facts=facts)


@dataclass(frozen=True, slots=True)
class ReportStep:
    """Write the final report for the operations team; its hash is what they accept."""

    adapters: HandoverSource
    key: str = REPORT
    title: str = "Write the final report for the operations team"

    def facts(self, ctx: StepContext) -> ReportFacts:
        """The report's facts as the records have them now."""
        adapters, delivery = self.adapters(), ctx.delivery.id
        return report_facts(ctx, adapters.record(delivery), adapters.items(delivery))

    def inputs(self, ctx: StepContext) -> JsonMap:
        return {"facts": self.facts(ctx).as_json()}

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        name = f"{ctx.delivery.id}-final-report"
        return [Change("write", f"final report {name}", "Markdown and HTML, for the operations "
                       f"team {ctx.spec.operations.team} to accept")]  # fmt: skip

    def apply(self, ctx: StepContext) -> Result:
        adapters, delivery = self.adapters(), ctx.delivery.id
        facts = self.facts(ctx)
        markdown = render_report(facts)
        digest = sha256(markdown)
        footer = f"{delivery} · final report · run {ctx.run_id} · sha256 {digest[:12]}"
        md_path, html_path = write_pair(adapters.workspace.handover(delivery),
                                        f"{delivery}-final-report", markdown,
                                        f"Final report: {facts.title}", footer)  # fmt: skip
        outputs: dict[str, Json] = {
            "markdown": str(md_path), "html": str(html_path), "sha256": digest, "evidence": digest,
        }  # fmt: skip
        return Result(changed=True, outputs=outputs)
