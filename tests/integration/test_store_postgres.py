"""The store and vault contracts on this machine's PostgreSQL, in a throwaway database made for
the session; and two controllers asking for the same new secret at the same moment.

Connects as ``postgres`` over TCP to 127.0.0.1:5432 (``$ORCHESTRATOR_TEST_PG`` overrides the
server part of the URL); creates ``orchestrator_test_<random>``, drops it afterwards, and touches
no other database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text

from orchestrator.store import RunStore, SqlRunStore
from orchestrator.store.migrate import connect, migrate
from orchestrator.store.records import AuditEntry
from orchestrator.store.schema import metadata
from orchestrator.testing.contracts.store import T0, StoreContract
from tests.unit.test_vault import VaultContract, assert_one_value_each, controllers, race

SERVER = os.environ.get("ORCHESTRATOR_TEST_PG", "postgres@127.0.0.1:5432")


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(f"postgresql://{SERVER}/postgres", autocommit=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"orchestrator_test_{secrets.token_hex(4)}"
    with _admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://{SERVER}/{name}"
    finally:
        with _admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _empty(url: str) -> None:
    engine = connect(url)
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as db:
        db.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, postgres_url: str) -> Iterator[RunStore]:
        store = SqlRunStore.open(postgres_url)
        yield store
        store.close()
        _empty(postgres_url)


class TestPostgresVault(VaultContract):
    @pytest.fixture
    def store(self, postgres_url: str) -> Iterator[RunStore]:
        store = SqlRunStore.open(postgres_url)
        yield store
        store.close()
        _empty(postgres_url)


@pytest.mark.parametrize("count", [2, 8])
def test_controllers_asking_at_once_for_a_new_secret_get_the_same_one(
    postgres_url: str, count: int
) -> None:
    with controllers(postgres_url, count) as stores:
        got = race(stores, names=25)
    _empty(postgres_url)
    assert_one_value_each(got)
    assert len(got[0]) == 25


def test_migrating_again_changes_nothing(postgres_url: str) -> None:
    engine = connect(postgres_url)
    migrate(engine)
    migrate(engine)
    with engine.begin() as db:
        assert db.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0007"
    engine.dispose()


def test_the_audit_log_refuses_updates_and_deletes(postgres_url: str) -> None:
    store = SqlRunStore.open(postgres_url)
    store.append_audit(AuditEntry(T0, "alice", "run_started"))
    engine = connect(postgres_url)
    for statement in ("UPDATE audit_log SET who = 'eve'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as db:
            db.execute(text(statement))
    engine.dispose()
    store.close()
    _empty(postgres_url)
