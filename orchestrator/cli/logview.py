"""``orchestrator logs``: which of a run's JSON log lines to show, and following a run under way.

    chosen = LogFilter(host="web-01", level=logging.WARNING, since=since("10m", now))
    for line in lines:
        if chosen.matches(line): ...

``follow`` keeps reading new lines until the run is no longer under way (its delivery's lock is no
longer held by it, by a live process), then reads what was written meanwhile and stops.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from orchestrator.engine import BadInput
from orchestrator.logging import level_of

LEVELS = ("debug", "info", "warning", "error", "critical")
_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def since(text: str, now: datetime) -> datetime:
    """``--since``: a duration back from ``now`` (``90s``, ``10m``, ``1h30m``, ``2d``), a time
    today (``14:05``) or a date and time (``2025-01-10 14:05``, ISO 8601); UTC unless it says."""
    text = text.strip()
    if re.fullmatch(r"(\d+[smhd])+", text):
        parts = {_UNITS[unit]: 0.0 for unit in _UNITS}
        for amount, unit in _DURATION.findall(text):
            parts[_UNITS[unit]] += int(amount)
        return now - timedelta(**parts)
    try:
        if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", text):
            return datetime.combine(now.date(), time.fromisoformat(text.zfill(5)), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"--since: {text!r} is neither a duration (10m, 1h30m, 2d) nor a time "
            "(14:05, 2025-01-10 14:05)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def level(name: str) -> int:
    """``--level``: a level name as ``logging`` numbers it."""
    if name.lower() not in LEVELS:
        raise BadInput(f"--level: {name!r} is not one of {', '.join(LEVELS)}")
    return logging.getLevelNamesMapping()[name.upper()]


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which lines to show: on a host, of a step (a key, or a phase's prefix such as ``base``),
    at a level or above, logged at or after a moment. Nothing given: every line."""

    host: str | None = None
    step: str | None = None
    level: int = logging.NOTSET
    since: datetime | None = None

    @property
    def everything(self) -> bool:
        return self == LogFilter()

    def matches(self, line: str) -> bool:
        """Whether ``line`` is shown; a line that is not JSON (a cut log) only when unfiltered."""
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            return self.everything
        if not isinstance(event, dict):
            return self.everything
        return (
            (self.host is None or event.get("host") == self.host)
            and (self.step is None or _of_step(str(event.get("step", "")), self.step))
            and level_of(event) >= self.level
            and (self.since is None or _logged_at(event) >= self.since)
        )


def _of_step(key: str, wanted: str) -> bool:
    return key == wanted or key.startswith(f"{wanted}.")


def _logged_at(event: dict[str, object]) -> datetime:
    try:
        moment = datetime.fromisoformat(str(event.get("timestamp", "")))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class FileTail:
    """The complete lines added to a log file since the last read."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0

    def __call__(self) -> list[str]:
        with self._path.open("rb") as file:
            file.seek(self._offset)
            data = file.read()
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        return complete.decode("utf-8", errors="replace").splitlines()


class StoreTail:
    """The lines a run store gained for a run since the last read."""

    def __init__(self, read: Callable[[], list[str]]) -> None:
        self._read = read
        self._seen = 0

    def __call__(self) -> list[str]:
        lines = self._read()[self._seen :]
        self._seen += len(lines)
        return lines


def follow(
    read_new: Callable[[], list[str]],
    under_way: Callable[[], bool],
    sleep: Callable[[float], None],
    interval: float = 0.5,
) -> Iterator[str]:
    """Every line, then the new ones as they come while the run is under way, then the last."""
    while True:
        going = under_way()
        yield from read_new()
        if not going:
            return
        sleep(interval)
