"""``FernetVault``: secrets generated once and pins kept first-wins, for every controller of a site;
sealed in the run store, opened only with the site's key.

``VaultContract`` runs on the in-memory store and on SQLite here, and on PostgreSQL in
tests/integration/test_store_postgres.py; ``race`` is two controllers asking at the same moment.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from orchestrator.adapters.vault import FernetVault
from orchestrator.engine.errors import SharedStateError
from orchestrator.store import RunStore, SqlRunStore
from orchestrator.store.protocol import SharedState
from orchestrator.testing import InMemoryRunStore

KEY = Fernet.generate_key().decode()
SOURCE = "shared_state.key (file:/etc/orchestrator/state.key)"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T"
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM7ivAnno65GdkRODERguDepSw/tem4Jg73zA7b+0xlR"


def vault(store: SharedState, key: str = KEY) -> FernetVault:
    return FernetVault(store, key, SOURCE)


def race(stores: list[SharedState], names: int = 10) -> list[dict[str, str]]:
    """Each store (one per controller) asks, from its own thread and at the same moment, for the
    same ``names`` new secrets; what each controller got, by name."""
    start = threading.Barrier(len(stores))
    got: list[dict[str, str]] = [{} for _ in stores]

    def controller(index: int) -> None:
        mine = vault(stores[index])
        for n in range(names):
            start.wait()
            got[index][f"secret-{n}"] = mine.secret("acme", f"secret-{n}")

    threads = [threading.Thread(target=controller, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return got


class VaultContract:
    """What every controller sees through a ``FernetVault``; subclasses give ``store``."""

    def test_a_secret_is_generated_once_for_every_controller(self, store: RunStore) -> None:
        first = vault(store).secret("acme", "db_password")
        assert len(first) >= 32
        assert vault(store).secret("acme", "db_password") == first  # another controller
        assert vault(store).secret("other", "db_password") != first
        assert vault(store).secrets("acme") == {"db_password": first}

    def test_the_first_pin_wins_and_comes_back(self, store: RunStore) -> None:
        assert vault(store).pin("acme", "10.0.0.1", HOST_KEY + " root@web-01") == HOST_KEY
        assert vault(store).pin("acme", "10.0.0.1", OTHER_KEY) == HOST_KEY
        assert vault(store).pin("acme", "10.0.0.2", OTHER_KEY) == OTHER_KEY
        assert vault(store).pins("acme") == {"10.0.0.1": HOST_KEY, "10.0.0.2": OTHER_KEY}
        assert vault(store).pins("other") == {}

    def test_forgetting_removes_the_deliverys_secrets_and_pins(self, store: RunStore) -> None:
        kept = vault(store)
        old = kept.secret("acme", "db_password")
        kept.pin("acme", "10.0.0.1", HOST_KEY)
        theirs = kept.secret("other", "db_password")
        assert kept.forget("acme") == 2
        assert kept.pins("acme") == {}
        assert kept.secret("acme", "db_password") != old
        assert kept.secret("other", "db_password") == theirs

    def test_the_store_holds_only_sealed_values(self, store: RunStore) -> None:
        secret = vault(store).secret("acme", "db_password")
        vault(store).pin("acme", "10.0.0.1", HOST_KEY)
        held = [*store.list_state("acme", "secret").values(),
                *store.list_state("acme", "pin").values()]  # fmt: skip
        assert len(held) == 2
        assert not [value for value in held if secret in value or HOST_KEY.split()[1] in value]

    def test_another_key_is_refused_by_name_never_shown(self, store: RunStore) -> None:
        vault(store).secret("acme", "db_password")
        other = Fernet.generate_key().decode()
        with pytest.raises(SharedStateError) as refused:
            vault(store, other).secrets("acme")
        message = str(refused.value)
        assert "shared_state.key (file:/etc/orchestrator/state.key)" in message
        assert "sealed with another key" in message
        assert other not in message
        assert KEY not in message

    def test_a_value_put_there_by_hand_is_refused(self, store: RunStore) -> None:
        store.claim_state("acme", "secret", "db_password", "chosen-by-hand")
        with pytest.raises(SharedStateError, match="cannot be opened"):
            vault(store).secret("acme", "db_password")

    def test_a_value_moved_to_another_row_is_refused(self, store: RunStore) -> None:
        vault(store).pin("acme", "10.0.0.1", HOST_KEY)
        store.claim_state("other", "pin", "10.0.0.1", store.list_state("acme", "pin")["10.0.0.1"])
        with pytest.raises(SharedStateError, match="sealed for another entry"):
            vault(store).pins("other")


class TestInMemoryVault(VaultContract):
    @pytest.fixture
    def store(self) -> RunStore:
        return InMemoryRunStore()


class TestSqliteVault(VaultContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[RunStore]:
        store = SqlRunStore.open(f"sqlite:///{tmp_path / 'runs.db'}")
        yield store
        store.close()


def test_what_is_not_a_fernet_key_is_refused_by_name() -> None:
    with pytest.raises(SharedStateError, match=r"\(file:.*\) is not a Fernet key") as refused:
        vault(InMemoryRunStore(), "hunter2")
    assert str(refused.value).startswith("shared_state.key")
    assert "hunter2" not in str(refused.value)


def test_the_vault_never_shows_its_key() -> None:
    assert KEY not in repr(vault(InMemoryRunStore()))


@contextmanager
def controllers(url: str, count: int = 2) -> Iterator[list[SharedState]]:
    """``count`` stores on the database at ``url``, each with its own connections."""
    stores = [SqlRunStore.open(url) for _ in range(count)]
    try:
        yield list(stores)
    finally:
        for store in stores:
            store.close()


def assert_one_value_each(got: list[dict[str, str]]) -> None:
    """Every controller got the same value for every name."""
    assert got[0]
    assert all(mine == got[0] for mine in got), "controllers got different secrets"


def test_two_controllers_on_sqlite_get_the_same_new_secret(tmp_path: Path) -> None:
    with controllers(f"sqlite:///{tmp_path / 'runs.db'}") as stores:
        assert_one_value_each(race(stores))
