"""The state folder is its owner's alone, whatever the umask: folders 0700, files 0600.

Each test runs under a umask that would give everyone access (0o000) and a common one (0o022),
and some start from the looser modes an older version left behind.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.adapters.workspace import Workspace
from orchestrator.logging import RunLog
from orchestrator.store import DeliveryRecord, SqlRunStore, StoreLocation, open_store
from orchestrator.store.private import append_private, private_dir, private_file, write_private
from orchestrator.testing import scripted_phases
from tests.unit.test_cli_runs import cli_with


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(root: Path) -> dict[str, int]:
    """The mode of ``root`` and of everything under it, by path relative to ``root``."""
    return {str(p.relative_to(root)): mode(p) for p in [root, *sorted(root.rglob("*"))]}


def private_modes(root: Path) -> dict[str, int]:
    """What ``modes(root)`` should be: every folder 0700, every file 0600."""
    return {name: 0o700 if (root / name).is_dir() else 0o600 for name in modes(root)}


@pytest.fixture(autouse=True, params=[0o000, 0o022], ids=["umask000", "umask022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def test_a_private_folder_is_made_with_its_missing_parents_private(tmp_path: Path) -> None:
    srv = tmp_path / "srv"
    srv.mkdir()
    srv.chmod(0o755)
    private_dir(srv / "state" / "deliveries" / "acme")
    assert modes(srv) == {
        ".": 0o755,  # there already: not ours to change
        "state": 0o700,
        "state/deliveries": 0o700,
        "state/deliveries/acme": 0o700,
    }


def test_private_files_are_made_0600_and_older_ones_are_tightened(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.write_text("kept\n")
    loose.chmod(0o644)
    private_file(loose)
    private_file(tmp_path / "new")
    write_private(tmp_path / "written", "text\n")
    with append_private(tmp_path / "appended") as file:
        file.write("line\n")
    assert modes(tmp_path) == {".": mode(tmp_path)} | dict.fromkeys(
        ["appended", "loose", "new", "written"], 0o600
    )
    assert loose.read_text() == "kept\n"


def test_a_workspace_is_private_from_the_state_folder_down(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "state" / "deliveries")
    workspace.secret("acme", "db_password")
    workspace.pin("acme", "10.0.0.1", "ssh-ed25519 AAAA")
    workspace.facts("acme")
    workspace.runs("acme")
    assert modes(tmp_path / "state") == private_modes(tmp_path / "state")
    assert len(modes(tmp_path / "state")) == 7


def write_something(store: SqlRunStore) -> None:
    """A write, so that SQLite has its write-ahead log and shared-memory files open."""
    when = datetime(2026, 12, 1, tzinfo=UTC)
    store.save_delivery(DeliveryRecord("acme", "h", {}, "Alice", "Dana", when))


def test_the_run_store_and_its_sqlite_files_are_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = open_store(StoreLocation(state))
    write_something(store)
    assert {"runs.db", "runs.db-wal", "runs.db-shm"} <= set(modes(state))
    assert modes(state) == private_modes(state)
    store.close()


def test_an_older_versions_state_folder_and_store_are_tightened_when_opened(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    with closing(sqlite3.connect(state / "runs.db")) as older:  # SQLite's own 0644
        older.execute("PRAGMA journal_mode=WAL")
        older.execute("CREATE TABLE left_by_an_older_version (x)")
        (state / "runs.db-journal").touch()  # empty: not a hot journal, only its mode counts
        for name in ("runs.db", "runs.db-wal", "runs.db-shm", "runs.db-journal"):
            (state / name).chmod(0o644)
        store = open_store(StoreLocation(state))
        write_something(store)
        assert modes(state) == private_modes(state)
        store.close()


def test_a_sqlite_store_named_by_its_url_is_private_too(tmp_path: Path) -> None:
    store = SqlRunStore.open(f"sqlite:///{tmp_path / 'team.db'}")
    write_something(store)
    assert {name: mode for name, mode in modes(tmp_path).items() if name != "."} == {
        "team.db": 0o600,
        "team.db-shm": 0o600,
        "team.db-wal": 0o600,
    }
    store.close()


def test_run_logs_are_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    run_log = RunLog(state / "runs")
    run_log.msg('{"event": "run_started"}')
    run_log.attach("run-1")
    run_log.msg('{"event": "step_started"}')
    assert modes(state) == {".": 0o700, "runs": 0o700, "runs/run-1.jsonl": 0o600}
    assert len((state / "runs" / "run-1.jsonl").read_text().splitlines()) == 2


def test_an_older_versions_run_log_is_tightened_when_its_run_resumes(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir(mode=0o755)
    older = runs / "run-1.jsonl"
    older.write_text('{"event": "run_started"}\n')
    runs.chmod(0o755)
    older.chmod(0o644)
    RunLog(runs).attach("run-1")
    assert modes(runs) == {".": 0o700, "run-1.jsonl": 0o600}
    assert older.read_text() == '{"event": "run_started"}\n'


def test_a_run_leaves_its_state_folder_to_its_owner_alone(tmp_path: Path) -> None:
    """The state folder, the store and the run log, as `orchestrator run` leaves them."""
    cli = cli_with(tmp_path, scripted_phases()[0])
    assert cli("run", "acme.yaml").exit_code == 3  # waits at the first gate
    found = modes(cli.state)
    assert {"runs.db", "runs"} <= found.keys()
    assert [name for name in found if name.endswith(".jsonl")]
    assert found == private_modes(cli.state)
