"""Open a database and bring its schema to the newest revision, safely from several processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text

from orchestrator.store.private import private_file, tighten

SCRIPTS = "orchestrator.store:migrations"
_ADVISORY_LOCK = 0x6F7263  # "orc": serialises migrations of one PostgreSQL database
_SQLITE_BUSY_SECONDS = 30
#: The files SQLite keeps beside a database; it gives them the database file's mode.
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def connect(url: str) -> Engine:
    """An engine for ``url``; SQLite gets write-ahead logging and serialised write transactions."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Apply every migration not yet applied, in one transaction."""
    config = Config()
    config.set_main_option("script_location", SCRIPTS)
    with engine.begin() as connection:
        _serialise(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class StoreNotCurrent(Exception):
    """A store opened for reading whose schema is not the one this version writes: reading it
    could misread it, and a reader migrates nothing."""


def connect_reader(url: str) -> Engine:
    """An engine for ``url`` that only reads: no migration, no file made, no write lock taken
    (SQLite's readers do not queue behind its writers), so a read-only database role serves."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    database = make_url(url).database
    if database and database != ":memory:" and not Path(database).is_file():
        raise StoreNotCurrent(f"no run store at {database}")
    return create_engine(url, connect_args={"timeout": _SQLITE_BUSY_SECONDS})


def require_current(engine: Engine) -> None:
    """``StoreNotCurrent`` unless the database's schema is at this version's newest revision."""
    config = Config()
    config.set_main_option("script_location", SCRIPTS)
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        raise StoreNotCurrent(
            f"the run store's schema is at revision {current or 'none'}, this version reads "
            f"{head}: run any orchestrator command that writes (e.g. `orchestrator runs`) with "
            "a role that may migrate it"
        )


def _serialise(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})


def _sqlite_engine(url: str) -> Engine:
    _private_database(make_url(url).database)
    engine = create_engine(url, connect_args={"timeout": _SQLITE_BUSY_SECONDS})
    event.listen(engine, "connect", _sqlite_connected)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _private_database(database: str | None) -> None:
    """The database file made (empty) 0600 before SQLite makes it 0644, so that its companion
    files are 0600 too; an older version's files tightened. Not for an in-memory database, nor
    where the folder is missing (SQLite says so when it connects)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return
    private_file(path)
    for suffix in _SQLITE_COMPANIONS:
        tighten(path.with_name(path.name + suffix))


def _sqlite_connected(dbapi_connection: Any, _record: object) -> None:  # noqa: ANN401 - DB-API
    """Take over transactions from the driver so DDL is transactional and writers queue."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
