"""How the run commands print: tables and lines for a person, JSON for a program.

Everything here reads records and writes to the console (``orchestrator.cli.console``); nothing
here reads the store or changes anything.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from enum import Enum

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.cli.console import out
from orchestrator.cli.progress import STYLES, span, took
from orchestrator.engine import Mode, PlanOutcome, RunOutcome, RunReport, Status
from orchestrator.engine.checkins import CHECKIN_GATES, waited
from orchestrator.engine.gates import GATES, People
from orchestrator.phases.record import GateSummary, PhaseSummary, StatusSummary, gate_summary
from orchestrator.store import EvaluationNote, HostRecord, RunRecord


def styled(status: Status, text: str = "") -> str:
    return f"[{STYLES[status]}]{text or status}[/]"


_PLANNED = {Status.SKIPPED: "up to date", Status.PENDING: "would change"}


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if isinstance(value, Enum):
        return value.value
    return str(value)


def _plain(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def print_json(value: object) -> None:
    sys.stdout.write(json.dumps(_plain(value), indent=2, default=_json_default) + "\n")


def print_runs(found: Sequence[RunRecord], *, console: Console | None = None) -> None:
    """Runs, one a row; at 80 columns a long delivery or name folds, nothing else does. A plan
    run's status is ``planned`` (or ``plan failed``, ...)."""
    console = console or out()
    table = _table()
    table.add_column("run", no_wrap=True)
    table.add_column("delivery", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("phases", no_wrap=True)
    table.add_column("by", overflow="fold")
    table.add_column("started (UTC)", no_wrap=True)
    for record in found:
        started = f"{record.started_at:%Y-%m-%d %H:%M}"
        table.add_row(record.id, escape(record.delivery_id), _run_status(record),
                      f"{record.from_phase}..{record.through_phase}", escape(record.who),
                      started)  # fmt: skip
    console.print(table)


def _run_status(run: RunRecord) -> str:
    if run.mode is Mode.APPLY:
        return styled(run.status)
    word = "planned" if run.status is Status.SUCCEEDED else f"{run.mode} {run.status}"
    return styled(run.status, word)


def print_plan(
    outcome: PlanOutcome, people: People, *, as_json: bool, console: Console | None = None
) -> None:
    console = console or out()
    if as_json:
        gates = [asdict(gate_summary(state, people)) for state in outcome.gates]
        steps = [asdict(step) for step in outcome.steps]
        print_json({"run": asdict(outcome.run), "steps": steps, "gates": gates})
        return
    table = Table("phase", "step", "plan", "changes")
    for step in outcome.steps:
        what = styled(step.status, _PLANNED.get(step.status, "cannot plan"))
        detail = "\n".join(str(change) for change in step.changes) or step.error or ""
        table.add_row(str(step.phase), step.key, what, escape(detail))
    console.print(table)
    for state in outcome.gates:
        mark = "[green]passed[/]" if state.passed else "[yellow]needed[/]"
        console.print(f"gate {state.gate.name}: {mark}")
    console.print(f"plan {outcome.run.id}: {styled(outcome.run.status)}")


def print_report(report: RunReport, *, tasks: bool = False, console: Console | None = None) -> None:
    """A run: who ran it, when, how it ended, and each step with its hosts and duration."""
    console = console or out()
    run = report.run
    console.print(f"run {run.id} of {escape(run.delivery_id)}: {styled(run.status)}")
    when = f"{run.started_at:%Y-%m-%d %H:%M}"
    if run.finished_at is not None:
        same_day = run.finished_at.date() == run.started_at.date()
        when += f" to {run.finished_at:{'%H:%M' if same_day else '%Y-%m-%d %H:%M'}}"
    phases = f"phases {run.from_phase}..{run.through_phase}"
    _wrapped(console, f"{run.mode}, {phases}, by {run.who} on {run.host}, {when} UTC", "  ")
    if report.steps:
        console.print(_steps_table(report))
    if tasks:
        _print_tasks(console, report)


def _steps_table(report: RunReport) -> Table:
    table = _table()
    table.add_column("phase", justify="right", no_wrap=True)
    table.add_column("step", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("hosts", justify="right", no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("error", overflow="fold")
    for step in report.steps:
        hosts = report.hosts_of(step.key)
        duration = "" if step.status is Status.SKIPPED else took(step.started_at, step.finished_at)
        table.add_row(str(step.phase), step.key, styled(step.status), _hosts_cell(hosts),
                      duration, escape(step.error or ""))  # fmt: skip
    return table


def _table() -> Table:
    """A table without borders: its columns fit an 80-column terminal."""
    return Table(box=None, padding=(0, 2, 0, 0), header_style="bold")


def _hosts_cell(hosts: Sequence[HostRecord]) -> str:
    done = [host for host in hosts if host.status.done]
    return f"{len(done)}/{len(hosts)}" if hosts else ""


def _print_tasks(console: Console, report: RunReport) -> None:
    for host in report.hosts:
        console.print(
            f"{host.step_key} @ {host.host}: {styled(host.status)} {escape(host.error or '')}"
        )
        for task in host.tasks:
            changed = " (changed)" if task.changed else ""
            seconds = "" if task.duration is None else f" {span(task.duration)}"
            console.print(f"    {escape(task.name)}: {styled(task.status)}{changed}{seconds}")


def print_next(outcome: RunOutcome, *, console: Console | None = None) -> None:
    """Why a run stopped and the command that comes next, wrapped between words."""
    run = outcome.run
    console = console or out()
    if run.reason:
        console.print(f"{styled(run.status)}: {escape(run.reason)}", soft_wrap=False)
    if run.status is Status.WAITING and outcome.gate is not None:
        if outcome.gate.blockers and outcome.gate.gate.blocked_by_open_items:
            console.print(
                f"see: orchestrator actions list {run.delivery_id}", markup=False, soft_wrap=False
            )
        gate = outcome.gate.gate
        action = (
            f"{gate.recorded_with} {run.delivery_id} --file FILE"
            if gate.recorded_with
            else f"orchestrator approve {run.delivery_id} {gate.name} --comment TEXT"
        )
        console.print(
            f"next: {action} [--sign-with KEY], then orchestrator resume SPEC",
            markup=False,
            soft_wrap=False,
        )
    elif run.status in {Status.FAILED, Status.CRASHED}:
        console.print("next: fix the cause, then orchestrator resume SPEC", soft_wrap=False)


def print_status(summary: StatusSummary, *, console: Console | None = None) -> None:
    console = console or out()
    _wrapped(
        console,
        f"delivery {summary.delivery}: lead engineer {summary.lead_engineer}, "
        f"delivery manager {summary.delivery_manager}, spec {summary.spec_hash[:12]}",
        "",
    )
    if summary.in_production_since:
        console.print(
            f"[green]in production[/] since {summary.in_production_since} (contract start)"
        )
    if summary.done:
        console.print("[green]done[/]: every phase and every gate passed")
    if summary.released is not None:
        mark = summary.released
        console.print(f"released by {mark.who} at {mark.at:%Y-%m-%d %H:%M:%S} UTC: everything it "
                      "made is gone; its record below is kept", markup=False)  # fmt: skip
    _print_latest(console, summary)
    _print_phases(console, summary.record)
    for gate in summary.gates:
        _print_gate(console, gate)
    open_count, closed = len(summary.open_action_items), summary.closed_action_items
    console.print(f"action items: {open_count} open, {closed} closed")
    for item in summary.open_action_items:
        _wrapped(console, f"#{item.id} open: {item.title}", "  ")
    _print_evaluation(console, summary.evaluation)
    _print_notifications(console, summary)
    if summary.lock is not None:
        lock = summary.lock
        where = f"{lock.host} (pid {lock.pid}, run {lock.run_id})"
        console.print(f"locked by {lock.holder} on {where}", markup=False)


def _print_notifications(console: Console, summary: StatusSummary) -> None:
    statuses = [notice.status for notice in summary.notifications]
    sent, failed = statuses.count("sent"), statuses.count("failed")
    if statuses:
        told = f"notifications: {sent} sent, {failed} failed"
        if failed:
            told = f"[yellow]{told}[/]"
        console.print(f"{told} (notifications {escape(summary.delivery)} lists them)")


def _print_latest(console: Console, summary: StatusSummary) -> None:
    latest = summary.latest_run
    if latest is None:
        console.print("no run yet")
        return
    console.print(f"latest run {latest.id}: {styled(latest.status)}")
    if latest.reason:
        _wrapped(console, latest.reason, "    ")


def _print_phases(console: Console, phases: Sequence[PhaseSummary]) -> None:
    table = Table("#", "phase", "status", "run", "finished", box=None, show_edge=False,
                  pad_edge=False, title="phases", title_justify="left")  # fmt: skip
    for phase in phases:
        finished = f"{phase.finished_at:%Y-%m-%d %H:%M}" if phase.finished_at else ""
        table.add_row(str(phase.number), phase.name, styled(phase.status), phase.run_id or "",
                      finished)  # fmt: skip
    console.print(table, soft_wrap=False)


def _print_gate(console: Console, gate: GateSummary) -> None:
    if gate.passed and gate.approved_by is None:
        console.print(f"gate {gate.gate}: [green]passed[/] (not needed)")
    elif gate.passed:
        when = f", {gate.decided_at:%Y-%m-%d %H:%M}" if gate.decided_at else ""
        console.print(f"gate {gate.gate}: [green]passed[/]", end=" ")
        console.print(f"(by {gate.approved_by}{when})", markup=False)
        if gate.comment:
            _wrapped(console, f"comment: {gate.comment}", "    ")
    else:
        console.print(f"gate {gate.gate}: [yellow]needed[/]")
        _wrapped(console, f"needs {gate.needs}", "    ")
        _print_wait(console, gate)
    if gate.evidence:
        shown = gate.evidence[:16]  # the whole hash is in --json
        signed = GATES[gate.gate].evidence_step
        _wrapped(console, f"signs the results of {signed}, evidence {shown}...", "    ")
    if gate.stale_by and not gate.passed:
        _wrapped(console, f"stale: {gate.stale_by} signed earlier results", "    ")
    for blocker in gate.blockers:
        _wrapped(console, f"blocked: {blocker}", "    ")


def _print_wait(console: Console, gate: GateSummary) -> None:
    """How long the delivery has waited at a gate, and its last check-in."""
    if gate.waiting_since is not None:
        since = gate.waiting_since
        long = waited(since, datetime.now(UTC))
        _wrapped(console, f"waiting since {since:%Y-%m-%d %H:%M} UTC ({long})", "    ")
    last = gate.last_checkin
    if last is not None:
        checkins = f"check-ins: {gate.checkins}, the last {last.at:%Y-%m-%d %H:%M} by {last.by}"
        _wrapped(console, f"{checkins}: {last.comment}", "    ")
    elif gate.waiting_since is not None and gate.gate in CHECKIN_GATES:
        _wrapped(
            console, "check-ins: none yet (orchestrator checkin DELIVERY --comment ...)", "    "
        )


def _print_evaluation(console: Console, notes: Sequence[EvaluationNote]) -> None:
    if not notes:
        console.print("evaluation: none recorded (orchestrator evaluate DELIVERY)")
        return
    console.print("evaluation:")
    for kind, title in (("went_well", "went well"), ("could_be_better", "could be better")):
        for note in (n for n in notes if n.kind == kind):
            _wrapped(console, f"{title}: {note.text} ({note.by})", "  ")


def _wrapped(console: Console, text: str, indent: str) -> None:
    """``text`` as plain text, wrapped to the terminal's width with a hanging ``indent``."""
    width = max(console.width - len(indent), 20)
    lines = textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]
    for line in lines:
        console.print(f"{indent}{line}", markup=False, crop=False, soft_wrap=False)
