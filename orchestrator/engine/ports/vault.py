"""The ``DeliveryVault`` port: per delivery, what every controller of a site must see the same.

    DeliveryVault.secret(delivery, name) -> str         generated the first time it is asked for
    DeliveryVault.secrets(delivery) -> {name: value}    every secret generated so far
    DeliveryVault.pin(delivery, address, key) -> str    the first pin of an address wins
    DeliveryVault.pins(delivery) -> {address: key}      every pin so far
    DeliveryVault.forget(delivery) -> int               all of it, when the delivery is released

Adapters: ``FernetVault`` (``orchestrator.adapters.vault``: sealed with Fernet in the run store).
``orchestrator.adapters.workspace.Workspace`` writes what ssh and Ansible read (``known_hosts``,
``secrets.json``) from a vault.

"Once" and "first wins" hold across controllers: two controllers asking at the same moment for a
secret nobody has yet both get the one that was kept, decided by the store's uniqueness (insert,
or read what is there), never by a lock inside one process. Host keys are ``kind base64`` lines
(``ssh-ed25519 AAAA...``), without a comment.

Errors (``orchestrator.engine.errors``):
    SharedStateError    the state cannot be used with the site's key (not a key, another key
                        sealed it, or it was altered); the message names the site field, never
                        a key or a value
"""

from __future__ import annotations

from typing import Protocol


class DeliveryVault(Protocol):
    """Generated secrets and pinned host keys of deliveries, the same for every controller."""

    def secret(self, delivery: str, name: str) -> str:
        """The secret ``name`` of ``delivery``, generated (once, for everyone) if it is new."""
        ...

    def secrets(self, delivery: str) -> dict[str, str]:
        """Every secret generated for ``delivery`` so far, by name."""
        ...

    def pin(self, delivery: str, address: str, key: str) -> str:
        """Pin ``key`` for ``address`` unless a key is pinned already; the pinned key."""
        ...

    def pins(self, delivery: str) -> dict[str, str]:
        """The host keys pinned for ``delivery``, by address."""
        ...

    def forget(self, delivery: str) -> int:
        """Remove every secret and pin of ``delivery``; how many there were."""
        ...


def key_line(key: str) -> str:
    """``kind base64`` of a public key line, its comment dropped; ``ValueError`` if not a key."""
    parts = key.split()
    if len(parts) < 2:
        raise ValueError("a host key is `kind base64`, e.g. `ssh-ed25519 AAAA...`")
    return f"{parts[0]} {parts[1]}"
