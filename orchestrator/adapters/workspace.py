"""A delivery's private files on the controller: pinned host keys, generated secrets, artifacts.

    <root>/<delivery>/            0700
        known_hosts               0600  host keys pinned on first contact (SSH and Ansible use it)
        secrets.json              0600  passwords the orchestrator generated or the site keeps
                                        (a backup password), never logged
        backup_known_hosts        0600  the site's backup host key, for the playbooks
        facts/                    0700  Ansible's fact cache
        runs/<run>-<step>/        0700  ansible-runner artifacts, files 0600, the newest kept
        handover/                 0700  the handover document (.md, .html, .pdf), files 0600
            access/               0700  one access document per customer user (.md, .html)
        migration/                0700  phase 6 (``orchestrator.phases.migration``)
            files/<data set>/           the controller's copy of a files data set (rsync mirror)
            dumps/<data set>.dump 0600  a PostgreSQL data set's pg_dump (custom format)

Where the pins and passwords are kept depends on the site:

- **Shared** (the site has ``shared_state.key``; ``vault`` is a ``DeliveryVault``): the vault in
  the run store holds them, for every controller of the site. ``known_hosts`` and
  ``secrets.json`` are only what ssh and Ansible read: ``write_known_hosts`` and
  ``write_secrets`` write them from the vault before each probe and playbook run, and a new pin
  goes to the vault first (the first pin of an address wins, whichever controller made it), then
  into the file. A second controller with an empty folder sees the same pins and passwords.
- **Local** (no key: ``vault`` is ``None``): the two files are the state itself, on this
  controller only; another controller would pin again and generate other passwords.

Generated secrets never travel in process arguments, environment variables, inventories, logs or
run records: playbooks read ``secrets.json`` with ``no_log``; the vault keeps them sealed.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engine.ports.vault import DeliveryVault, key_line
from orchestrator.store.private import private_dir, write_private

_LOCK = threading.Lock()
SECRET_BYTES = 24


def read_pins(known_hosts: Path) -> dict[str, str]:
    """The pins of a known_hosts file, by address (the first line of an address counts)."""
    text = known_hosts.read_text() if known_hosts.is_file() else ""
    pins: dict[str, str] = {}
    for parts in (line.split() for line in text.splitlines()):
        if len(parts) >= 3:
            pins.setdefault(parts[0], f"{parts[1]} {parts[2]}")
    return pins


def known_hosts_text(pins: Mapping[str, str]) -> str:
    """A known_hosts file of ``pins``: ``<address> <kind> <base64>`` per line."""
    return "".join(f"{address} {key_line(key)}\n" for address, key in pins.items())


def _read_secrets(path: Path) -> dict[str, str]:
    known: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    return known


def _secrets_text(known: Mapping[str, str]) -> str:
    return json.dumps(dict(known), indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True, slots=True)
class Workspace:
    """The per-delivery folders under ``root``; pins and secrets in ``vault`` when shared."""

    root: Path
    vault: DeliveryVault | None = None

    @property
    def shared(self) -> bool:
        """Whether pins and secrets are kept in a vault every controller sees."""
        return self.vault is not None

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

    def handover(self, delivery_id: str) -> Path:
        """Where the delivery's handover documents are written."""
        return private_dir(self.delivery(delivery_id) / "handover")

    def secrets_file(self, delivery_id: str) -> Path:
        """The delivery's generated secrets (JSON object, 0600)."""
        return self.delivery(delivery_id) / "secrets.json"

    # pins

    def write_known_hosts(self, delivery_id: str) -> Path:
        """The delivery's known_hosts, written from the vault's pins (left as it is when the
        file is the state)."""
        path = self.known_hosts(delivery_id)
        if self.vault is not None:
            write_private(path, known_hosts_text(self.vault.pins(delivery_id)))
        return path

    def pin(self, delivery_id: str, address: str, key: str) -> str:
        """Pin ``key`` for ``address`` unless a key is pinned already; the pinned key. Shared:
        the vault decides (the first pin wins, from any controller), then the file follows."""
        if self.vault is not None:
            pinned = self.vault.pin(delivery_id, address, key)
            self.write_known_hosts(delivery_id)
            return pinned
        path = self.known_hosts(delivery_id)
        with _LOCK:
            pins = read_pins(path)
            if address not in pins:
                pins[address] = key_line(key)
                write_private(path, known_hosts_text(pins))
            return pins[address]

    # secrets

    def write_secrets(self, delivery_id: str, names: Sequence[str] = ()) -> Path:
        """The delivery's secrets file, with the secrets ``names`` generated if they are new;
        written from the vault when shared."""
        for name in names:
            self.secret(delivery_id, name)
        path = self.secrets_file(delivery_id)
        if self.vault is not None:
            write_private(path, _secrets_text(self.vault.secrets(delivery_id)))
        return path

    def secret(self, delivery_id: str, name: str) -> str:
        """The secret called ``name``, generated (and kept) the first time it is asked for."""
        if self.vault is not None:
            return self.vault.secret(delivery_id, name)
        path = self.secrets_file(delivery_id)
        with _LOCK:
            known = _read_secrets(path)
            if name not in known:
                known[name] = secrets.token_urlsafe(SECRET_BYTES)
                write_private(path, _secrets_text(known))
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

    def known_secrets(self, delivery_id: str) -> dict[str, str]:
        """The secrets kept for the delivery so far, by name; none is generated."""
        if self.vault is not None:
            return dict(self.vault.secrets(delivery_id))
        return _read_secrets(self.secrets_file(delivery_id))

    def secret_values(self, delivery_id: str) -> tuple[str, ...]:
        """Every secret generated for the delivery so far (to censor them from any output)."""
        if self.vault is not None:
            return tuple(self.vault.secrets(delivery_id).values())
        return tuple(_read_secrets(self.secrets_file(delivery_id)).values())

    # release

    def held(self, delivery_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The addresses pinned and the names of the secrets kept for the delivery; nothing is
        made (not even its folder)."""
        folder = self.root / delivery_id
        if self.vault is not None:
            return tuple(self.vault.pins(delivery_id)), tuple(self.vault.secrets(delivery_id))
        pins, known = read_pins(folder / "known_hosts"), _read_secrets(folder / "secrets.json")
        return tuple(pins), tuple(known)

    def exists(self, delivery_id: str) -> bool:
        """Whether the delivery has a folder here (nothing is made)."""
        return (self.root / delivery_id).is_dir()

    def remove(self, delivery_id: str) -> bool:
        """Remove the delivery's folder and all in it; whether there was one."""
        folder = self.root / delivery_id
        if (
            folder.is_symlink()
            or not folder.is_dir()
            or folder.parent.resolve() != self.root.resolve()
        ):
            return False
        shutil.rmtree(folder)
        return True

    def forget(self, delivery_id: str) -> int:
        """Forget the delivery's pins and secrets, in the vault and in the two files; how many
        there were. Artifacts and the fact cache stay."""
        folder = self.root / delivery_id  # not made if it is gone
        pins, secrets_file = folder / "known_hosts", folder / "secrets.json"
        if self.vault is not None:
            forgotten = self.vault.forget(delivery_id)
        else:
            forgotten = len(read_pins(pins)) + len(_read_secrets(secrets_file))
        pins.unlink(missing_ok=True)
        secrets_file.unlink(missing_ok=True)
        return forgotten
