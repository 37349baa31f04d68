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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Protocol

import structlog
import typer
from rich.markup import escape

from orchestrator.adapters.workspace import Workspace
from orchestrator.cli.console import err, out
from orchestrator.cli.logview import (
    LEVELS,
    FileTail,
    LogFilter,
    StoreTail,
    follow,
    level,
    since,
)
from orchestrator.cli.progress import LiveProgress, PlainProgress, beside_progress
from orchestrator.cli.render import (
    print_json,
    print_next,
    print_plan,
    print_report,
    print_runs,
    print_status,
)
from orchestrator.engine import (
    BadInput,
    Delivery,
    Engine,
    ExitCode,
    GateRefused,
    HostRunner,
    LoggingObserver,
    Mode,
    NotAuthenticated,
    Phase,
    PhaseRange,
    RetryPolicy,
    RunInterrupted,
    RunLocked,
    RunObserver,
    RunOutcome,
    RunReport,
    RunRequest,
    Runtime,
    SerialRunner,
    Status,
    WrapUp,
    load_delivery,
    stop_on_signals,
    write_junit,
)
from orchestrator.engine.abandoned import (
    LOG_CUT,
    LOG_ENDED,
    Cut,
    cut_ended_plan,
    settle_abandoned,
)
from orchestrator.engine.approvals import approve as record_approval
from orchestrator.engine.gates import GATES, People, operations_team
from orchestrator.engine.notifying import Notifications
from orchestrator.engine.ports.identity import Authenticator
from orchestrator.engine.ports.ipam import Ipam
from orchestrator.logging import (
    ConsoleStream,
    RunLog,
    RunLogShipper,
    configured_logging,
    every_event,
    readable,
    redact_text,
)
from orchestrator.phases.record import (
    status_of,
)
from orchestrator.phases.release import release_after_failure
from orchestrator.site import SITE_ENV, SiteError, load_site, site_path
from orchestrator.store import (
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

    def notifications(self) -> Notifications:
        """Who is told when a run waits, fails or crashes, through the site's channels."""
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
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="No live display in a terminal: plain progress lines, as when output is piped.",
    ),
]
Verbose = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Every log line on the console too (the run's JSON log always has them all).",
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
    ctx: typer.Context,
    store: RunStore,
    composed: Composition,
    observers: Sequence[RunObserver],
) -> Engine:
    """An engine on ``store``; ``composed`` is bound to it already (``Composition.using``)."""
    wiring = _wiring(ctx)
    return Engine(
        store,
        composed.phases(),
        observers=[LoggingObserver(), *observers],
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
            _run_logging(store, StoreLocation(state_dir, store_url)) as shipper,
        ):
            outcome = _engine(ctx, store, composed.using(store), [shipper]).plan(
                RunRequest(delivery, _who(by), command, phases)
            )
            shipper.end(outcome.run)
        people = People(
            delivery.lead_engineer, delivery.delivery_manager, operations_team(delivery.snapshot)
        )
        print_plan(outcome, people, as_json=as_json)
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
    quiet: Quiet = False,
    verbose: Verbose = False,
    by: By = None,
    site: SiteOption = None,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """Run the selected phases; steps already done with the same inputs are skipped.

    Stops at the first failure, crash or gate that needs a person; `resume` continues from there.
    In a terminal a status line shows the phase, the step, its hosts done and the time so far;
    piped (or with --quiet) the same progress comes as plain lines. The console shows the log's
    warnings and errors (--verbose: every line); the run's JSON log keeps everything.
    At a stop, who must act is told through the site's `notifications` (email, a webhook), once.
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
            ctx, composed, (state_dir, store_url, junit), lambda e, then: e.run(request, then=then),
            Choices(keep=keep_on_failure, quiet=quiet, verbose=verbose, spec=spec),
            delivery_id=delivery.id,
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
    quiet: Quiet = False,
    verbose: Verbose = False,
    by: By = None,
    site: SiteOption = None,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """Continue the delivery's failed, crashed, interrupted or waiting run where it stopped.

    Only what is not done is redone: steps that succeeded are skipped, and of a step that failed
    on some hosts only those hosts are retried. The spec must be the one the run started with.
    Progress and console logging as for `run` (--quiet, --verbose).
    A stop is told to who must act as for `run`.
    """
    with _exit_codes():
        delivery = _wiring(ctx).load_delivery(spec)
        composed = _composed(ctx, site, state_dir, delivery)
        delivery = composed.complete(delivery)
        request = RunRequest(delivery, _who(by), _command(ctx, spec), break_lock=break_lock)
        outcome = _carry_out(
            ctx, composed, (state_dir, store_url, junit),
            lambda e, then: e.resume(request, run_id, then=then),
            Choices(keep=keep_on_failure, quiet=quiet, verbose=verbose, spec=spec),
            delivery_id=delivery.id,
        )  # fmt: skip
    raise typer.Exit(outcome.exit_code)


@contextmanager
def _run_logging(
    store: RunStore,
    location: StoreLocation,
    console: ConsoleStream | None = None,
    *,
    verbose: bool = False,
) -> Iterator[RunLogShipper]:
    """The run's JSON log on disk (every line) and a readable console (standard error unless
    given; only what the progress display does not say unless ``verbose``); the shipper copies
    lines to the store."""
    run_log = RunLog(location.run_logs)
    view = every_event if verbose else beside_progress
    with configured_logging(console=console or sys.stderr, run_log=run_log, console_view=view):
        yield RunLogShipper(store, run_log)


def _progress(*, quiet: bool) -> PlainProgress:
    """A live status line when standard error is a terminal that moves its cursor (and not
    ``quiet``), else lines. The stream itself is asked: ``FORCE_COLOR`` does not make a pipe one."""
    console = err()
    if sys.stderr.isatty() and not console.is_dumb_terminal and not quiet:
        return LiveProgress(console)
    return PlainProgress(sys.stderr)


@dataclass(frozen=True, slots=True)
class Choices:
    """How ``run`` and ``resume`` were asked to go: keep phase 1's reservations on failure,
    plain progress lines in a terminal, every log line on the console; the spec as given."""

    keep: bool = False
    quiet: bool = False
    verbose: bool = False
    spec: Path | None = None  # as given: the command a notice names to resume


def _carry_out(  # noqa: PLR0913 - the command's parts, and which delivery it settles first
    ctx: typer.Context,
    composed: Composition,
    where: tuple[Path, str | None, Path | None],
    action: Callable[[Engine, WrapUp], RunOutcome],
    choices: Choices,
    *,
    delivery_id: str,
) -> RunOutcome:
    state_dir, store_url, junit = where
    location = StoreLocation(state_dir, store_url)
    with (
        _opened(ctx, state_dir, store_url) as store,
        _progress(quiet=choices.quiet) as progress,
        _run_logging(store, location, progress.log_stream, verbose=choices.verbose) as shipper,
        stop_on_signals(),
    ):
        _settle(ctx, store, StoreLocation(state_dir, store_url), delivery_id)
        bound = composed.using(store)

        def wrap_up(outcome: RunOutcome) -> None:  # the lock still held: see ``WrapUp``
            try:
                if not choices.keep:
                    release_after_failure(lambda: bound.ipam, store, outcome.run)
                spec = str(choices.spec) if choices.spec else None
                bound.notifications().after_run(store, outcome, spec)
                if junit is not None:
                    write_junit(junit, RunReport.load(store, outcome.run.id))
                    log.info("junit_written", path=str(junit))
            except Exception:
                shipper.end(outcome.run)  # the run ended all the same; its error follows
                raise
            shipper.end(outcome.run)

        outcome = action(_engine(ctx, store, bound, [shipper, progress]), wrap_up)
        report = RunReport.load(store, outcome.run.id)
    print_report(report)
    print_next(outcome)
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
    that reached it left it), every gate (who, when, comment), action items, the evaluation, how
    many notifications were sent and failed, and the lock."""
    with _exit_codes(), _opened(ctx, state_dir, store_url) as store:
        _settle(ctx, store, StoreLocation(state_dir, store_url), delivery)
        summary = status_of(store, delivery)
    if as_json:
        print_json(summary)
        return
    print_status(summary)


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
        _settle_run(ctx, store, StoreLocation(state_dir, store_url), run_id)
        report = RunReport.load(store, run_id)
    if as_json:
        print_json(report)
        return
    print_report(report, tasks=True)


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
        print_json(found)
        return
    print_runs(found)


def logs(  # noqa: PLR0913 - one parameter per command-line option
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id.", show_default=False)],
    *,
    host: Annotated[
        str | None, typer.Option("--host", help="Only the lines about this host.")
    ] = None,
    step: Annotated[
        str | None,
        typer.Option("--step", help="Only this step's lines (a key, or a phase: `base`)."),
    ] = None,
    min_level: Annotated[
        str,
        typer.Option("--level", help=f"Only lines at this level or above: {', '.join(LEVELS)}."),
    ] = "debug",
    since_text: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only lines logged since a time (14:05, 2025-01-10 14:05; UTC) or for a "
            "duration (10m, 1h30m, 2d).",
            show_default=False,
        ),
    ] = None,
    follow_run: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep printing new lines until the run ends."),
    ] = False,
    as_json: AsJson = False,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """A run's log: readable, or the stored JSON lines with --json; filtered by host, step,
    level and time. With --follow, new lines are printed as the run writes them, until it ends
    (at once for a run that is not under way)."""
    with _exit_codes(), _opened(ctx, state_dir, store_url) as store:
        runtime = _wiring(ctx).runtime
        location = StoreLocation(state_dir, store_url)
        _settle_run(ctx, store, location, run_id)
        start = since(since_text, runtime.clock()) if since_text else None
        chosen = LogFilter(host, step, level(min_level), start)
        tail = _log_tail(store, location, run_id)
        lines = (
            follow(tail, _under_way(store, run_id, runtime), runtime.sleep)
            if follow_run
            else tail()
        )
        last = ""
        try:
            for line in lines:
                last = line
                if chosen.matches(line):
                    out().print(line if as_json else readable(line), markup=False)
        except KeyboardInterrupt:
            return
    if not as_json and _last_event([last]) not in {LOG_ENDED, LOG_CUT}:
        err().print("[yellow]the log has no end marker[/]: the run is still going", markup=True)


def _last_event(lines: Sequence[str]) -> str:
    try:
        event = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        return ""
    return str(event.get("event", "")) if isinstance(event, dict) else ""


def _settle(ctx: typer.Context, store: RunStore, location: StoreLocation, delivery: str) -> None:
    settle_runs(store, location, _wiring(ctx).runtime, delivery)


def settle_runs(store: RunStore, location: StoreLocation, runtime: Runtime, delivery: str) -> None:
    """The delivery's runs whose process is gone recorded as crashed, their logs cut
    (``orchestrator.engine.abandoned``): in the store, and in this machine's log files."""
    for cut in settle_abandoned(store, delivery, alive=runtime.holder_alive, clock=runtime.clock):
        _file_cut(location, cut)


def _file_cut(location: StoreLocation, cut: Cut) -> None:
    """A cut log's marker line in this machine's log file too (the store has it already)."""
    file = location.run_logs / f"{cut.run.id}.jsonl"
    if file.is_file():  # a machine without it reads the store's copy, which has the line
        run_log = RunLog(location.run_logs)
        run_log.attach(cut.run.id)
        run_log.msg(cut.line)


def _settle_run(ctx: typer.Context, store: RunStore, location: StoreLocation, run_id: str) -> None:
    """Settle the run's delivery, and cut the log of this run if it is a plan killed after its
    end (a plan holds no lock that would say so)."""
    run = store.get_run(run_id)
    if run is None:
        return
    _settle(ctx, store, location, run.delivery_id)
    if run.mode is Mode.PLAN and run.status is not Status.RUNNING:
        runtime = _wiring(ctx).runtime
        last = _last_event(_log_tail(store, location, run_id)()[-1:])
        cut = cut_ended_plan(store, run, last, alive=runtime.holder_alive, clock=runtime.clock)
        if cut is not None:
            _file_cut(location, cut)


def _log_tail(store: RunStore, location: StoreLocation, run_id: str) -> Callable[[], list[str]]:
    """The run's log file when this machine has it (it has every line), else the store's copy."""
    if store.get_run(run_id) is None:
        raise BadInput(f"no run {run_id} in the run store")
    file = location.run_logs / f"{run_id}.jsonl"
    if file.is_file():
        return FileTail(file)
    return StoreTail(lambda: store.read_log_lines(run_id))


def _under_way(store: RunStore, run_id: str, runtime: Runtime) -> Callable[[], bool]:
    """Whether the run is being carried out: its delivery's lock is its own, held by a live
    process (a process killed leaves the lock; on its own machine that shows)."""
    run = store.get_run(run_id)

    def check() -> bool:
        lock = store.get_lock(run.delivery_id) if run is not None else None
        return lock is not None and lock.run_id == run_id and runtime.holder_alive(lock)

    return check


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
