"""`orchestrator actions list|close`: items shown with check, host, expected and found; closed by
an authenticated person with a comment, audited."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner, Result

from orchestrator.adapters.identity import LoginIdentity
from orchestrator.cli.actions import actions_app
from orchestrator.cli.runs import RunsWiring
from orchestrator.store import ActionItem, SqlRunStore
from orchestrator.testing import T0, FixedComposition, make_delivery, site_people

DELIVERY = make_delivery()


def app() -> typer.Typer:
    root = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    root.add_typer(actions_app, name="actions")
    return root


class Terminal:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.login = "bob"
        identity = LoginIdentity(site_people(DELIVERY), lambda: self.login)
        self.wiring = RunsWiring(compose=FixedComposition(fixed_identity=identity))

    def __call__(self, login: str, *args: str) -> Result:
        self.login = login
        argv = ["actions", *args, "--state-dir", str(self.state)]
        return CliRunner().invoke(app(), argv, obj=self.wiring)

    def store(self) -> SqlRunStore:
        self.state.mkdir(parents=True, exist_ok=True)
        return SqlRunStore.open(f"sqlite:///{self.state / 'runs.db'}")


def with_item(tmp_path: Path) -> Terminal:
    terminal = Terminal(tmp_path / "state")
    store = terminal.store()
    store.save_delivery(DELIVERY.record(T0))
    store.open_action_item(ActionItem(
        DELIVERY.id, "web-01: service nginx: expected running, found inactive", "buddycheck", T0,
        "buddycheck.verify", host="web-01", check="service nginx", expected="running",
        found="inactive",
    ))  # fmt: skip
    store.close()
    return terminal


def test_items_are_listed_with_their_check_host_expected_and_found(tmp_path: Path) -> None:
    terminal = with_item(tmp_path)
    shown = terminal("bob", "list", DELIVERY.id)
    assert shown.exit_code == 0, shown.output
    for text in ("web-01", "service nginx", "running", "inactive", "open"):
        assert text in shown.stdout
    [item] = json.loads(terminal("bob", "list", DELIVERY.id, "--json").stdout)
    assert (item["id"], item["host"], item["found"]) == (1, "web-01", "inactive")
    assert terminal("bob", "list", "nobody").exit_code == 2


def test_a_person_closes_an_item_with_a_comment_and_it_is_audited(tmp_path: Path) -> None:
    terminal = with_item(tmp_path)
    robot = terminal("ci", "close", DELIVERY.id, "1", "--comment", "green")
    assert robot.exit_code == 2
    assert "is a CI account" in robot.stderr
    assert terminal("bob", "close", DELIVERY.id, "1", "--comment", " ").exit_code == 2
    closed = terminal("bob", "close", DELIVERY.id, "1", "--comment", "nginx replaced by caddy")
    assert closed.exit_code == 0, closed.output
    assert "action item #1 of acme-webshop closed by Bob Buddy" in closed.stdout
    assert "no open action items" in terminal("bob", "list", DELIVERY.id).stdout
    listed = terminal("bob", "list", DELIVERY.id, "--all").stdout
    assert "closed by Bob Buddy:" in " ".join(listed.split())
    [item] = json.loads(terminal("bob", "list", DELIVERY.id, "--all", "--json").stdout)
    assert (item["closed_by"], item["resolution"]) == ("Bob Buddy", "nginx replaced by caddy")
    again = terminal("bob", "close", DELIVERY.id, "1", "--comment", "twice")
    assert again.exit_code == 2
    store = terminal.store()
    [entry] = [e for e in store.list_audit(DELIVERY.id) if e.action == "action_item_closed_by_hand"]
    assert (entry.who, entry.detail["login"], entry.detail["comment"]) == (
        "Bob Buddy", "bob", "nginx replaced by caddy",
    )  # fmt: skip
    store.close()
