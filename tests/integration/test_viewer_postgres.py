"""The run viewer on PostgreSQL as a database role that may only SELECT: every page renders, and
the role could not have written.

Like test_store_postgres.py: connects as ``postgres`` over TCP to 127.0.0.1:5432
(``$ORCHESTRATOR_TEST_PG`` overrides the server part), makes ``orchestrator_viewer_<random>`` and
a role of the same name, and drops both afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.exc import ProgrammingError
from starlette.testclient import TestClient

from orchestrator.cli.serve import Bind, build
from orchestrator.store import SqlRunStore, StoreLocation
from orchestrator.testing.contracts.store import delivery
from tests.integration.test_store_postgres import SERVER
from tests.unit.viewer_support import FAILED_DELIVERY, seed


@dataclass(frozen=True)
class Database:
    name: str
    reader_url: str  # as the role that may only SELECT
    runs: dict[str, str]


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(f"postgresql://{SERVER}/postgres", autocommit=True)


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    name = f"orchestrator_viewer_{secrets.token_hex(4)}"
    password = secrets.token_hex(16)
    with _admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(name), sql.Literal(password)))  # fmt: skip
    try:
        writer = SqlRunStore.open(f"postgresql+psycopg://{SERVER}/{name}")
        runs = seed(writer)
        writer.close()
        with psycopg.connect(f"postgresql://{SERVER}/{name}", autocommit=True) as db:
            for grant in ("GRANT CONNECT ON DATABASE {db} TO {role}",
                          "GRANT USAGE ON SCHEMA public TO {role}",
                          "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"):  # fmt: skip
                db.execute(
                    sql.SQL(grant).format(db=sql.Identifier(name), role=sql.Identifier(name))
                )
        host = SERVER.split("@", 1)[-1]
        yield Database(name, f"postgresql+psycopg://{name}:{password}@{host}/{name}", runs)
    finally:
        with _admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))  # fmt: skip
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def test_the_viewer_renders_every_page_as_a_read_only_role(
    database: Database, tmp_path: Path
) -> None:
    app, store = build(Bind("127.0.0.1", 8080), StoreLocation(tmp_path, database.reader_url),
                       None, None)  # fmt: skip
    try:
        client = TestClient(app)
        run_id = database.runs[FAILED_DELIVERY]
        pages = ["/deliveries", "/deliveries?waiting=engineer", f"/deliveries/{FAILED_DELIVERY}",
                 "/deliveries/initech-portal", f"/runs/{run_id}", f"/runs/{run_id}?level=error",
                 f"/runs/{run_id}/live", f"/runs/{run_id}/junit.xml"]  # fmt: skip
        for url in pages:
            assert client.get(url).status_code == 200, url
        assert "No package matching" in client.get(f"/runs/{run_id}").text
        with pytest.raises(ProgrammingError, match="permission denied"):
            store.save_delivery(delivery("written-by-the-viewer"))
    finally:
        store.close()
