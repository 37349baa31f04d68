"""Where the run store and the run logs live: a state folder, or a database URL for teams."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator.store.private import private_dir
from orchestrator.store.protocol import RunStore
from orchestrator.store.sql import SqlRunStore

STATE_ENV = "ORCHESTRATOR_STATE"
STORE_URL_ENV = "ORCHESTRATOR_STORE_URL"
DEFAULT_STATE = Path(".orchestrator")


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """The state folder (run logs, the default SQLite file) and, optionally, a database URL."""

    state_dir: Path = DEFAULT_STATE
    url: str | None = None

    @classmethod
    def from_env(cls) -> StoreLocation:
        """``$ORCHESTRATOR_STATE`` and ``$ORCHESTRATOR_STORE_URL``, else ``./.orchestrator``."""
        state = os.environ.get(STATE_ENV)
        return cls(Path(state) if state else DEFAULT_STATE, os.environ.get(STORE_URL_ENV) or None)

    @property
    def store_url(self) -> str:
        """The database URL: the one given, else a SQLite file in the state folder."""
        return self.url or f"sqlite:///{self.state_dir.resolve() / 'runs.db'}"

    @property
    def run_logs(self) -> Path:
        """The folder of the JSON-lines log files, one per run."""
        return self.state_dir / "runs"


def open_store(location: StoreLocation) -> SqlRunStore:
    """Open (and migrate) the store at ``location``, making the state folder (0700) if needed."""
    if location.url is None:
        private_dir(location.state_dir)
    return SqlRunStore.open(location.store_url)


def run_log_lines(store: RunStore, run_logs: Path | None, run_id: str) -> list[str]:
    """A run's JSON log lines: its file in ``run_logs`` when this machine has it (it has every
    line, up to the last one logged), else the store's copy (shipped at every checkpoint)."""
    file = run_logs / f"{run_id}.jsonl" if run_logs is not None else None
    if file is not None and file.is_file():
        return file.read_text(encoding="utf-8").splitlines()
    return store.read_log_lines(run_id)
