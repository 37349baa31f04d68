"""The store contract (``orchestrator.testing.contracts.store``) in memory and on SQLite; the same
contract runs on PostgreSQL in tests/integration/test_store_postgres.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.store import RunStore, SqlRunStore
from orchestrator.testing import InMemoryRunStore
from orchestrator.testing.contracts.store import StoreContract


class TestInMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> RunStore:
        return InMemoryRunStore()


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[RunStore]:
        store = SqlRunStore.open(f"sqlite:///{tmp_path / 'runs.db'}")
        yield store
        store.close()
