"""Where the lab keeps things.

Per-checkout state (pids, logs, overlays, the NetBox env file) lives under ``<checkout>/.lab``.
Caches that are slow to build and safe to share (base image, package mirror, NetBox venv, the
migrated NetBox database dump) live in one per-user folder shared by every checkout on the machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STATE_ENV = "ORCHESTRATOR_LAB_STATE"
CACHE_ENV = "ORCHESTRATOR_LAB_CACHE"


def _default_state() -> Path:
    return Path.cwd() / ".lab"


def _default_cache() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "orchestrator-lab"


@dataclass(frozen=True)
class LabPaths:
    """The folders of one lab: ``state`` is per checkout, ``cache`` is shared per user."""

    state: Path
    cache: Path

    @classmethod
    def from_env(cls) -> LabPaths:
        state = os.environ.get(STATE_ENV)
        cache = os.environ.get(CACHE_ENV)
        return cls(
            state=Path(state).resolve() if state else _default_state().resolve(),
            cache=Path(cache).resolve() if cache else _default_cache(),
        )

    @property
    def netbox_env(self) -> Path:
        return self.state / "netbox.env"

    @property
    def hosts(self) -> Path:
        return self.state / "hosts"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def ssh_key(self) -> Path:
        return self.state / "ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.state / "ssh" / "known_hosts"
