"""`orchestrator checkin`: the lead engineer's check-ins during a migration by the customer,
authenticated (never CI, never another engineer), audited, listed with --show."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from orchestrator.adapters.identity import LoginIdentity
from orchestrator.cli import checkin as checkin_cli
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

PLAIN = make_delivery()
DELIVERY = dataclasses.replace(
    PLAIN, snapshot={**PLAIN.snapshot, "migration": {"by": "customer", "data_sets": []}}
)


def app() -> typer.Typer:
    root = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    root.command("checkin")(checkin_cli.checkin)
    root.command("other")(lambda: None)  # two commands, so `checkin` is a subcommand
    return root


class Terminal:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.login = "alice"
        identity = LoginIdentity(site_people(DELIVERY), lambda: self.login)
        compose = FixedComposition(fixed_identity=identity)
        self.wiring = RunsWiring(compose=compose, runtime=fake_runtime(FakeClock()))

    def __call__(self, login: str, *args: str) -> Result:
        self.login = login
        argv = ["checkin", *args, "--state-dir", str(self.state)]
        return CliRunner().invoke(app(), argv, obj=self.wiring)

    def store(self) -> SqlRunStore:
        self.state.mkdir(parents=True, exist_ok=True)
        return SqlRunStore.open(f"sqlite:///{self.state / 'runs.db'}")


@pytest.fixture
def terminal(tmp_path: Path) -> Terminal:
    terminal = Terminal(tmp_path / "state")
    store = terminal.store()
    store.save_delivery(DELIVERY.record(T0))
    store.save_delivery(dataclasses.replace(PLAIN, id="ours").record(T0))
    store.close()
    return terminal


def test_the_lead_engineer_records_a_check_in_audited(terminal: Terminal) -> None:
    done = terminal("alice", DELIVERY.id, "--comment", "images copied, database next week")
    assert done.exit_code == 0, done.output
    assert "check-in at migration_done of acme-webshop recorded by Alice Lead" in done.stdout
    store = terminal.store()
    [checkin] = store.list_checkins(DELIVERY.id)
    [audit] = [e for e in store.list_audit(DELIVERY.id) if e.action == "checkin_recorded"]
    store.close()
    assert (checkin.by, checkin.comment, checkin.method) == (
        "Alice Lead", "images copied, database next week", "login",
    )  # fmt: skip
    assert (audit.detail["login"], audit.detail["gate"]) == ("alice", "migration_done")


@pytest.mark.parametrize(
    ("login", "why"),
    [("ci", "is a CI account"), ("bob", "recorded by its lead engineer (Alice Lead")],
)
def test_anyone_else_is_refused_with_exit_2(terminal: Terminal, login: str, why: str) -> None:
    done = terminal(login, DELIVERY.id, "--comment", "any news?")
    assert done.exit_code == 2
    assert why in done.output
    store = terminal.store()
    assert store.list_checkins(DELIVERY.id) == []
    store.close()


def test_no_comment_or_no_wait_is_bad_input(terminal: Terminal) -> None:
    assert terminal("alice", DELIVERY.id).exit_code == 2
    done = terminal("alice", "ours", "--comment", "how is it going?")
    assert done.exit_code == 2
    assert "does not wait at migration_done" in done.output


def test_show_lists_the_check_ins(terminal: Terminal) -> None:
    for comment in ("copying images", "copying the database"):
        assert terminal("alice", DELIVERY.id, "--comment", comment).exit_code == 0
    shown = terminal("ci", DELIVERY.id, "--show")
    assert shown.exit_code == 0, shown.output
    assert [line.split(" ", 2)[2] for line in shown.stdout.splitlines()] == [
        "migration_done Alice Lead: copying images",
        "migration_done Alice Lead: copying the database",
    ]
    listed = json.loads(terminal("ci", DELIVERY.id, "--show", "--json").stdout)
    assert [c["comment"] for c in listed] == ["copying images", "copying the database"]
