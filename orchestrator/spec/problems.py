"""What is wrong with a delivery spec, said so a person can fix it.

    SpecError            the spec cannot be used; carries every problem found, sorted by line
      .problems          tuple of SpecProblem(file, line, field, message)
    problem_lines(ps)    the problems a line each, the first SHOWN_PROBLEMS of them, then a count

A problem reads like a compiler message: ``acme.yaml:14: hosts[1].count: must be >= 1``. The line
is missing only when the file itself cannot be read (``acme.yaml: file not found``); the field is
missing when the problem is with the file as a whole (a YAML syntax error).

A file with thousands of mistakes (a generated spec gone wrong) is told in a screenful: the first
``SHOWN_PROBLEMS`` lines, then how many more there are. ``SpecError.problems`` keeps them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Where a value is in a spec: keys and list indexes from the top, as pydantic reports them.
type Loc = tuple[str | int, ...]

#: problems told a line each before the rest are only counted
SHOWN_PROBLEMS = 50

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def field_path(loc: Loc) -> str:
    """Write a location the way people do: ``("hosts", 1, "count")`` is ``hosts[1].count``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            path += f".{part}" if path else part
        else:
            path += f'["{escaped(part)}"]'
    return path


def escaped(key: str) -> str:
    """``key`` (or other text a message quotes) on one line and as it was written: a quote, a
    backslash and every character that does not print (a line break, NUL, U+202E that turns
    text around, U+200B that hides) as its escape, like YAML's double-quoted strings: ``\\"``,
    ``\\n``, ``\\u202e``."""
    return "".join(
        _ESCAPES.get(char) or (char if char.isprintable() else _code(char)) for char in key
    )


def _code(char: str) -> str:
    point = ord(char)
    if point < 0x100:
        return f"\\x{point:02x}"
    if point < 0x10000:
        return f"\\u{point:04x}"
    return f"\\U{point:08x}"


@dataclass(frozen=True, slots=True)
class SpecProblem:
    """One problem in a spec file."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )

    def sort_key(self) -> tuple[int, str, str]:
        """Problems are read top to bottom: by line, then field."""
        return (self.line or 0, self.field, self.message)


class SpecError(Exception):
    """A delivery spec that cannot be used, with every problem found in it."""

    def __init__(self, problems: Iterable[SpecProblem]) -> None:
        self.problems = tuple(sorted(set(problems), key=SpecProblem.sort_key))
        super().__init__("\n".join(problem_lines(self.problems)))


def problem_lines(problems: Sequence[SpecProblem], limit: int = SHOWN_PROBLEMS) -> list[str]:
    """The first ``limit`` problems a line each, then one line counting those not shown."""
    lines = [str(problem) for problem in problems[:limit]]
    if (rest := len(problems) - limit) > 0:
        lines.append(f"... and {rest} more {'problem' if rest == 1 else 'problems'}")
    return lines
