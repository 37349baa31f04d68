"""A run's progress on the console: observers of the engine, like the log and the store.

In a terminal (standard error is one, and no ``--quiet``), ``LiveProgress`` keeps one status line
at the bottom: the phase, the step, the step's hosts done of all, and the time since the step and
the run started; every step leaves one line above it as it finishes. Anywhere else (a pipe, a file,
a CI log) or with ``--quiet``, ``PlainProgress`` prints the same lines as they happen, and one line
per host. The JSON log (file and store) keeps every event either way; the console shows the log's
warnings and errors only (``--verbose``: every line).

    lines:  phase 2 base
              base.machines               succeeded 3/3 hosts      12s
            phase 2 succeeded in 14s (1 step up to date)
    status: ⠋ phase 2/7 base · base.configure · hosts 1/3 · 0:04 · run 0:18
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import IO, Self

from rich.console import Console, RenderableType
from rich.file_proxy import FileProxy
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text
from structlog.typing import EventDict

from orchestrator.engine import Delivery, Status
from orchestrator.engine.gates import GateState
from orchestrator.engine.observers import LIFECYCLE_EVENTS
from orchestrator.logging import ConsoleStream, level_of
from orchestrator.store import HostRecord, PhaseRecord, RunRecord, StepRecord

#: Each status's colour, in the progress lines and in every table the commands print.
STYLES = {
    Status.SUCCEEDED: "green",
    Status.SKIPPED: "dim",
    Status.FAILED: "red",
    Status.CRASHED: "bold red",
    Status.WAITING: "yellow",
    Status.RUNNING: "cyan",
    Status.PENDING: "cyan",
}


KEY_WIDTH = 27  # the longest step key, handover.contract_effective
STATUS_WIDTH = 9  # succeeded


def took(started: datetime | None, finished: datetime | None) -> str:
    """How long something took, to a person: ``0.4s``, ``12s``, ``3m 05s``, ``1h 02m``."""
    if started is None or finished is None:
        return ""
    return span(finished - started)


def span(length: timedelta | float) -> str:
    """``length`` (or seconds) as ``0.4s``, ``12s``, ``3m 05s`` or ``1h 02m``."""
    seconds = length.total_seconds() if isinstance(length, timedelta) else length
    seconds = max(seconds, 0.0)
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"


def clock_face(seconds: float) -> str:
    """Elapsed time as a stopwatch shows it: ``0:04``, ``12:30``, ``1:02:03``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def status_text(status: Status) -> Text:
    """A status word in its colour."""
    return Text(str(status), style=STYLES[status])


def run_started_line(run: RunRecord, *, resumed: bool) -> Text:
    """``run R of D started (phases 1..7, by alice)``."""
    verb = "resumed" if resumed else "started"
    phases = f"phases {run.from_phase}..{run.through_phase}"
    return Text(f"run {run.id} of {run.delivery_id} {verb} ({phases}, by {run.who})")


def phase_started_line(phase: PhaseRecord) -> Text:
    """``phase 2 base``."""
    return Text(f"phase {phase.number} {phase.name}", style="bold")


def step_line(step: StepRecord, done: int, hosts: int) -> Text:
    """``  base.machines  succeeded  3/3 hosts  12s`` (the hosts done of all) and the error."""
    line = Text(f"  {step.key:<{KEY_WIDTH}} ")
    line.append_text(status_text(step.status))
    line.append(" " * (STATUS_WIDTH - len(step.status) + 1))
    line.append(f"{f'{done}/{hosts} hosts' if hosts else '':<11}")
    line.append(took(step.started_at, step.finished_at).rjust(7))
    if step.error:
        line.append(f": {step.error}", style=STYLES[step.status])
    return line


def host_line(host: HostRecord, done: int, hosts: int) -> Text:
    """``    web-01  succeeded  2/3`` (the step's hosts finished so far) and the error."""
    line = Text(f"    {host.host:<{KEY_WIDTH - 2}} ")
    line.append_text(status_text(host.status))
    line.append(" " * (STATUS_WIDTH - len(host.status) + 1))
    line.append(f"{done}/{hosts}")
    if host.error:
        line.append(f": {host.error}", style=STYLES[host.status])
    return line


def gate_line(state: GateState) -> Text | None:
    """``  gate preconditions  passed (Dana Manager)``, ``... waiting``; nothing for a gate the
    delivery does not need."""
    line = Text(f"  {'gate ' + state.gate.name:<{KEY_WIDTH}} ")
    if state.passed and state.approval is None:
        return None
    if state.passed and state.approval is not None:
        line.append("passed", style="green")
        line.append(f" ({state.approval.by})")
        return line
    line.append("waiting", style=STYLES[Status.WAITING])
    return line


def phase_finished_line(phase: PhaseRecord, up_to_date: int) -> Text:
    """``phase 2 succeeded in 14s (1 step up to date)``."""
    line = Text(f"phase {phase.number} ")
    line.append_text(status_text(phase.status))
    line.append(f" in {took(phase.started_at, phase.finished_at)}")
    if up_to_date:
        line.append(f" ({up_to_date} step{'s' if up_to_date > 1 else ''} up to date)")
    return line


def run_finished_line(run: RunRecord, elapsed: float) -> Text:
    """``run R succeeded in 3m 10s``: the time this command took."""
    line = Text(f"run {run.id} ")
    line.append_text(status_text(run.status))
    line.append(f" in {span(elapsed)}")
    return line


def beside_progress(event: EventDict) -> EventDict | None:
    """A log line as the console shows it beside the progress: only a warning or an error that
    the progress lines do not already say (a gate closed, a step failed), and of a traceback
    only its last line."""
    if level_of(event) < logging.WARNING or event.get("event") in LIFECYCLE_EVENTS:
        return None
    if isinstance(event.get("exception"), str):
        last = str(event.pop("exception")).strip().splitlines()[-1:]
        event["raised"] = f"{''.join(last)} (the traceback is in the run's log)"
    return event


class Position:
    """Where a run is: its phase, its step and how many of the step's hosts are done."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self.run: RunRecord | None = None
        self.phase: PhaseRecord | None = None
        self.step = ""
        self.hosts = 0
        self.done = 0
        self.succeeded = 0
        self.up_to_date = 0
        self.run_began = self.step_began = monotonic()

    def run_started(self, run: RunRecord) -> None:
        self.run, self.run_began = run, self._monotonic()

    def phase_started(self, phase: PhaseRecord) -> None:
        self.phase, self.step, self.up_to_date = phase, "", 0

    def step_started(self, step: StepRecord, hosts: Sequence[str]) -> None:
        self.step, self.hosts, self.done, self.succeeded = step.key, len(hosts), 0, 0
        self.step_began = self._monotonic()

    def host_finished(self, host: HostRecord) -> None:
        self.done += 1
        self.succeeded += host.status.done

    def step_finished(self, step: StepRecord) -> tuple[int, int]:
        """The step's hosts that succeeded (or were up to date) and all of them; none for a step
        that did not start here. A host done earlier in the same run (a resume) is not told
        again: every host of a step that ran to its end and was not told of is one of those."""
        carried = self.hosts - self.done if step.status is not Status.CRASHED else 0
        counts = (self.succeeded + carried, self.hosts) if step.key == self.step else (0, 0)
        if step.status is Status.SKIPPED:
            self.up_to_date += 1
        self.step, self.hosts, self.done = "", 0, 0
        return counts

    def elapsed(self) -> float:
        """Seconds since the run started (in this command)."""
        return self._monotonic() - self.run_began

    def describe(self) -> Text:
        """``phase 2/7 base · base.configure · hosts 1/3 · 0:04 · run 0:18``."""
        now = self._monotonic()
        parts = []
        if self.phase is not None and self.run is not None:
            last = self.run.through_phase
            parts.append(f"phase {self.phase.number}/{last} {self.phase.name}")
        if self.step:
            parts.append(self.step)
            if self.hosts:
                parts.append(f"hosts {self.done}/{self.hosts}")
            parts.append(clock_face(now - self.step_began))
        parts.append(f"run {clock_face(now - self.run_began)}")
        return Text(" · ".join(parts), no_wrap=True, overflow="ellipsis")


class PlainProgress:
    """Observer: a line per event, no colours, no cursor movement; for pipes, files and CI."""

    def __init__(self, stream: IO[str], monotonic: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self.position = Position(monotonic)

    @property
    def log_stream(self) -> ConsoleStream:
        """Where the console's log lines go."""
        return self._stream

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Nothing to stop."""

    def say(self, line: Text) -> None:
        self._stream.write(line.plain + "\n")
        self._stream.flush()

    def run_started(self, run: RunRecord, delivery: Delivery, *, resumed: bool) -> None:  # noqa: ARG002 - the protocol
        self.position.run_started(run)
        self.say(run_started_line(run, resumed=resumed))

    def phase_started(self, phase: PhaseRecord) -> None:
        self.position.phase_started(phase)
        self.say(phase_started_line(phase))

    def gate_checked(self, run: RunRecord, state: GateState) -> None:  # noqa: ARG002 - the protocol
        line = gate_line(state)
        if line is not None:
            self.say(line)

    def step_started(self, step: StepRecord, hosts: Sequence[str]) -> None:
        self.position.step_started(step, hosts)

    def host_finished(self, host: HostRecord) -> None:
        self.position.host_finished(host)
        if self.shows(host):
            self.say(host_line(host, self.position.done, self.position.hosts))

    def shows(self, host: HostRecord) -> bool:
        """Whether a host's own line is printed: every host that ran here."""
        return host.status is not Status.SKIPPED

    def step_finished(self, step: StepRecord) -> None:
        done, hosts = self.position.step_finished(step)
        if step.status is not Status.SKIPPED:
            self.say(step_line(step, done, hosts))

    def phase_finished(self, phase: PhaseRecord) -> None:
        self.say(phase_finished_line(phase, self.position.up_to_date))

    def run_finished(self, run: RunRecord) -> None:
        self.say(run_finished_line(run, self.position.elapsed()))


class LiveProgress(PlainProgress):
    """Observer: the lines of ``PlainProgress`` (a host's only when it did not succeed) above a
    status line that keeps moving, in a terminal."""

    def __init__(self, console: Console, monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(console.file, monotonic)
        self._console = console
        self._live = Live(
            console=console,
            get_renderable=self._status,
            refresh_per_second=4,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=True,
        )
        self._log_stream = FileProxy(console, console.file)

    @property
    def log_stream(self) -> ConsoleStream:
        """Log lines go above the status line."""
        return self._log_stream

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """The status line goes, whatever happened."""
        self._live.stop()

    def _status(self) -> RenderableType:
        grid = Table.grid(padding=(0, 1))
        grid.add_row(Spinner("dots", style="cyan"), self.position.describe())
        return grid

    def say(self, line: Text) -> None:
        self._console.print(line, soft_wrap=False, highlight=False)

    def shows(self, host: HostRecord) -> bool:
        """Only the hosts that failed or crashed; the status line counts the others."""
        return host.status in {Status.FAILED, Status.CRASHED}

    def run_started(self, run: RunRecord, delivery: Delivery, *, resumed: bool) -> None:
        super().run_started(run, delivery, resumed=resumed)
        self._live.start()

    def run_finished(self, run: RunRecord) -> None:
        self._live.stop()
        super().run_finished(run)
