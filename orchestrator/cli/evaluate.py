"""``orchestrator evaluate DELIVERY``: what went well and what could be better (phase 7).

The notes come from a file (``--file F``, YAML or JSON with ``went_well`` and
``could_be_better``, each a list of lines) or, when stdin is a terminal, from prompts. The author
is authenticated as at a gate (their OS login, or the SSH key they sign with, among the site's
people); a CI account evaluates nothing. ``--show`` lists the notes stored.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.console import out
from orchestrator.cli.render import print_json
from orchestrator.cli.runs import (
    AsJson,
    SignWith,
    SiteOption,
    StateDir,
    StoreUrl,
    _exit_codes,
    _opened,
    _stored_site,
    _wiring,
)
from orchestrator.engine import BadInput
from orchestrator.engine.evaluation import KINDS, Evaluation, by_kind, record_evaluation
from orchestrator.engine.gates import EVALUATION
from orchestrator.logging import configured_logging
from orchestrator.spec.problems import Loc, SpecError, SpecProblem, field_path
from orchestrator.spec.source import YamlDocument, read_yaml
from orchestrator.store import EvaluationNote, RunStore
from orchestrator.store.location import DEFAULT_STATE

_TITLES = {"went_well": "went well", "could_be_better": "could be better"}

EvaluationFile = Annotated[
    Path | None,
    typer.Option(
        "--file",
        help="YAML or JSON with went_well: [..] and could_be_better: [..] (else asked for).",
        dir_okay=False,
        show_default=False,
    ),
]


def evaluate(  # noqa: PLR0913 - one parameter per command-line option
    ctx: typer.Context,
    delivery: Annotated[str, typer.Argument(help="Delivery id.", show_default=False)],
    *,
    file: EvaluationFile = None,
    show: Annotated[bool, typer.Option("--show", help="List the notes stored.")] = False,
    as_json: AsJson = False,
    sign_with: SignWith = None,
    site: SiteOption = None,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """Record what went well and what could be better in a delivery (audited), from --file or,
    in a terminal, asked line by line; --show lists the notes stored.

    You are authenticated as at a gate: your OS login, or the SSH key you sign with
    (--sign-with), among the site's people. A CI account (site role `ci`) evaluates nothing.
    The lead engineer's or the delivery manager's evaluation passes phase 7's gate `evaluation`;
    anyone else's notes are kept too.
    """
    with _exit_codes(), _opened(ctx, state_dir, store_url) as store:
        if show:
            notes = _stored(store, delivery)
        else:
            evaluation = read_evaluation(file) if file is not None else _asked()
            with configured_logging(console=sys.stderr):
                composed = _wiring(ctx).compose(site, state_dir, _stored_site(store, delivery))
                recorded = record_evaluation(
                    store, delivery, evaluation, composed.authenticator(sign_with),
                    clock=_wiring(ctx).runtime.clock,
                )  # fmt: skip
                notes = list(recorded.notes)
    if as_json:
        print_json(notes)
        return
    if not show:
        out().print(f"{len(notes)} evaluation note(s) of {delivery} recorded by {notes[0].by}",
                    markup=False)  # fmt: skip
        out().print(_gate_line(notes[0].by, recorded.passed_as), markup=False)
        return
    _print_notes(delivery, notes)


def _gate_line(by: str, role: str | None) -> str:
    """Whether the notes passed the evaluation gate (the lead engineer's or the delivery
    manager's do)."""
    if role is not None:
        return f"gate {EVALUATION.name} passed ({by}, {role.replace('_', ' ')})"
    return (
        f"gate {EVALUATION.name} still waits: the lead engineer or the delivery manager "
        "records the evaluation that passes it"
    )


def _stored(store: RunStore, delivery: str) -> list[EvaluationNote]:
    if store.get_delivery(delivery) is None:
        raise BadInput(f"no delivery {delivery} in the run store")
    return store.list_evaluation_notes(delivery)


def _print_notes(delivery: str, notes: list[EvaluationNote]) -> None:
    if not notes:
        out().print(f"{delivery}: no evaluation recorded", markup=False)
        return
    for kind, kept in by_kind(notes).items():
        out().print(f"{_TITLES[kind]}:", markup=False)
        for note in kept:
            out().print(f"  - {note.text}  ({note.by}, {note.created_at:%Y-%m-%d})", markup=False)


# reading an evaluation


def stdin_is_terminal() -> bool:
    """Whether someone can be asked: stdin is a terminal."""
    return sys.stdin.isatty()


def _asked() -> Evaluation:
    if not stdin_is_terminal():
        raise BadInput(
            "no --file and stdin is not a terminal: give the evaluation with --file F "
            "(went_well: [..], could_be_better: [..]), or run it in a terminal to be asked"
        )
    went_well, could_be_better = (tuple(_lines(_TITLES[kind])) for kind in KINDS)
    return Evaluation(went_well, could_be_better)


def _lines(title: str) -> Iterator[str]:
    out().print(f"What {title}? One point a line; an empty line ends.", markup=False)
    while line := typer.prompt(" ", default="", show_default=False, prompt_suffix="-").strip():
        yield line


def read_evaluation(path: Path) -> Evaluation:
    """The evaluation in the YAML or JSON file at ``path``; ``BadInput`` listing every problem
    as ``file:line: field: message``."""
    try:
        document = read_yaml(path)
    except SpecError as exc:
        raise BadInput(str(exc)) from None
    problems = list(_problems(document))
    if problems:
        raise BadInput(str(SpecError(problems)))
    data = document.data
    assert isinstance(data, dict)  # noqa: S101 - _problems found none: it is a mapping
    return Evaluation(*(tuple(text.strip() for text in data.get(kind) or ()) for kind in KINDS))


def _problems(document: YamlDocument) -> Iterator[SpecProblem]:
    def problem(loc: Loc, message: str) -> SpecProblem:
        return SpecProblem(document.file, document.line_of(loc), field_path(loc), message)

    for key in document.key_problems:
        yield problem(key.loc, key.message)
    data = document.data
    if not isinstance(data, dict):
        yield problem((), "expected a mapping with went_well: [..] and could_be_better: [..]")
        return
    for key, value in data.items():
        if key not in KINDS:
            yield problem((key,), f"unknown field; expected {' or '.join(KINDS)}")
        elif not isinstance(value, list):
            yield problem((key,), "must be a list of lines")
        else:
            yield from (problem((key, index), "must be a line of text, not empty")
                        for index, text in enumerate(value)
                        if not isinstance(text, str) or not text.strip())  # fmt: skip
    if not any(isinstance(data.get(kind), list) and data.get(kind) for kind in KINDS):
        yield problem((), "no notes: write what went well or what could be better")
