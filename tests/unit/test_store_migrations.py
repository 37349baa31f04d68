"""The SQLite store: migrations match the tables, apply once, and keep the audit log append-only."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from orchestrator.store import SqlRunStore, StoreLocation, open_store
from orchestrator.store.migrate import SCRIPTS, StoreNotCurrent, connect, migrate
from orchestrator.store.records import AuditEntry, TaskRecord
from orchestrator.store.schema import metadata
from orchestrator.store.status import Status
from orchestrator.testing.contracts.store import T0, delivery, host, run, with_runs


def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


def test_the_migrations_build_exactly_the_tables_the_store_uses(tmp_path: Path) -> None:
    engine = connect(url(tmp_path))
    migrate(engine)
    with engine.begin() as db:
        differences = compare_metadata(MigrationContext.configure(db), metadata)
    engine.dispose()
    assert differences == []


def test_migrating_again_changes_nothing(tmp_path: Path) -> None:
    SqlRunStore.open(url(tmp_path)).close()
    engine = connect(url(tmp_path))
    migrate(engine)
    with engine.begin() as db:
        assert db.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0007"
    engine.dispose()


def _downgrade(tmp_path: Path, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", SCRIPTS)
    engine = connect(url(tmp_path))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    engine.dispose()


def test_tasks_recorded_before_durations_were_kept_read_as_of_unknown_duration(
    tmp_path: Path,
) -> None:
    store = SqlRunStore.open(url(tmp_path))
    with_runs(store, run("r1"))
    store.save_host(
        host("r1", "web-01", tasks=(TaskRecord("reboot", Status.SUCCEEDED, duration=4.5),))
    )
    store.close()
    _downgrade(tmp_path, "0005")
    store = SqlRunStore.open(url(tmp_path))
    assert store.list_hosts("r1")[0].tasks == (TaskRecord("reboot", Status.SUCCEEDED),)
    store.close()


def test_runs_recorded_before_their_process_was_kept_read_as_of_unknown_process(
    tmp_path: Path,
) -> None:
    store = SqlRunStore.open(url(tmp_path))
    with_runs(store, run("r1"))
    stored = store.get_run("r1")
    assert stored is not None
    assert stored.pid == 4242
    store.close()
    _downgrade(tmp_path, "0006")
    store = SqlRunStore.open(url(tmp_path))
    assert store.get_run("r1") == replace(stored, pid=None)
    store.close()


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET who = 'eve'", "DELETE FROM audit_log"])
def test_the_audit_log_refuses_updates_and_deletes(tmp_path: Path, statement: str) -> None:
    store = SqlRunStore.open(url(tmp_path))
    store.append_audit(AuditEntry(T0, "alice", "run_started"))
    store.close()
    engine = connect(url(tmp_path))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as db:
        db.execute(text(statement))
    engine.dispose()


def test_the_store_defaults_to_a_sqlite_file_in_the_state_folder(tmp_path: Path) -> None:
    location = StoreLocation(tmp_path / "state")
    store = open_store(location)
    store.close()
    assert location.store_url == f"sqlite:///{tmp_path / 'state' / 'runs.db'}"
    assert (tmp_path / "state" / "runs.db").is_file()
    assert location.run_logs == tmp_path / "state" / "runs"


def test_the_environment_names_the_state_folder_and_the_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_STATE", "/srv/orchestrator")
    monkeypatch.setenv("ORCHESTRATOR_STORE_URL", "postgresql+psycopg://db.example/runs")
    location = StoreLocation.from_env()
    assert location == StoreLocation(
        Path("/srv/orchestrator"), "postgresql+psycopg://db.example/runs"
    )
    assert location.store_url == "postgresql+psycopg://db.example/runs"


def test_without_environment_the_state_folder_is_dot_orchestrator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ORCHESTRATOR_STATE", raising=False)
    monkeypatch.delenv("ORCHESTRATOR_STORE_URL", raising=False)
    assert StoreLocation.from_env() == StoreLocation(Path(".orchestrator"), None)


def test_a_reader_reads_the_store_without_migrating_it(tmp_path: Path) -> None:
    writer = SqlRunStore.open(url(tmp_path))
    writer.save_delivery(delivery())
    reader = SqlRunStore.open_reader(url(tmp_path))
    assert [d.id for d in reader.list_deliveries()] == ["acme-webshop"]
    reader.close()
    writer.close()


def test_a_reader_refuses_a_store_of_another_version_or_none(tmp_path: Path) -> None:
    with pytest.raises(StoreNotCurrent, match="no run store at"):
        SqlRunStore.open_reader(url(tmp_path))
    SqlRunStore.open(url(tmp_path)).close()
    engine = connect(url(tmp_path))
    with engine.begin() as db:
        db.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()
    with pytest.raises(StoreNotCurrent, match="schema is at revision 0001, this version reads"):
        SqlRunStore.open_reader(url(tmp_path))
