"""Hypothesis strategies that write the spec (or site) files a person, an editor or a broken
script could hand to ``orchestrator validate``, and the promise each answer must keep.

Needs the ``dev`` extra (hypothesis); tests and ``bench/spec_fuzz.py`` use it, the orchestrator
itself never imports it.

    yaml_files(seeds, models) -> SearchStrategy[bytes]   a file's bytes: a seed mutated
    billion_laughs() / alias_cycles()                     the alias bombs on their own
    run_validate(path) -> Outcome                         the CLI's ``validate``, in-process
    broken_promises(outcome, path, data) -> list[str]     what is wrong with the answer
    json_promises_broken(outcome, path, data)             the same for ``validate --json``
    site_answer(path, data) -> (valid, broken promises)   the same for the site loader

A generated file starts from a seed (an example spec, parsed) whose tree is mutated the way specs
go wrong: keys deleted, renamed with typos, duplicated, nested at the wrong level, values retyped,
boundary numbers (0, -1, huge, NaN, infinity, booleans), text from the whole of Unicode (control
characters, right-to-left marks, astral planes, NUL), and fields of the model put where they do
not belong. The tree is then written as YAML and its text mutated too: characters inserted,
lines duplicated or cut, tabs, byte order marks, other line endings, YAML syntax (anchors, tags,
directives, flow brackets), bytes that are not UTF-8.

The promise (``broken_promises``): no traceback; exit 0 with one ``FILE: delivery ... is valid``
line, or exit 2 with every problem on a line of its own as ``FILE:LINE: FIELD: MESSAGE`` (or
``FILE:LINE: MESSAGE`` for the file as a whole), the line a positive number no larger than the
file's lines (as editors count them: ``\\n``, ``\\r\\n`` or ``\\r`` ends one), then
``FILE: invalid, N problems``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_args

import typer
import yaml
from hypothesis import strategies as st
from pydantic import BaseModel

from orchestrator.cli.spec import BAD_INPUT, validate
from orchestrator.site import SiteError, load_site
from orchestrator.spec.problems import SHOWN_PROBLEMS
from orchestrator.spec.source import LINE_END_BYTES

type Tree = Any
type PathPart = str | int
type TreePath = tuple[PathPart, ...]

#: Code points YAML refuses in a file (C0 and C1 controls but tab, newline, CR and NEL; DEL;
#: U+FFFE, U+FFFF), and a few that make text hard to read or point somewhere else.
NASTY_CHARACTERS = (
    "\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x80", "\x9f",
    "\t", "\r", "\n", "\r\n", "\x85", "\u2028", "\u2029",
    "\u00a0", "\u200b", "\u200d", "\u202e", "\u2066", "\u061c", "\ufeff", "\ufffe", "\uffff",
    "\U0001f600", "\U0010ffff", "\U000e0001", "\u0301", "\u05d0", "\u0627", "\u4e2d", "ß", "İ",
)  # fmt: skip
#: Text that YAML reads as something else, or that is special to the spec's own checks.
NASTY_TEXTS = (
    "", " ", "~", "null", "Null", "yes", "no", "on", "off", "y", "n", "true", "False",
    "0x1F", "0o17", "0b101", "1_000", "1:30:00", "+1", "-0", ".5", "1e3", ".nan", "-.inf",
    "2025-02-30", "2025-01-10T10:00:00Z", "9999-12-31", "0000-00-00",
    "{n}", "{n:02d}", "{n:99999999999d}", "{n:9999999999d}", "{n:{n}}", "x{n:0{n}d}", "{0}",
    "{}", "{n!r}", "{n[0]}", "{n.real}",
    "*", "&a", "*a", "!!binary", "%", "@", "`", "'", '"', "\\", "-", "- a", "a: b", "#", "| x",
    " leading", "trailing ", "a" * 201, "a" * 51, "-" * 51, "web-", "-web", "Web",
    "/", "/..", "/a/../b", "a/b", "http://", "https://example.com", "ftp://x",
    "192.0.2.1", "192.0.2.0/24", "192.0.2.1/24", "::1", "::/0", "0.0.0.0/0", "256.1.1.1",
    "ssh-ed25519 AAAA", "ssh-rsa AAAAB3NzaC1yc2E= x", "-----BEGIN OPENSSH PRIVATE KEY-----",
    "@daily", "61 * * * *", "* * * * * *", "unlimited", "env:", "file:", "command:",
)  # fmt: skip
#: Numbers at the edges: zero, signs, word sizes, beyond a float, and the values YAML and
#: pydantic treat specially.
BOUNDARY_NUMBERS: tuple[object, ...] = (
    0, -1, 1, 2, 63, 64, 65535, 65536, 2**31 - 1, 2**31, 2**63, -(2**63) - 1, 10**30, 10**400,
    0.0, -0.0, 0.5, 1.0, 1e308, 5e-324, float("inf"), float("-inf"), float("nan"), True, False,
)  # fmt: skip
#: Whole numbers written with more digits than Python converts from text by default (4300).
HUGE_NUMBER_DIGITS = (4301, 5000, 20_000)
#: Pieces of YAML syntax inserted into the text.
YAML_FRAGMENTS = (
    "&a ", "*a", "*nowhere", "<<: *a\n", "<<: [*a, *a]\n", "!!python/object:os.system ",
    "!!binary ", "!!set ", "!!omap ", "!!int ", "!!float ", "!!bool ", "!!timestamp ", "!!null ",
    "!!str ", "!!map ", "!!seq ", "!custom ", "!<tag:x> ", "? ", "- ", ": ", "{", "}", "[", "]",
    ",", "'", '"', "|", ">", "|-\n", "%YAML 1.1\n", "%TAG ! tag:x:\n", "---\n", "...\n", "# ",
    "\t", "@", "`", '"\\ud800"', '"\\U0010ffff"', '"\\x00"', '"\\N"', '"\\_"', "\\", "&",
    "*", "!", "%", "&a [*a]", "&b {x: *b}",
)  # fmt: skip
#: YAML's tags for its own types, put before a key or a value.
TAGS = (
    "!!null ", "!!bool ", "!!int ", "!!float ", "!!str ", "!!binary ", "!!timestamp ", "!!map ",
    "!!seq ", "!!set ", "!!omap ", "!!pairs ", "!!merge ", "!!value ", "!local ",
)  # fmt: skip
#: Byte sequences that are not UTF-8 (or not the UTF-8 a file should start with).
BAD_BYTES = (
    b"\xff", b"\xfe\xff", b"\xff\xfe", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
    b"\xe2\x82", b"\x00\x00\xfe\xff",
)  # fmt: skip
BOM = "\ufeff"

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_nasty_text = st.one_of(
    st.sampled_from(NASTY_TEXTS),
    st.sampled_from(NASTY_CHARACTERS),
    st.lists(st.sampled_from(NASTY_CHARACTERS), min_size=1, max_size=4).map("".join),
    _text,
)
_scalars: st.SearchStrategy[object] = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(BOUNDARY_NUMBERS),
    st.integers(),
    st.floats(),
    _nasty_text,
)
_keys: st.SearchStrategy[object] = st.one_of(
    _nasty_text, st.integers(-2, 2), st.booleans(), st.none(), st.floats(0, 1)
)


def yaml_values(leaves: st.SearchStrategy[object] = _scalars) -> st.SearchStrategy[object]:
    """Any value YAML can hold: scalars of every type, lists and mappings of them."""
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
        max_leaves=8,
    )


@dataclass(frozen=True, slots=True)
class Plain:
    """A scalar written as is, without quotes (``Plain("9" * 5000)`` is a huge number)."""

    text: str


class _Dumper(yaml.CSafeDumper):
    """libyaml's ``SafeDumper`` (fast) that writes ``Plain`` scalars without quotes."""


def _plain(dumper: yaml.CSafeDumper, value: Plain) -> yaml.ScalarNode:
    tag: str = dumper.resolve(yaml.ScalarNode, value.text, (True, False))  # type: ignore[no-untyped-call]  # PyYAML's stubs leave it untyped
    return dumper.represent_scalar(tag, value.text)


_Dumper.add_representer(Plain, _plain)


def model_keys(*models: type[BaseModel]) -> tuple[str, ...]:
    """Every field name of ``models`` and of the models their fields hold, sorted."""
    seen: set[type[BaseModel]] = set()
    names: set[str] = set()
    todo = list(models)
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            names.add(name)
            todo.extend(_models_in(info.annotation))
    return tuple(sorted(names))


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _paths(tree: Tree, prefix: TreePath = ()) -> list[TreePath]:
    """Every path in ``tree``: the root, each key of a mapping, each item of a list."""
    found = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += _paths(value, (*prefix, index))
    return found


def _get(tree: Tree, path: TreePath) -> Tree:
    for part in path:
        tree = tree[part]
    return tree


def _typo(draw: st.DrawFn, key: str) -> str:
    """``key`` with one slip of the hand: a letter dropped, doubled, swapped, replaced, cased."""
    if not key:
        return draw(_text)
    at = draw(st.integers(0, len(key) - 1))
    slips: list[Callable[[], str]] = [
        lambda: key[:at] + key[at + 1 :],
        lambda: key[:at] + key[at] + key[at:],
        lambda: key[:at] + key[at + 1 : at + 2] + key[at] + key[at + 2 :],
        lambda: key[:at] + draw(st.characters(exclude_categories=["Cs"])) + key[at + 1 :],
        key.upper,
        lambda: key.replace("_", "-"),
        lambda: key + draw(st.sampled_from((" ", "\t", ":", "s", "\u200b"))),
    ]
    return draw(st.sampled_from(slips))()


def _retyped(draw: st.DrawFn, value: Tree) -> Tree:
    """``value`` in another shape: in a list, under a key, as its text, emptied, a number."""
    shapes: list[Callable[[], Tree]] = [
        lambda: [value],
        lambda: {draw(_keys): value},
        lambda: str(value),
        lambda: None,
        list,
        dict,
        lambda: draw(st.sampled_from(BOUNDARY_NUMBERS)),
        lambda: Plain("9" * draw(st.sampled_from(HUGE_NUMBER_DIGITS))),
    ]
    if isinstance(value, list) and value:
        shapes.append(lambda: value[0])
    if isinstance(value, dict) and value:
        shapes.append(lambda: next(iter(value.values())))
        shapes.append(lambda: list(value.values()))
    return draw(st.sampled_from(shapes))()


@st.composite
def _mutated(draw: st.DrawFn, tree: Tree, keys: Sequence[str]) -> Tree:
    """One mutation of ``tree`` (a copy) at a path drawn from it."""
    tree = copy.deepcopy(tree)
    path = draw(st.sampled_from(_paths(tree)))
    if not path:
        return _retyped(draw, tree) if draw(st.booleans()) else draw(yaml_values())
    parent, last = _get(tree, path[:-1]), path[-1]
    value = parent[last]
    operation = draw(
        st.sampled_from(
            ("delete", "replace", "retype", "rename", "misplace", "add", "duplicate", "boundary")
        )
    )
    if operation == "delete":
        del parent[last]
    elif operation == "replace":
        parent[last] = draw(yaml_values())
    elif operation == "retype":
        parent[last] = _retyped(draw, value)
    elif operation == "boundary":
        parent[last] = draw(st.sampled_from(BOUNDARY_NUMBERS) | _nasty_text)
    elif operation == "duplicate" and isinstance(parent, list):
        parent.insert(cast("int", last), copy.deepcopy(value))
    elif operation == "rename" and isinstance(parent, dict) and isinstance(last, str):
        parent[_typo(draw, last)] = parent.pop(last)
    elif operation == "misplace":
        _misplace(draw, tree, parent, last)
    else:  # add, or an operation that does not apply here: a model's key where it does not belong
        target = value if isinstance(value, dict) else parent
        if isinstance(target, dict):
            moved = copy.deepcopy(value)
            target[draw(st.sampled_from(keys))] = draw(yaml_values() | st.just(moved))
    return tree


def _misplace(draw: st.DrawFn, tree: Tree, parent: Tree, last: PathPart) -> None:
    """Move ``parent[last]`` into another mapping or list of ``tree`` (or one level down)."""
    value = parent.pop(last) if isinstance(parent, dict) else copy.deepcopy(parent[last])
    homes = [_get(tree, p) for p in _paths(tree)]
    homes = [home for home in homes if isinstance(home, dict | list) and home is not value]
    home = draw(st.sampled_from(homes)) if homes else parent
    if isinstance(home, dict):
        home[last if isinstance(last, str) else draw(_text)] = value
    else:
        home.append({last: value} if isinstance(last, str) else value)


@st.composite
def yaml_trees(draw: st.DrawFn, seeds: Sequence[Tree], keys: Sequence[str]) -> Tree:
    """A seed tree with a few mutations (or none: the seed itself must stay valid)."""
    tree = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, 4))):
        tree = draw(_mutated(tree, keys))
    return tree


def dump(tree: Tree, *, flow: bool | None = None, unicode: bool = True) -> str:
    """``tree`` as YAML text, keys in their order."""
    return yaml.dump(
        tree, Dumper=_Dumper, sort_keys=False, default_flow_style=flow, allow_unicode=unicode
    )


@st.composite
def _text_mutated(draw: st.DrawFn, text: str) -> str:
    """``text`` with one raw slip: a character, a YAML fragment, a line doubled or cut, tabs..."""
    lines = text.splitlines(keepends=True) or [""]
    at = draw(st.integers(0, len(text)))
    line = draw(st.integers(0, len(lines) - 1))
    slips: list[Callable[[], str]] = [
        lambda: text[:at] + draw(st.sampled_from(NASTY_CHARACTERS) | _text) + text[at:],
        lambda: text[:at] + draw(st.sampled_from(YAML_FRAGMENTS)) + text[at:],
        lambda: "".join(lines[: line + 1] + lines[line:]),
        lambda: "".join(lines[:line] + lines[line + 1 :]),
        lambda: _with_line(lines, line, lines[line].replace("  ", "\t", 1)),
        lambda: _with_line(lines, line, " " + lines[line]),
        lambda: _with_line(lines, line, lines[line].lstrip(" ")),
        lambda: _with_line(lines, line, _tagged(lines[line], draw(st.sampled_from(TAGS)))),
        lambda: BOM + text,
        lambda: text.replace("\n", draw(st.sampled_from(("\r\n", "\r", "\x85", "\u2028")))),
        lambda: text[:at],
        lambda: re.sub(
            r": \S.*", ": " + "9" * draw(st.sampled_from(HUGE_NUMBER_DIGITS)), text, count=1
        ),
    ]
    return draw(st.sampled_from(slips))()


def _tagged(line: str, tag: str) -> str:
    """``line`` with ``tag`` before its first key or item (``!!null web: x``)."""
    content = line.lstrip(" -")
    return line[: len(line) - len(content)] + tag + content


def _with_line(lines: list[str], index: int, line: str) -> str:
    return "".join([*lines[:index], line, *lines[index + 1 :]])


@st.composite
def yaml_files(draw: st.DrawFn, seeds: Sequence[Tree], models: Sequence[type[BaseModel]]) -> bytes:
    """The bytes of a file like ``seeds`` after some mutations of its tree and its text."""
    tree = draw(yaml_trees(seeds, model_keys(*models)))
    text = dump(tree, flow=draw(st.sampled_from((None, False, True))), unicode=draw(st.booleans()))
    for _ in range(draw(st.sampled_from((0, 0, 1, 2)))):
        text = draw(_text_mutated(text))
    data = text.encode("utf-8")
    if draw(st.integers(0, 19)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from(BAD_BYTES)) + data[at:]
    return data


@st.composite
def billion_laughs(draw: st.DrawFn) -> bytes:
    """Aliases that stand for far more values than the file holds (lists, mappings, merges)."""
    width = draw(st.integers(2, 10))
    depth = draw(st.integers(3, 12))
    style = draw(st.sampled_from(("list", "map", "merge")))
    lines = ["a0: &a0 lol"]
    for level in range(1, depth + 1):
        if style == "list":
            refs = ", ".join([f"*a{level - 1}"] * width)
            lines.append(f"a{level}: &a{level} [{refs}]")
        elif style == "map":
            refs = ", ".join(f"k{i}: *a{level - 1}" for i in range(width))
            lines.append(f"a{level}: &a{level} {{{refs}}}")
        else:
            refs = ", ".join(f"k{i}: *a{level - 1}" for i in range(width))
            lines.append(f"a{level}: &a{level} {{<<: *a{level - 1}, {refs}}}")
    place = draw(st.sampled_from(("id", "title", "hosts", "customer")))
    lines.append(f"{place}: *a{depth}")
    return "\n".join(lines).encode("utf-8") + b"\n"


def alias_cycles() -> st.SearchStrategy[bytes]:
    """Anchors whose value holds their own alias: a document that never ends."""
    return st.sampled_from(
        (
            b"a: &a [*a]\n",
            b"a: &a {b: *a}\n",
            b"&a {x: *a}\n",
            b"&a [x, *a]\n",
            b"hosts: &h\n  - *h\n",
            b"a: &a {<<: *a}\n",
        )
    )


def nested(depth: int, *, kind: str = "list") -> bytes:
    """A value nested ``depth`` times: ``[[[...]]]`` or ``{a: {a: ...}}``."""
    if kind == "list":
        return b"id: " + b"[" * depth + b"]" * depth + b"\n"
    return b"id: " + b"{a: " * depth + b"x" + b"}" * depth + b"\n"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ``orchestrator validate`` answered: exit code, standard output and error."""

    code: int
    stdout: str
    stderr: str


def run_validate(path: Path, *, json_out: bool = False) -> Outcome:
    """Call the function ``orchestrator validate [--json] PATH`` calls, capturing what it prints.

    An exception other than the CLI's exit propagates: that is the traceback the promise forbids.
    """
    out, err = _terminal(), _terminal()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            validate(path, json_out=json_out)
        except typer.Exit as exc:
            code = exc.exit_code
        else:
            code = 0
    return Outcome(code, _printed(out), _printed(err))


def _terminal() -> io.TextIOWrapper:
    """A stream that encodes like a UTF-8 terminal: text it cannot encode is an error."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", newline="\n")


def _printed(stream: io.TextIOWrapper) -> str:
    stream.flush()
    return cast("io.BytesIO", stream.buffer).getvalue().decode("utf-8")


_VALID = re.compile(r"delivery \S+ is valid \(\d+ hosts?, spec [0-9a-f]{12}\)")
_SUMMARY = re.compile(r"invalid, (\d+) problems?( \(--json lists every one\))?")
_MORE = re.compile(r"\.\.\. and (\d+) more problems?")
_PROBLEM = re.compile(r"(?P<line>[0-9]+): (?P<rest>.+)")


def broken_promises(outcome: Outcome, path: Path, data: bytes) -> list[str]:
    """Every way ``outcome`` (of validating ``data`` at ``path``) breaks the promise."""
    if outcome.code == 0:
        return _valid_broken(outcome, path)
    if outcome.code != BAD_INPUT:
        return [f"exit code {outcome.code}, expected 0 or {BAD_INPUT}"]
    return problem_lines_broken(outcome.stderr, str(path), data) + (
        ["something on stdout"] if outcome.stdout else []
    )


def json_promises_broken(outcome: Outcome, path: Path, data: bytes) -> list[str]:
    """Every way ``outcome`` of ``validate --json`` breaks the promise: one JSON document on
    stdout saying valid (exit 0) or listing problems with lines in the file (exit 2)."""
    try:
        answer = json.loads(outcome.stdout)
    except json.JSONDecodeError as exc:
        return [f"stdout is not JSON ({exc}): {outcome.stdout[:80]!r}"]
    valid = outcome.code == 0
    if answer.get("valid") is not valid or answer.get("file") != str(path) or outcome.stderr:
        return [f"exit {outcome.code} but the answer is {outcome.stdout[:120]!r}"]
    last_line = len(LINE_END_BYTES.findall(data)) + 1
    return [
        why
        for problem in answer.get("problems", [])
        for why in _json_problem_broken(problem, str(path), last_line)
    ]


def _json_problem_broken(problem: dict[str, Any], file: str, last_line: int) -> list[str]:
    line = problem.get("line")
    if problem.get("file") != file or not isinstance(line, int) or not 1 <= line <= last_line:
        return [f"problem not in the file (1-{last_line}): {problem}"]
    text = f"{problem.get('field')}{problem.get('message')}"
    return [] if text.isprintable() and problem.get("message") else [f"problem text: {problem}"]


def _valid_broken(outcome: Outcome, path: Path) -> list[str]:
    prefix = f"{path}: "
    line = outcome.stdout.removesuffix("\n")
    if not line.startswith(prefix) or not _VALID.fullmatch(line[len(prefix) :]):
        return [f"valid, but stdout is {outcome.stdout!r}"]
    return [f"valid, but stderr is {outcome.stderr!r}"] if outcome.stderr else []


def problem_lines_broken(stderr: str, file: str, data: bytes) -> list[str]:
    """What is wrong with ``stderr``'s problem lines for ``file`` holding ``data``: each line
    ``FILE:LINE: [FIELD: ]MESSAGE`` with the line in the file, past ``SHOWN_PROBLEMS`` a line
    counting the rest, then the summary counting them all."""
    last_line = len(LINE_END_BYTES.findall(data)) + 1
    lines = stderr.split("\n")
    if lines[-1] != "":
        return [f"stderr does not end with a newline: {stderr[-80:]!r}"]
    *problems, summary = lines[:-1] or [""]
    more = _MORE.fullmatch(problems[-1]) if problems else None
    if more is not None:
        problems.pop()
    broken: list[str] = []
    for line in problems:
        broken += _problem_broken(line, file, last_line)
    told = len(problems) + (int(more[1]) if more else 0)
    counted = _SUMMARY.fullmatch(summary.removeprefix(f"{file}: "))
    if not summary.startswith(f"{file}: ") or counted is None:
        broken.append(f"last line is not the summary: {summary!r}")
    elif int(counted[1]) != told or not problems:
        broken.append(f"summary says {counted[1]} problems, {told} told")
    elif len(problems) != min(told, SHOWN_PROBLEMS) or bool(counted[2]) != bool(more):
        broken.append(f"{len(problems)} of {told} problems listed, then {summary!r}")
    return broken


def _problem_broken(line: str, file: str, last_line: int) -> list[str]:
    found = _PROBLEM.fullmatch(line.removeprefix(f"{file}:"))
    if not line.startswith(f"{file}:") or found is None:
        return [f"not FILE:LINE: [FIELD: ]MESSAGE: {line!r}"]
    number = int(found["line"])
    if not 1 <= number <= last_line:
        return [f"line {number} is not in the file (1-{last_line}): {line!r}"]
    if not all(char.isprintable() for char in found["rest"]):
        return [f"unprintable characters in the message: {line!r}"]
    return []


def site_answer(path: Path, data: bytes) -> tuple[bool, list[str]]:
    """Load the site file at ``path`` (holding ``data``) as ``orchestrator site check`` does:
    whether it is valid, and every way its problems break the promise."""
    try:
        load_site(path)
    except SiteError as exc:
        last_line = len(LINE_END_BYTES.findall(data)) + 1
        lines = [str(problem) for problem in exc.problems]
        broken = [why for line in lines for why in _problem_broken(line, str(path), last_line)]
        return False, broken if lines else ["SiteError without problems"]
    return True, []


def spec_seeds(texts: Mapping[str, str]) -> list[Tree]:
    """The trees of the example files ``texts`` (name -> YAML), to start mutating from."""
    return [yaml.safe_load(text) for _, text in sorted(texts.items())]
