"""Read a spec file as YAML and remember the line of every key and list item.

PyYAML composes a node tree whose nodes carry their position (``start_mark``); this module keeps
the tree's positions as a map from a *location* (the same tuple of keys and indexes that pydantic
puts in its errors, e.g. ``("hosts", 1, "count")``) to a 1-based line number.

Dates stay strings here (no implicit timestamps), so pydantic parses them and a bad date is
reported at its line like any other bad value.
"""

from __future__ import annotations

import bisect
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from orchestrator.spec.problems import Loc, SpecError, SpecProblem, escaped

#: A spec has a few hundred values; aliases must not make it millions (the "billion laughs").
MAX_NODES = 100_000
#: A spec is a few kilobytes; a file this large is a mistake, never read whole.
MAX_BYTES = 1024 * 1024
_MERGE_KEY = "<<"
#: Where a line ends (universal newlines); not NEL, U+2028 or U+2029.
LINE_END = re.compile(r"\r\n|\r|\n")
LINE_END_BYTES = re.compile(rb"\r\n|\r|\n")
_TEXT_TAG = "tag:yaml.org,2002:str"
_KINDS = {
    "tag:yaml.org,2002:bool": "true/false",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:null": "empty",
}


#: A number in a spec has a few digits; a longer one is a mistake, and a costly one to read
#: (``1:00:00:...``, YAML 1.1's base 60, takes time quadratic in its length).
MAX_NUMBER_CHARS = 100
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
#: What a scalar with an explicit or implicit tag must read as, said for a person.
_READ_AS = {
    "tag:yaml.org,2002:int": "a whole number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:timestamp": "a date",
}
#: What PyYAML's scalar constructors raise for text they cannot read (``!!int abc``,
#: ``!!bool maybe``, ``!!timestamp x``, a number beyond Python's 4300 digits).
_CONSTRUCTOR_FAILURES = (ValueError, KeyError, IndexError, AttributeError, OverflowError)


class _SpecLoader(yaml.SafeLoader):
    """``SafeLoader`` without implicit timestamps: ``2025-01-10`` stays a string. A scalar
    that cannot be read as its type is a ``ConstructorError`` at its place, like any other."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> object:  # noqa: FBT001, FBT002 - PyYAML's signature
        if isinstance(node, yaml.ScalarNode) and node.tag in _NUMBER_TAGS:
            _check_number_length(node)
        try:
            return super().construct_object(node, deep=deep)
        except _CONSTRUCTOR_FAILURES:
            kind = _READ_AS.get(node.tag, f"tag {node.tag}")
            problem = f"cannot be read as {kind}; quote it if it is text"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


def _check_number_length(node: yaml.ScalarNode) -> None:
    if len(node.value) > MAX_NUMBER_CHARS:
        problem = (
            f"a number of {len(node.value)} characters (at most {MAX_NUMBER_CHARS}); "
            "quote it if it is text"
        )
        raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)


_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class LineIndex:
    """Line and column of a character of a text, counted as editors and Python's universal
    newlines count them: a line ends at ``\\n``, ``\\r\\n`` or ``\\r``.

    YAML also ends a line at NEL, U+2028 and U+2029, which editors show within a line; PyYAML's
    own line numbers count those too, so they are not used.
    """

    def __init__(self, text: str) -> None:
        self._starts = [0, *(end.end() for end in LINE_END.finditer(text))]

    def line(self, index: int) -> int:
        """1-based line of the character at ``index`` (``len(text)``: the last line)."""
        return bisect.bisect_right(self._starts, index)

    def column(self, index: int) -> int:
        """1-based column of the character at ``index``."""
        return index - self._starts[self.line(index) - 1] + 1


@dataclass(frozen=True, slots=True)
class KeyProblem:
    """A key pydantic cannot see is wrong: given twice (YAML keeps the last), or not text."""

    loc: Loc
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """The data of a YAML file and where each part of it was written."""

    file: str
    data: object
    lines: Mapping[Loc, int] = field(default_factory=dict)
    key_problems: tuple[KeyProblem, ...] = ()

    def line_of(self, loc: Loc) -> int:
        """The line of ``loc``, or of its nearest written ancestor (for a missing key)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return 1


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse ``text`` (the contents of ``file``); a syntax error raises ``SpecError``."""
    try:
        loader = _SpecLoader(text)
    except yaml.reader.ReaderError as exc:  # a character YAML refuses, found before parsing
        raise SpecError([_refused_character(file, exc, LineIndex(text))]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(file, None)
        _check_size(node, file)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_syntax_problem(file, exc, LineIndex(text))]) from None
    except yaml.YAMLError as exc:
        raise SpecError([SpecProblem(file, 1, "", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise SpecError([SpecProblem(file, 1, "", "invalid YAML: nested too deeply")]) from None
    finally:
        loader.dispose()
    at = LineIndex(text)
    lines: dict[Loc, int] = {(): at.line(node.start_mark.index)}
    key_problems = tuple(_walk(node, (), lines, set(), at))
    return YamlDocument(file, data, lines, key_problems)


def read_text_file(path: Path, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of the regular file at ``path``, at most ``limit`` bytes; anything else (a
    missing file, a directory, a FIFO, a device such as ``/dev/zero``, a file too large, bytes
    that are not UTF-8) raises ``SpecError`` saying so. A FIFO is opened without waiting for a
    writer, and nothing past ``limit`` is read."""
    file = str(path)

    def problem(message: str) -> SpecError:
        return SpecError([SpecProblem(file, None, "", message)])

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise problem("file not found") from None
    except OSError as exc:
        raise problem(f"cannot read: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise problem("is a directory, not a file")
        raise problem("not a regular file (a FIFO, socket or device)")
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise problem(f"larger than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = len(LINE_END_BYTES.findall(data, 0, exc.start)) + 1
        message = f"not UTF-8 text (byte {exc.start})"
        raise SpecError([SpecProblem(file, line, "", message)]) from None


def read_yaml(path: Path, limit: int = MAX_BYTES) -> YamlDocument:
    """Read and parse the YAML file at ``path`` (``read_text_file``); any failure raises
    ``SpecError``."""
    return parse_yaml(read_text_file(path, limit), str(path))


def _refused_character(file: str, exc: yaml.reader.ReaderError, at: LineIndex) -> SpecProblem:
    """A control character (or U+FFFE, U+FFFF) YAML does not allow anywhere in a file."""
    message = (
        f"invalid YAML (column {at.column(exc.position)}): the character "
        f"U+{exc.character:04X} is not allowed in YAML (a control character); remove it"
    )
    return SpecProblem(file, at.line(exc.position), "", message)


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError, at: LineIndex) -> SpecProblem:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "syntax error"
    if mark is None:
        return SpecProblem(file, 1, "", f"invalid YAML: {what}")
    hint = "; check the indentation" if "block" in what else ""
    message = f"invalid YAML (column {at.column(mark.index)}): {what}{hint}"
    return SpecProblem(file, at.line(mark.index), "", message)


def _check_size(node: yaml.Node, file: str) -> None:
    """Refuse aliases that refer to themselves or blow up into a huge document."""
    try:
        size = _expanded_size(node, {}, set())
    except _AliasCycle:
        raise SpecError(
            [SpecProblem(file, 1, "", "invalid YAML: an alias contains itself")]
        ) from None
    if size > MAX_NODES:
        message = f"invalid YAML: over {MAX_NODES} values once aliases are expanded"
        raise SpecError([SpecProblem(file, 1, "", message)])


class _AliasCycle(Exception):
    pass


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many nodes ``node`` stands for, counting each alias in full."""
    if id(node) in sizes:
        return sizes[id(node)]
    if id(node) in open_nodes:
        raise _AliasCycle
    open_nodes.add(id(node))
    size = 1 + sum(_expanded_size(child, sizes, open_nodes) for child in _children(node))
    open_nodes.discard(id(node))
    sizes[id(node)] = size
    return size


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _line(node: yaml.Node, at: LineIndex) -> int:
    return at.line(node.start_mark.index)


def _not_text(key_node: yaml.ScalarNode) -> str:
    kind = _KINDS.get(key_node.tag, "something other than text")
    return f'YAML reads this key as {kind}; quote it: "{escaped(key_node.value)}"'


def _walk(
    node: yaml.Node, loc: Loc, lines: dict[Loc, int], seen: set[int], at: LineIndex
) -> Iterator[KeyProblem]:
    """Record the line of every key and item under ``node``; yield problems with keys.

    A node reached again through an alias is not walked again: its parts are reported at the
    line of the alias.
    """
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        yield from _walk_mapping(node, loc, lines, seen, at)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = _line(item, at)
            yield from _walk(item, (*loc, index), lines, seen, at)


def _walk_mapping(
    node: yaml.MappingNode, loc: Loc, lines: dict[Loc, int], seen: set[int], at: LineIndex
) -> Iterator[KeyProblem]:
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.value == _MERGE_KEY:
            continue
        child = (*loc, str(key_node.value))
        if child in lines:
            message = f"duplicate key (first given at line {lines[child]})"
            yield KeyProblem(child, _line(key_node, at), message)
            continue
        lines[child] = _line(key_node, at)
        if key_node.tag != _TEXT_TAG:
            yield KeyProblem(child, _line(key_node, at), _not_text(key_node))
            continue
        yield from _walk(value_node, child, lines, seen, at)
