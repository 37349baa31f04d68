"""``FernetVault``: implements ``orchestrator.engine.ports.vault.DeliveryVault`` on the run store.

    DeliveryVault
    └── FernetVault     values sealed with Fernet (``cryptography``), kept by the run store's
                        shared state (``orchestrator.store.protocol.SharedState``)

Why the sealing happens here and not in the store: the store keeps what it is given and decides
only who came first (its uniqueness); it never holds a plain secret, so no SQL error, log line of
a driver or database dump can show one, and the store stays free of cryptography. The key comes
from the site (``shared_state.key``, resolved by the composition root); this class keeps only the
``Fernet`` object, never the key's text.

Each value is sealed together with where it belongs (delivery, kind, name), and checked against
it when opened: a sealed value copied to another row (another delivery's password, another
host's pin) is refused, not used.

Pinned host keys are sealed too. They are not secret, but a pin is what stands between SSH and
an impostor: sealed (Fernet authenticates), a pin cannot be replaced by whoever can write the
database without holding the key. Only deleting one is possible, after which the next contact
is a first contact again (still checked against the key a machine provider reports, or NetBox's
for existing servers).

Errors: ``SharedStateError`` when the key is not a Fernet key, is not the key a value was sealed
with, or a value was altered; its message names the site field and the reference, never the key
or a value.
"""

from __future__ import annotations

import json
from secrets import token_urlsafe

from cryptography.fernet import Fernet, InvalidToken

from orchestrator.engine.errors import SharedStateError
from orchestrator.engine.ports.vault import key_line
from orchestrator.store.protocol import SharedState
from orchestrator.store.records import StateKind

#: Random bytes of a generated secret (URL-safe text of 32 characters).
SECRET_BYTES = 24
FIELD = "shared_state.key"
NEW_KEY_HINT = (
    'make one with `python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"`'
)


def fernet(key: str, source: str = FIELD) -> Fernet:
    """A ``Fernet`` on ``key``; ``SharedStateError`` naming ``source`` if it is not a key."""
    try:
        return Fernet(key.encode())
    except ValueError:
        raise SharedStateError(
            f"{source} is not a Fernet key (32 url-safe base64-encoded bytes): {NEW_KEY_HINT}"
        ) from None


class FernetVault:
    """Secrets and pins of deliveries in ``store``, sealed with a Fernet key."""

    def __init__(self, store: SharedState, key: str, source: str = FIELD) -> None:
        """``source`` names the key in messages: the site field and its reference."""
        self._store = store
        self._fernet = fernet(key, source)
        self._source = source

    def __repr__(self) -> str:
        return f"FernetVault(key from {self._source})"

    def secret(self, delivery: str, name: str) -> str:
        sealed = self._store.list_state(delivery, "secret").get(name)
        if sealed is None:
            fresh = self._seal(delivery, "secret", name, token_urlsafe(SECRET_BYTES))
            sealed = self._store.claim_state(delivery, "secret", name, fresh)
        return self._open(delivery, "secret", name, sealed)

    def secrets(self, delivery: str) -> dict[str, str]:
        return self._opened(delivery, "secret")

    def pin(self, delivery: str, address: str, key: str) -> str:
        sealed = self._store.list_state(delivery, "pin").get(address)
        if sealed is None:
            fresh = self._seal(delivery, "pin", address, key_line(key))
            sealed = self._store.claim_state(delivery, "pin", address, fresh)
        return self._open(delivery, "pin", address, sealed)

    def pins(self, delivery: str) -> dict[str, str]:
        return self._opened(delivery, "pin")

    def forget(self, delivery: str) -> int:
        return self._store.forget_state(delivery)

    def _opened(self, delivery: str, kind: StateKind) -> dict[str, str]:
        held = self._store.list_state(delivery, kind)
        return {name: self._open(delivery, kind, name, sealed) for name, sealed in held.items()}

    def _seal(self, delivery: str, kind: StateKind, name: str, value: str) -> str:
        plain = json.dumps([delivery, kind, name, value]).encode()
        return self._fernet.encrypt(plain).decode("ascii")

    def _open(self, delivery: str, kind: StateKind, name: str, sealed: str) -> str:
        where = f"{kind} {name!r} of delivery {delivery}"
        try:
            opened = json.loads(self._fernet.decrypt(sealed.encode("ascii")))
        except (InvalidToken, ValueError):
            raise SharedStateError(
                f"the shared state ({where}) cannot be opened with the key {self._source} "
                "refers to: it was sealed with another key, or altered in the run store"
            ) from None
        if not _belongs(opened, [delivery, kind, name]):
            raise SharedStateError(
                f"the shared state ({where}) was sealed for another entry: it was moved in the "
                "run store, not by the orchestrator"
            )
        value: str = opened[3]
        return value


def _belongs(opened: object, where: list[str]) -> bool:
    """Whether an opened value is ``[delivery, kind, name, value]`` for the row it was read from."""
    return (
        isinstance(opened, list) and len(opened) == 4 and opened[:3] == where
        and isinstance(opened[3], str)
    )  # fmt: skip
