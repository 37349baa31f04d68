"""A delivery's private files on the controller: pinned host keys, generated secrets, artifacts.

    <root>/<delivery>/            0700
        known_hosts               0600  host keys pinned on first contact (SSH and Ansible use it)
        secrets.json              0600  passwords the orchestrator generated or the site keeps
                                        (a backup password), never logged
        backup_known_hosts        0600  the site's backup host key, for the playbooks
        facts/                    0700  Ansible's fact cache
        runs/<run>-<step>/        0700  ansible-runner artifacts, files 0600, the newest kept

Generated secrets live only here: playbooks read the file with ``no_log``; they never travel in
process arguments, environment variables, inventories, logs or the run store.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

_LOCK = threading.Lock()
SECRET_BYTES = 24


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner may enter (made if missing)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (0600) atomically: a temporary file, then a rename."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    temp.replace(path)


@dataclass(frozen=True, slots=True)
class Workspace:
    """The per-delivery folders under ``root``."""

    root: Path

    def delivery(self, delivery_id: str) -> Path:
        """The delivery's folder (0700)."""
        return private_dir(private_dir(self.root) / delivery_id)

    def known_hosts(self, delivery_id: str) -> Path:
        """The delivery's known_hosts file of pinned host keys."""
        return self.delivery(delivery_id) / "known_hosts"

    def backup_known_hosts(self, delivery_id: str) -> Path:
        """The known_hosts file with the site's backup host key (written before each playbook)."""
        return self.delivery(delivery_id) / "backup_known_hosts"

    def facts(self, delivery_id: str) -> Path:
        """Ansible's fact cache for the delivery."""
        return private_dir(self.delivery(delivery_id) / "facts")

    def runs(self, delivery_id: str) -> Path:
        """Where playbook artifacts of the delivery are kept."""
        return private_dir(self.delivery(delivery_id) / "runs")

    def secrets_file(self, delivery_id: str) -> Path:
        """The delivery's generated secrets (JSON object, 0600)."""
        return self.delivery(delivery_id) / "secrets.json"

    def secret(self, delivery_id: str, name: str) -> str:
        """The secret called ``name``, generated (and kept) the first time it is asked for."""
        path = self.secrets_file(delivery_id)
        with _LOCK:
            known: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
            if name not in known:
                known[name] = secrets.token_urlsafe(SECRET_BYTES)
                write_private(path, json.dumps(known, indent=2, sort_keys=True) + "\n")
            return known[name]

    def keep_secret(self, delivery_id: str, name: str, value: str) -> None:
        """Keep ``value`` as the secret called ``name``: one the site keeps (a backup password)
        rather than one generated here; playbooks read it from the same file."""
        path = self.secrets_file(delivery_id)
        with _LOCK:
            known: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
            if known.get(name) != value:
                known[name] = value
                write_private(path, json.dumps(known, indent=2, sort_keys=True) + "\n")

    def secret_values(self, delivery_id: str) -> tuple[str, ...]:
        """Every secret generated for the delivery so far (to censor them from any output)."""
        path = self.secrets_file(delivery_id)
        known: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
        return tuple(known.values())
