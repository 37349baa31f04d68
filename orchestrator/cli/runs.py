"""The run commands: plan, run, resume, status, show, runs, logs and approve.

Register them on the ``orchestrator`` app with ``register(app)``. Exit codes (docs/cli.md): 0 done,
1 failed, 2 bad input, 3 waiting for a gate, 4 locked by another run, 5 crashed. Results go to
stdout (``--json`` on the read commands); progress and log lines go to stderr.

The commands that act on a delivery (plan, run, resume) work on a site (``--site NAME|FILE``,
``ORCHESTRATOR_SITE``, or the spec's ``site``): the composition root (``orchestrator.wiring``)
builds the phases and their adapters from it. Tests build the commands' collaborators themselves
and pass them as ``obj=RunsWiring(...)``.
"""

from __future__ import annotations

import getpass
import json
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Protocol

import structlog
import typer
from rich.markup import escape
from rich.table import Table

from orchestrator.adapters.workspace import Workspace
from orchestrator.cli.console import err, out
from orchestrator.engine import (
    BadInput,
    Delivery,
    Engine,
    ExitCode,
    GateRefused,
    HostRunner,
    LoggingObserver,
    NotAuthenticated,
    Phase,
    PhaseRange,
    PlanOutcome,
    RetryPolicy,
    RunInterrupted,
    RunLocked,
    RunOutcome,
    RunReport,
    RunRequest,
    Runtime,
    SerialRunner,
    Status,
    load_delivery,
    stop_on_signals,
    write_junit,
)
from orchestrator.engine.approvals import approve as record_approval
from orchestrator.engine.checkins import CHECKIN_GATES, waited
from orchestrator.engine.gates import GATES, People, operations_team
from orchestrator.engine.ports.identity import Authenticator
from orchestrator.engine.ports.ipam import Ipam
from orchestrator.logging import RunLog, RunLogShipper, configured_logging, readable, redact_text
from orchestrator.phases.record import (
    GateSummary,
    PhaseSummary,
    StatusSummary,
    gate_summary,
    status_of,
)
from orchestrator.phases.release import release_after_failure
from orchestrator.site import SITE_ENV, SiteError, load_site, site_path
from orchestrator.store import (
    EvaluationNote,
    HostRecord,
    RunStore,
    StoreLocation,
    open_store,
)
from orchestrator.store.location import DEFAULT_STATE, STATE_ENV, STORE_URL_ENV

log = structlog.get_logger("orchestrator.cli")
USER_ENV = "ORCHESTRATOR_USER"
SIGN_WITH_ENV = "ORCHESTRATOR_SIGN_WITH"


class Composition(Protocol):
    """The phases of a site, the NetBox they reserve in and the delivery files they keep
    (``orchestrator.wiring.Wiring``); ``using`` gives it the run store a command opened, where
    the site's shared state is kept."""

    @property
    def ipam(self) -> Ipam: ...

    @property
    def workspace(self) -> Workspace: ...

    def phases(self) -> Sequence[Phase]: ...

    def using(self, store: RunStore) -> Composition: ...

    def authenticator(self, sign_with: Path | None = None) -> Authenticator:
        """Who approves a gate, among the site's people."""
        ...

    def complete(self, delivery: Delivery) -> Delivery:
        """``delivery`` with what its spec leaves to the site filled in (the network's place)."""
        ...


def site_composition(chosen: str | None, state_dir: Path, spec_site: str | None) -> Composition:
    """The composition root on the chosen site (option, environment, else the spec's)."""
    from orchestrator.wiring import Wiring  # noqa: PLC0415 - adapters load only when a site is used

    try:
        return Wiring(load_site(site_path(chosen, spec_site)), state_dir)
    except SiteError as exc:
        raise BadInput(str(exc)) from None


@dataclass(frozen=True, slots=True)
class RunsWiring:
    """What the run commands are built from; the defaults are the real ones."""

    load_delivery: Callable[[Path], Delivery] = load_delivery
    compose: Callable[[str | None, Path, str | None], Composition] = site_composition
    open_store: Callable[[StoreLocation], RunStore] = open_store
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(jitter=1.0))
    runner: HostRunner = field(default_factory=SerialRunner)
    runtime: Runtime = field(default_factory=Runtime)


# options shared by the commands

StateDir = Annotated[
    Path,
    typer.Option(
        "--state-dir",
        envvar=STATE_ENV,
        help="Folder of the run store (SQLite) and the run logs.",
    ),
]
StoreUrl = Annotated[
    str | None,
    typer.Option(
        "--store-url",
        envvar=STORE_URL_ENV,
        help="Database URL of a shared run store, e.g. postgresql+psycopg://host/db.",
        show_default=False,
    ),
]
SiteOption = Annotated[
    str | None,
    typer.Option(
        "--site",
        envvar=SITE_ENV,
        help="Site file, or a site name (NAME.yaml in ./sites); default: the spec's `site`.",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
SpecPath = Annotated[Path, typer.Argument(help="Delivery spec (YAML).", show_default=False)]
FromPhase = Annotated[int, typer.Option("--from-phase", min=1, help="First phase to run.")]
ThroughPhase = Annotated[
    int | None,
    typer.Option("--through-phase", min=1, help="Last phase to run; default: the last one."),
]
JunitFile = Annotated[
    Path | None,
    typer.Option("--junit", help="Write JUnit XML: a test case per phase, step and host."),
]
BreakLock = Annotated[
    bool,
    typer.Option("--break-lock", help="Take the delivery's lock from another run (audited)."),
]
KeepOnFailure = Annotated[
    bool,
    typer.Option(
        "--keep-on-failure",
        help="When phase 1 fails, keep its NetBox reservations (default: release them).",
    ),
]
By = Annotated[
    str | None,
    typer.Option("--by", envvar=USER_ENV, help="Who runs it; default: the login name."),
]


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except OSError:
        return "unknown"


def _wiring(ctx: typer.Context) -> RunsWiring:
    return ctx.find_object(RunsWiring) or RunsWiring()


@contextmanager
def _exit_codes() -> Iterator[None]:
    """Expected failures become one line on stderr and their exit code; never a traceback."""
    try:
        yield
    except (BadInput, GateRefused, NotAuthenticated) as exc:
        err().print(f"[bold red]error:[/bold red] {escape(str(exc))}")
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    except RunLocked as exc:
        err().print(f"[bold red]locked:[/bold red] {escape(str(exc))}")
        err().print("[yellow]hint:[/yellow] wait for it, or take over with --break-lock (audited)")
        raise typer.Exit(ExitCode.LOCKED) from None
    except typer.Exit:
        raise
    except (RunInterrupted, KeyboardInterrupt):
        err().print("[bold red]interrupted[/bold red]: `orchestrator resume SPEC` continues")
        raise typer.Exit(ExitCode.CRASHED) from None
    except Exception as exc:  # noqa: BLE001 - our side broke: one line, exit "crashed"
        err().print(f"[bold red]crashed:[/bold red] {escape(_one_line(exc))}")
        raise typer.Exit(ExitCode.CRASHED) from None


def _one_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {redact_text(str(exc))}"


@contextmanager
def _opened(ctx: typer.Context, state_dir: Path, store_url: str | None) -> Iterator[RunStore]:
    store = _wiring(ctx).open_store(StoreLocation(state_dir, store_url))
    try:
        yield store
    finally:
        store.close()


def _composed(
    ctx: typer.Context, site: str | None, state_dir: Path, delivery: Delivery
) -> Composition:
    spec_site = delivery.spec.site if delivery.spec is not None else None
    return _wiring(ctx).compose(site, state_dir, spec_site)


def _engine(
    ctx: typer.Context, store: RunStore, shipper: RunLogShipper, composed: Composition
) -> Engine:
    """An engine on ``store``; ``composed`` is bound to it already (``Composition.using``)."""
    wiring = _wiring(ctx)
    return Engine(
        store,
        composed.phases(),
        observers=[LoggingObserver(), shipper],
        retry=wiring.retry,
        runner=wiring.runner,
        runtime=wiring.runtime,
    )


def _selected(composed: Composition, first: int, last: int | None) -> PhaseRange:
    return PhaseRange(first, last or max(p.number for p in composed.phases()))


def _command(ctx: typer.Context, spec: Path, *extra: str) -> str:
    return " ".join([ctx.command_path, str(spec), *extra])


# plan, run, resume


def plan(  # noqa: PLR0913 - one parameter per command-line option
    ctx: typer.Context,
    spec: SpecPath,
    from_phase: FromPhase = 1,
    through_phase: ThroughPhase = None,
    *,
    as_json: AsJson = False,
    by: By = None,
    site: SiteOption = None,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """Show what a run would do, step by step, without changing anything; recorded as a plan run."""
    with _exit_codes():
        delivery = _wiring(ctx).load_delivery(spec)
        composed = _composed(ctx, site, state_dir, delivery)
        delivery = composed.complete(delivery)
        phases = _selected(composed, from_phase, through_phase)
        command = _command(
            ctx, spec, f"--from-phase {phases.first}", f"--through-phase {phases.last}"
        )
        with (
            _opened(ctx, state_dir, store_url) as store,
            _run_logging(store, state_dir, store_url) as shipper,
        ):
            outcome = _engine(ctx, store, shipper, composed.using(store)).plan(
                RunRequest(delivery, _who(by), command, phases)
            )
            shipper.ship()
        people = People(
            delivery.lead_engineer, delivery.delivery_manager, operations_team(delivery.snapshot)
        )
        _print_plan(outcome, people, as_json=as_json)
    raise typer.Exit(ExitCode.of(outcome.run.status))


def run(  # noqa: PLR0913 - one parameter per command-line option
    ctx: typer.Context,
    spec: SpecPath,
    from_phase: FromPhase = 1,
    through_phase: ThroughPhase = None,
    *,
    junit: JunitFile = None,
    break_lock: BreakLock = False,
    keep_on_failure: KeepOnFailure = False,
    by: By = None,
    site: SiteOption = None,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """Run the selected phases; steps already done with the same inputs are skipped.

    Stops at the first failure, crash or gate that needs a person; `resume` continues from there.
    """
    with _exit_codes():
        delivery = _wiring(ctx).load_delivery(spec)
        composed = _composed(ctx, site, state_dir, delivery)
        delivery = composed.complete(delivery)
        phases = _selected(composed, from_phase, through_phase)
        extra = (f"--from-phase {phases.first}", f"--through-phase {phases.last}")
        request = RunRequest(
            delivery,
            _who(by),
            _command(ctx, spec, *extra),
            phases,
            break_lock=break_lock,
        )
        outcome = _carry_out(
            ctx, composed, (state_dir, store_url, junit), lambda e: e.run(request),
            keep=keep_on_failure,
        )  # fmt: skip
    raise typer.Exit(outcome.exit_code)


def resume(  # noqa: PLR0913 - one parameter per command-line option
    ctx: typer.Context,
    spec: SpecPath,
    *,
    run_id: Annotated[
        str | None,
        typer.Option("--run", help="Run to continue; default: the delivery's latest run."),
    ] = None,
    junit: JunitFile = None,
    break_lock: BreakLock = False,
    keep_on_failure: KeepOnFailure = False,
    by: By = None,
    site: SiteOption = None,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """Continue the delivery's failed, crashed, interrupted or waiting run where it stopped.

    Only what is not done is redone: steps that succeeded are skipped, and of a step that failed
    on some hosts only those hosts are retried. The spec must be the one the run started with.
    """
    with _exit_codes():
        delivery = _wiring(ctx).load_delivery(spec)
        composed = _composed(ctx, site, state_dir, delivery)
        delivery = composed.complete(delivery)
        request = RunRequest(delivery, _who(by), _command(ctx, spec), break_lock=break_lock)
        outcome = _carry_out(
            ctx, composed, (state_dir, store_url, junit), lambda e: e.resume(request, run_id),
            keep=keep_on_failure,
        )  # fmt: skip
    raise typer.Exit(outcome.exit_code)


@contextmanager
def _run_logging(
    store: RunStore, state_dir: Path, store_url: str | None
) -> Iterator[RunLogShipper]:
    """The run's JSON log on disk and a readable console; the shipper copies lines to the store."""
    run_log = RunLog(StoreLocation(state_dir, store_url).run_logs)
    with configured_logging(console=sys.stderr, run_log=run_log):
        yield RunLogShipper(store, run_log)


def _carry_out(
    ctx: typer.Context,
    composed: Composition,
    where: tuple[Path, str | None, Path | None],
    action: Callable[[Engine], RunOutcome],
    *,
    keep: bool = False,
) -> RunOutcome:
    state_dir, store_url, junit = where
    with (
        _opened(ctx, state_dir, store_url) as store,
        _run_logging(store, state_dir, store_url) as shipper,
        stop_on_signals(),
    ):
        bound = composed.using(store)
        outcome = action(_engine(ctx, store, shipper, bound))
        if not keep:
            release_after_failure(lambda: bound.ipam, store, outcome.run)
        report = RunReport.load(store, outcome.run.id)
        if junit is not None:
            write_junit(junit, report)
            log.info("junit_written", path=str(junit))
        shipper.ship()
    _print_report(report)
    _print_next(outcome)
    return outcome


# status, show, runs, logs


def status(
    ctx: typer.Context,
    delivery: Annotated[str, typer.Argument(help="Delivery id.", show_default=False)],
    *,
    as_json: AsJson = False,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """Where a delivery stands, the whole record: its latest run, every phase (as the latest run
    that reached it left it), every gate (who, when, comment), action items, the evaluation and
    the lock."""
    with _exit_codes(), _opened(ctx, state_dir, store_url) as store:
        summary = status_of(store, delivery)
    if as_json:
        _print_json(summary)
        return
    _print_status(summary)


def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id.", show_default=False)],
    *,
    as_json: AsJson = False,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """Everything one run did: phases, steps, hosts and their tasks."""
    with _exit_codes(), _opened(ctx, state_dir, store_url) as store:
        report = RunReport.load(store, run_id)
    if as_json:
        _print_json(report)
        return
    _print_report(report, tasks=True)


def runs(  # noqa: PLR0913 - one parameter per command-line option
    ctx: typer.Context,
    delivery: Annotated[
        str | None, typer.Argument(help="Only this delivery's runs.", show_default=False)
    ] = None,
    *,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most recent N runs.")] = 20,
    as_json: AsJson = False,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """The most recent runs, newest first."""
    with _exit_codes(), _opened(ctx, state_dir, store_url) as store:
        found = store.list_runs(delivery, limit)
    if as_json:
        _print_json(found)
        return
    table = Table()
    table.add_column("run", no_wrap=True)
    for heading in ("delivery", "mode", "status", "who", "started (UTC)", "phases"):
        table.add_column(heading)
    for record in found:
        phases = f"{record.from_phase}..{record.through_phase}"
        started = f"{record.started_at:%Y-%m-%d %H:%M}"
        status = _styled(record.status)
        table.add_row(
            record.id, record.delivery_id, record.mode, status, record.who, started, phases
        )
    out().print(table)


def logs(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id.", show_default=False)],
    *,
    as_json: AsJson = False,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """A run's log: readable, or the stored JSON lines with --json."""
    with _exit_codes(), _opened(ctx, state_dir, store_url) as store:
        lines = _log_lines(store, StoreLocation(state_dir, store_url), run_id)
    for line in lines:
        out().print(line if as_json else readable(line), markup=False)


def _log_lines(store: RunStore, location: StoreLocation, run_id: str) -> list[str]:
    """The run's log file when this machine has it (it has every line), else the store's copy."""
    if store.get_run(run_id) is None:
        raise BadInput(f"no run {run_id} in the run store")
    file = location.run_logs / f"{run_id}.jsonl"
    if file.is_file():
        return file.read_text(encoding="utf-8").splitlines()
    return store.read_log_lines(run_id)


# approve


SignWith = Annotated[
    Path | None,
    typer.Option(
        "--sign-with",
        envvar=SIGN_WITH_ENV,
        help=(
            "Sign the approval with this SSH key (a private key file, or a public key whose "
            "private half is in your ssh-agent); the site lists each person's keys. Without "
            "it, you are the OS account you run as, looked up in the site's people."
        ),
        show_default=False,
    ),
]


def approve(  # noqa: PLR0913 - one parameter per command-line option
    ctx: typer.Context,
    delivery: Annotated[str, typer.Argument(help="Delivery id.", show_default=False)],
    gate: Annotated[
        str,
        typer.Argument(help=f"Gate: {', '.join(GATES)}.", show_default=False),
    ],
    *,
    comment: Annotated[str, typer.Option("--comment", help="What was checked, for the record.")],
    sign_with: SignWith = None,
    site: SiteOption = None,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """Record your approval at a gate; refused (exit 2) when the gate's rule does not allow it.

    Who you are is never typed: it is your OS login, or the SSH key you sign with (--sign-with),
    among the people the site file lists, with the roles it gives them. The buddycheck needs an
    engineer other than the lead engineer, no open action items, and signs the check results as
    they are (when the checks run again and find otherwise, sign off again); the preconditions,
    the customer confirmation and go-live need the delivery's delivery manager; ops_acceptance
    needs someone of the operations team (site role `operations`). A CI account (site role `ci`)
    approves no gate.
    """
    with (
        _exit_codes(),
        _opened(ctx, state_dir, store_url) as store,
        configured_logging(console=sys.stderr),
    ):
        composed = _wiring(ctx).compose(site, state_dir, _stored_site(store, delivery))
        identity = composed.authenticator(sign_with)
        clock = _wiring(ctx).runtime.clock
        decision = record_approval(store, delivery, gate, identity, comment, clock=clock)
    signed = f", evidence {decision.evidence[:12]}" if decision.evidence else ""
    out().print(
        f"{decision.gate} of {delivery} approved by {decision.by} ({decision.role}; "
        f"authenticated by {decision.method}{signed})",
        markup=False,
    )
    out().print(f"continue with: orchestrator resume SPEC  (the spec of {delivery})")


def _stored_site(store: RunStore, delivery_id: str) -> str | None:
    """The site the delivery's stored spec names, if any."""
    record = store.get_delivery(delivery_id)
    named = record.spec.get("site") if record is not None else None
    return named if isinstance(named, str) else None


# reading a delivery's state


# printing


_STYLES = {
    Status.SUCCEEDED: "green",
    Status.SKIPPED: "dim",
    Status.FAILED: "red",
    Status.CRASHED: "bold red",
    Status.WAITING: "yellow",
    Status.RUNNING: "cyan",
    Status.PENDING: "cyan",
}


def _styled(status: Status, text: str = "") -> str:
    return f"[{_STYLES[status]}]{text or status}[/]"


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


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(_plain(value), indent=2, default=_json_default) + "\n")


def _print_plan(outcome: PlanOutcome, people: People, *, as_json: bool) -> None:
    if as_json:
        gates = [asdict(gate_summary(state, people)) for state in outcome.gates]
        steps = [asdict(step) for step in outcome.steps]
        _print_json({"run": asdict(outcome.run), "steps": steps, "gates": gates})
        return
    table = Table("phase", "step", "plan", "changes")
    for step in outcome.steps:
        what = _styled(step.status, _PLANNED.get(step.status, "cannot plan"))
        detail = "\n".join(str(change) for change in step.changes) or step.error or ""
        table.add_row(str(step.phase), step.key, what, escape(detail))
    out().print(table)
    for state in outcome.gates:
        mark = "[green]passed[/]" if state.passed else "[yellow]needed[/]"
        out().print(f"gate {state.gate.name}: {mark}")
    out().print(f"plan {outcome.run.id}: {_styled(outcome.run.status)}")


def _print_report(report: RunReport, *, tasks: bool = False) -> None:
    run = report.run
    phases = f"phases {run.from_phase}..{run.through_phase}"
    out().print(
        f"run {run.id} of {run.delivery_id} ({run.mode}, {phases}, by {run.who} on {run.host}): "
        f"{_styled(run.status)}"
    )
    table = Table("phase", "step", "status", "hosts", "error")
    for step in report.steps:
        hosts = report.hosts_of(step.key)
        table.add_row(
            str(step.phase),
            step.key,
            _styled(step.status),
            _hosts_cell(hosts),
            escape(step.error or ""),
        )
    if report.steps:
        out().print(table)
    if tasks:
        _print_tasks(report)


def _hosts_cell(hosts: Sequence[HostRecord]) -> str:
    done = [host for host in hosts if host.status.done]
    return f"{len(done)}/{len(hosts)}" if hosts else ""


def _print_tasks(report: RunReport) -> None:
    for host in report.hosts:
        out().print(
            f"{host.step_key} @ {host.host}: {_styled(host.status)} {escape(host.error or '')}"
        )
        for task in host.tasks:
            changed = " (changed)" if task.changed else ""
            out().print(f"    {escape(task.name)}: {_styled(task.status)}{changed}")


def _print_next(outcome: RunOutcome) -> None:
    run = outcome.run
    if run.reason:
        out().print(f"{_styled(run.status)}: {escape(run.reason)}")
    if run.status is Status.WAITING and outcome.gate is not None:
        if outcome.gate.blockers and outcome.gate.gate.blocked_by_open_items:
            out().print(f"see: orchestrator actions list {run.delivery_id}", markup=False)
        gate = outcome.gate.gate
        action = (
            f"{gate.recorded_with} {run.delivery_id} --file FILE"
            if gate.recorded_with
            else f"orchestrator approve {run.delivery_id} {gate.name} --comment TEXT"
        )
        out().print(
            f"next: {action} [--sign-with KEY], then orchestrator resume SPEC", markup=False
        )
    elif run.status in {Status.FAILED, Status.CRASHED}:
        out().print("next: fix the cause, then orchestrator resume SPEC")


def _print_status(summary: StatusSummary) -> None:
    _wrapped(
        f"delivery {summary.delivery}: lead engineer {summary.lead_engineer}, "
        f"delivery manager {summary.delivery_manager}, spec {summary.spec_hash[:12]}",
        "",
    )
    if summary.in_production_since:
        out().print(f"[green]in production[/] since {summary.in_production_since} (contract start)")
    if summary.done:
        out().print("[green]done[/]: every phase and every gate passed")
    if summary.released is not None:
        mark = summary.released
        out().print(f"released by {mark.who} at {mark.at:%Y-%m-%d %H:%M:%S} UTC: everything it "
                    "made is gone; its record below is kept", markup=False)  # fmt: skip
    _print_latest(summary)
    _print_phases(summary.record)
    for gate in summary.gates:
        _print_gate(gate)
    open_count, closed = len(summary.open_action_items), summary.closed_action_items
    out().print(f"action items: {open_count} open, {closed} closed")
    for item in summary.open_action_items:
        _wrapped(f"#{item.id} open: {item.title}", "  ")
    _print_evaluation(summary.evaluation)
    if summary.lock is not None:
        lock = summary.lock
        where = f"{lock.host} (pid {lock.pid}, run {lock.run_id})"
        out().print(f"locked by {lock.holder} on {where}", markup=False)


def _print_latest(summary: StatusSummary) -> None:
    latest = summary.latest_run
    if latest is None:
        out().print("no run yet")
        return
    out().print(f"latest run {latest.id}: {_styled(latest.status)}")
    if latest.reason:
        _wrapped(latest.reason, "    ")


def _print_phases(phases: Sequence[PhaseSummary]) -> None:
    table = Table("#", "phase", "status", "run", "finished", box=None, show_edge=False,
                  pad_edge=False, title="phases", title_justify="left")  # fmt: skip
    for phase in phases:
        finished = f"{phase.finished_at:%Y-%m-%d %H:%M}" if phase.finished_at else ""
        table.add_row(str(phase.number), phase.name, _styled(phase.status), phase.run_id or "",
                      finished)  # fmt: skip
    out(soft_wrap=False).print(table)


def _print_gate(gate: GateSummary) -> None:
    if gate.passed and gate.approved_by is None:
        out().print(f"gate {gate.gate}: [green]passed[/] (not needed)")
    elif gate.passed:
        when = f", {gate.decided_at:%Y-%m-%d %H:%M}" if gate.decided_at else ""
        out().print(f"gate {gate.gate}: [green]passed[/]", end=" ")
        out().print(f"(by {gate.approved_by}{when})", markup=False)
        if gate.comment:
            _wrapped(f"comment: {gate.comment}", "    ")
    else:
        out().print(f"gate {gate.gate}: [yellow]needed[/]")
        _wrapped(f"needs {gate.needs}", "    ")
        _print_wait(gate)
    if gate.evidence:
        shown = gate.evidence[:16]  # the whole hash is in --json
        signed = GATES[gate.gate].evidence_step
        _wrapped(f"signs the results of {signed}, evidence {shown}...", "    ")
    if gate.stale_by and not gate.passed:
        _wrapped(f"stale: {gate.stale_by} signed earlier results", "    ")
    for blocker in gate.blockers:
        _wrapped(f"blocked: {blocker}", "    ")


def _print_wait(gate: GateSummary) -> None:
    """How long the delivery has waited at a gate, and its last check-in."""
    if gate.waiting_since is not None:
        since = gate.waiting_since
        long = waited(since, datetime.now(UTC))
        _wrapped(f"waiting since {since:%Y-%m-%d %H:%M} UTC ({long})", "    ")
    last = gate.last_checkin
    if last is not None:
        _wrapped(f"check-ins: {gate.checkins}, the last {last.at:%Y-%m-%d %H:%M} by {last.by}: "
                 f"{last.comment}", "    ")  # fmt: skip
    elif gate.waiting_since is not None and gate.gate in CHECKIN_GATES:
        _wrapped("check-ins: none yet (orchestrator checkin DELIVERY --comment ...)", "    ")


def _print_evaluation(notes: Sequence[EvaluationNote]) -> None:
    if not notes:
        out().print("evaluation: none recorded (orchestrator evaluate DELIVERY)")
        return
    out().print("evaluation:")
    for kind, title in (("went_well", "went well"), ("could_be_better", "could be better")):
        for note in (n for n in notes if n.kind == kind):
            _wrapped(f"{title}: {note.text} ({note.by})", "  ")


def _wrapped(text: str, indent: str) -> None:
    """``text`` as plain text, wrapped to the terminal's width with a hanging ``indent``."""
    console = out(soft_wrap=False)
    width = max(console.width - len(indent), 20)
    lines = textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]
    for line in lines:
        console.print(f"{indent}{line}", markup=False, crop=False)


def register(app: typer.Typer) -> None:
    """Add the run commands to ``app``."""
    for command in (plan, run, resume, status, show, runs, logs, approve):
        app.command()(command)


__all__ = [
    "RunsWiring",
    "approve",
    "logs",
    "plan",
    "register",
    "resume",
    "run",
    "runs",
    "show",
    "status",
]
