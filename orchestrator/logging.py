"""Logging: JSON lines per run, a readable console, and no secrets in either.

Every line carries ``delivery``, ``run``, ``phase``, ``step`` and ``host`` where they apply (the
engine binds them with ``structlog.contextvars``). Events are snake_case, past tense.

    with configured_logging(console=sys.stderr, run_log=RunLog(location.run_logs)):
        engine.run(...)         # the RunLogShipper observer copies the lines into the store

``redact`` runs before anything is written: it removes NetBox tokens (``nbt_...``), bearer and
token authorisation values, passwords and other secrets given as ``key=value`` or as fields,
credentials in URLs, and PEM private key blocks.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from orchestrator.engine.delivery import Delivery
from orchestrator.engine.gates import GateState
from orchestrator.store.private import append_private, private_dir, private_file
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import HostRecord, PhaseRecord, RunRecord, StepRecord

REDACTED = "[REDACTED]"

_TEXT_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        "[REDACTED PRIVATE KEY]",
    ),
    (re.compile(r"\bnbt_[A-Za-z0-9]+(?:\.[A-Za-z0-9]+)?"), f"nbt_{REDACTED}"),
    (re.compile(r"(?i)\b(bearer|token|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1\2{REDACTED}"),
    (
        re.compile(
            r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|private[_-]?key)"
            r"""(["']?\s*[=:]\s*["']?)[^\s"',;&]+"""
        ),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+):[^@\s/]+@"), rf"\1:{REDACTED}@"),
)
_SECRET_KEYS = re.compile(
    r"(?i)(password|passwd|secret|token|api_?key|private_?key|authorization|cookie|credential)"
)


def redact_text(text: str) -> str:
    """``text`` with every secret it contains replaced."""
    for pattern, replacement in _TEXT_SECRETS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: object) -> object:
    """``value`` with secrets removed from every string in it, however deeply nested."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: _redact_field(str(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item) for item in value]
    return value


def _redact_field(key: str, value: object) -> object:
    if _SECRET_KEYS.search(key) and value not in {None, "", True, False}:
        return REDACTED
    return redact_value(value)


def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: remove secrets from every field, and the values of secret fields."""
    return {key: _redact_field(key, value) for key, value in event_dict.items()}


class ConsoleStream(Protocol):
    """Where readable lines go: a text stream, or a live display's proxy."""

    def write(self, text: str, /) -> int: ...
    def flush(self) -> None: ...
    def isatty(self) -> bool: ...


#: What the console makes of an event: the fields to print, or ``None`` to print nothing.
type ConsoleView = Callable[[EventDict], EventDict | None]


def every_event(event: EventDict) -> EventDict | None:
    """The console view that shows every event as it is."""
    return event


class ConsoleTee:
    """structlog processor: print a readable copy of each event as ``view`` shows it (if it
    does), pass every event on unchanged (the JSON log keeps them all)."""

    def __init__(
        self, stream: ConsoleStream, *, colors: bool, view: ConsoleView = every_event
    ) -> None:
        self._stream = stream
        self._view = view
        self._render = structlog.dev.ConsoleRenderer(colors=colors, pad_event_to=24)

    def __call__(self, logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        shown = self._view(dict(event_dict))
        if shown is not None:
            self._stream.write(self._render(logger, method, shown) + "\n")
            self._stream.flush()
        return event_dict


def level_of(event: Mapping[str, object]) -> int:
    """The ``logging`` level of an event or stored line (``info`` when it names none)."""
    name = str(event.get("level") or "info").upper()
    return logging.getLevelNamesMapping().get(name, logging.INFO)


class RunLog:
    """The JSON lines of one run: appended to ``<folder>/<run id>.jsonl`` once the run is known,
    and kept until ``drain()`` hands them to the store. A structlog logger."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.path: Path | None = None
        self._pending: list[str] = []
        self._unwritten: list[str] = []
        self._lock = threading.Lock()

    def msg(self, message: str) -> None:
        """Keep one rendered line."""
        with self._lock:
            self._pending.append(message)
            self._unwritten.append(message)
            self._write()

    debug = info = warning = warn = error = critical = exception = fatal = msg

    def attach(self, run_id: str) -> Path | None:
        """Start the run's file (or continue it, on resume) and write what was logged so far.
        The folder is 0700 and the file 0600: a log names hosts, addresses and people."""
        if self.folder is not None:
            self.path = private_file(private_dir(self.folder) / f"{run_id}.jsonl")
        with self._lock:
            self._write()
        return self.path

    def drain(self) -> list[str]:
        """The lines logged since the last drain."""
        with self._lock:
            lines, self._pending = self._pending, []
        return lines

    def _write(self) -> None:
        if self.path is None:
            if self.folder is None:
                self._unwritten.clear()
            return
        with append_private(self.path) as file:
            file.writelines(line + "\n" for line in self._unwritten)
        self._unwritten.clear()


class RunLogShipper:
    """Observer: names the run's log file when the run starts; copies lines into the store at
    every checkpoint, so ``orchestrator logs RUN`` works from any machine sharing the store."""

    def __init__(self, store: RunStore, run_log: RunLog) -> None:
        self._store = store
        self._run_log = run_log
        self._run_id = ""

    def run_started(self, run: RunRecord, delivery: Delivery, *, resumed: bool) -> None:  # noqa: ARG002 - protocol
        self._run_id = run.id
        self._run_log.attach(run.id)
        self.ship()

    def phase_started(self, phase: PhaseRecord) -> None:
        """Nothing to ship yet."""

    def gate_checked(self, run: RunRecord, state: GateState) -> None:
        """Shipped with the phase."""

    def step_started(self, step: StepRecord, hosts: Sequence[str]) -> None:
        """Shipped when the step finishes."""

    def host_finished(self, host: HostRecord) -> None:
        """Shipped when the step finishes."""

    def step_finished(self, step: StepRecord) -> None:  # noqa: ARG002 - protocol
        self.ship()

    def phase_finished(self, phase: PhaseRecord) -> None:  # noqa: ARG002 - protocol
        self.ship()

    def run_finished(self, run: RunRecord) -> None:  # noqa: ARG002 - protocol
        self.ship()

    def ship(self) -> None:
        """Copy the lines logged since the last checkpoint (also after the run has finished)."""
        if self._run_id:
            self._store.append_log_lines(self._run_id, self._run_log.drain())


def processors(
    console: ConsoleStream | None, *, colors: bool = False, console_view: ConsoleView = every_event
) -> list[Processor]:
    """The processor chain: context, level, UTC time, exceptions, redaction, console, JSON."""
    chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    if console is not None:
        chain.append(ConsoleTee(console, colors=colors, view=console_view))
    chain.append(structlog.processors.JSONRenderer(sort_keys=True, default=str))
    return chain


@contextmanager
def configured_logging(
    *,
    console: ConsoleStream | None,
    run_log: RunLog | None = None,
    level: int = logging.INFO,
    console_view: ConsoleView = every_event,
) -> Iterator[None]:
    """Log to ``console`` (readable, as ``console_view`` shows each line) and ``run_log``
    (JSON, every line at ``level`` or above) inside the block; restore after."""
    previous = structlog.get_config()
    colors = console is not None and console.isatty()
    structlog.configure(
        processors=processors(console, colors=colors, console_view=console_view),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=(lambda *_args: run_log) if run_log else structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        structlog.configure(**previous)


def readable(line: str) -> str:
    """One stored JSON line as the console shows it (``orchestrator logs``)."""
    try:
        event: MutableMapping[str, Any] = json.loads(line)
    except json.JSONDecodeError:
        return line
    return str(structlog.dev.ConsoleRenderer(colors=False)(None, "info", dict(event)))
