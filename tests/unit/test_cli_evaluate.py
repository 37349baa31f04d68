"""`orchestrator evaluate`: notes from a file or asked in a terminal, written by an authenticated
person (never CI), audited, listed with --show; a bad file is `file:line: field: message`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from orchestrator.adapters.identity import LoginIdentity
from orchestrator.cli import evaluate as evaluate_cli
from orchestrator.cli.runs import RunsWiring
from orchestrator.store import SqlRunStore
from orchestrator.testing import (
    T0,
    FakeClock,
    FixedComposition,
    fake_runtime,
    make_delivery,
    site_people,
)

DELIVERY = make_delivery()
GOOD = """\
went_well:
  - the buddycheck found the missing backup before the customer did
could_be_better:
  - order the hardware a week earlier
  - "agree the migration window in the quote"
"""


def app() -> typer.Typer:
    root = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    root.command("evaluate")(evaluate_cli.evaluate)
    root.command("other")(lambda: None)  # two commands, so `evaluate` is a subcommand
    return root


class Terminal:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.login = "olga"
        identity = LoginIdentity(site_people(DELIVERY), lambda: self.login)
        compose = FixedComposition(fixed_identity=identity)
        self.wiring = RunsWiring(compose=compose, runtime=fake_runtime(FakeClock()))

    def __call__(self, login: str, *args: str, stdin: str | None = None) -> Result:
        self.login = login
        argv = ["evaluate", *args, "--state-dir", str(self.state)]
        return CliRunner().invoke(app(), argv, obj=self.wiring, input=stdin)

    def store(self) -> SqlRunStore:
        self.state.mkdir(parents=True, exist_ok=True)
        return SqlRunStore.open(f"sqlite:///{self.state / 'runs.db'}")


@pytest.fixture
def terminal(tmp_path: Path) -> Terminal:
    terminal = Terminal(tmp_path / "state")
    store = terminal.store()
    store.save_delivery(DELIVERY.record(T0))
    store.close()
    return terminal


def written(tmp_path: Path, text: str, name: str = "evaluation.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_an_evaluation_from_a_file_is_stored_as_its_author_and_audited(
    tmp_path: Path, terminal: Terminal
) -> None:
    done = terminal("alice", DELIVERY.id, "--file", written(tmp_path, GOOD))
    assert done.exit_code == 0, done.output
    assert "3 evaluation note(s) of acme-webshop recorded by Alice Lead" in done.stdout
    store = terminal.store()
    notes = store.list_evaluation_notes(DELIVERY.id)
    [audit] = [e for e in store.list_audit(DELIVERY.id) if e.action == "evaluation_recorded"]
    store.close()
    assert [(n.kind, n.text, n.by) for n in notes] == [
        ("went_well", "the buddycheck found the missing backup before the customer did",
         "Alice Lead"),
        ("could_be_better", "order the hardware a week earlier", "Alice Lead"),
        ("could_be_better", "agree the migration window in the quote", "Alice Lead"),
    ]  # fmt: skip
    assert (audit.who, audit.detail["went_well"], audit.detail["could_be_better"]) == (
        "Alice Lead", 1, 2,
    )  # fmt: skip
    assert (audit.detail["login"], audit.detail["method"]) == ("alice", "login")
    assert "gate evaluation passed (Alice Lead, lead engineer)" in done.stdout


def test_another_engineers_notes_are_kept_and_the_gate_still_waits(
    tmp_path: Path, terminal: Terminal
) -> None:
    done = terminal("bob", DELIVERY.id, "--file", written(tmp_path, GOOD))
    assert done.exit_code == 0, done.output
    assert "gate evaluation still waits: the lead engineer or the delivery manager" in done.stdout
    store = terminal.store()
    assert [d.gate for d in store.list_decisions(DELIVERY.id)] == []
    assert len(store.list_evaluation_notes(DELIVERY.id)) == 3
    store.close()


def test_a_json_file_works_too_and_show_lists_the_notes(tmp_path: Path, terminal: Terminal) -> None:
    source = json.dumps({"went_well": ["handover on time"], "could_be_better": []})
    assert (
        terminal("dana", DELIVERY.id, "--file", written(tmp_path, source, "e.json")).exit_code == 0
    )
    shown = terminal("ci", DELIVERY.id, "--show")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines() == [
        "went well:",
        "  - handover on time  (Dana Manager, 2025-01-10)",
        "could be better:",
    ]
    listed = json.loads(terminal("ci", DELIVERY.id, "--show", "--json").stdout)
    assert [(n["kind"], n["text"], n["by"]) for n in listed] == [
        ("went_well", "handover on time", "Dana Manager"),
    ]


def test_a_bad_file_names_file_line_and_field_without_a_traceback(
    tmp_path: Path, terminal: Terminal
) -> None:
    path = written(tmp_path, "went_well:\n  - fine\n  - ''\ncould_be_better: soon\nlessons: []\n")
    bad = terminal("alice", DELIVERY.id, "--file", path)
    assert bad.exit_code == 2
    assert bad.stderr.splitlines() == [
        f"error: {path}:3: went_well[1]: must be a line of text, not empty",
        f"{path}:4: could_be_better: must be a list of lines",
        f"{path}:5: lessons: unknown field; expected went_well or could_be_better",
    ]
    for text, message in [
        ("", "expected a mapping with went_well"),
        ("went_well: [\n", "invalid YAML"),
        ("went_well: []\n", "no notes: write what went well or what could be better"),
    ]:
        refused = terminal("alice", DELIVERY.id, "--file", written(tmp_path, text))
        assert (refused.exit_code, "Traceback" in refused.output) == (2, False)
        assert message in refused.stderr
    missing = terminal("alice", DELIVERY.id, "--file", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2
    assert "nope.yaml: file not found" in missing.stderr
    store = terminal.store()
    assert store.list_evaluation_notes(DELIVERY.id) == []
    store.close()


def test_ci_and_strangers_evaluate_nothing(tmp_path: Path, terminal: Terminal) -> None:
    robot = terminal("ci", DELIVERY.id, "--file", written(tmp_path, GOOD))
    assert robot.exit_code == 2
    assert "CI (ci) is a CI account: an evaluation is written by people" in robot.stderr
    stranger = terminal("mallory", DELIVERY.id, "--file", written(tmp_path, GOOD))
    assert stranger.exit_code == 2
    assert "your login 'mallory' is not among the site's people" in stranger.stderr
    unknown = terminal("alice", "no-such", "--file", written(tmp_path, GOOD))
    assert (unknown.exit_code, "no delivery no-such" in unknown.stderr) == (2, True)
    store = terminal.store()
    assert store.list_evaluation_notes(DELIVERY.id) == []
    store.close()


def test_without_a_file_or_a_terminal_it_says_how_to_give_one(terminal: Terminal) -> None:
    refused = terminal("alice", DELIVERY.id, stdin="went fine\n\n\n")
    assert refused.exit_code == 2
    assert "no --file and stdin is not a terminal" in refused.stderr


def test_in_a_terminal_it_asks_line_by_line(
    monkeypatch: pytest.MonkeyPatch, terminal: Terminal
) -> None:
    monkeypatch.setattr(evaluate_cli, "stdin_is_terminal", lambda: True)
    asked = terminal("olga", DELIVERY.id, stdin="quick go-live\n  calm cut-over \n\nmore docs\n\n")
    assert asked.exit_code == 0, asked.output
    assert "What went well? One point a line; an empty line ends." in asked.stdout
    assert "What could be better?" in asked.stdout
    store = terminal.store()
    notes = [(n.kind, n.text, n.by) for n in store.list_evaluation_notes(DELIVERY.id)]
    store.close()
    assert notes == [
        ("went_well", "quick go-live", "Olga Ops"),
        ("went_well", "calm cut-over", "Olga Ops"),
        ("could_be_better", "more docs", "Olga Ops"),
    ]
