"""Alembic environment: migrate the connection ``SqlRunStore`` hands over (never a URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from orchestrator.store.schema import metadata


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise TypeError("migrations run through SqlRunStore, which passes a connection")
    _migrate(connection)


_run()
