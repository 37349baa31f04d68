"""Logging in to the viewer off loopback: a challenge signed with the person's SSH key.

The site lists its people with their SSH public keys (the keys that sign gate approvals). The
login page shows a one-time challenge; the person signs it on their own machine::

    echo 'orchestrator-viewer login NONCE' | ssh-keygen -Y sign -n orchestrator-viewer -f KEY

and pastes the signature. ``verify`` (``adapters.identity.verified`` with this namespace, built
by ``cli/serve.py``) finds whose listed key made it. A signature for the viewer's namespace is no
gate approval, nor the other way round. The session is a cookie signed with a key made when the
viewer starts (``itsdangerous``): HttpOnly, SameSite=Strict, Secure when served over TLS, valid
for ``SESSION_SECONDS``; restarting the viewer logs everybody out. Nothing secret is kept: the
private key never leaves the person's machine, and the site file holds public keys only.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeTimedSerializer

from orchestrator.engine.errors import NotAuthenticated

NAMESPACE = "orchestrator-viewer"
COOKIE = "orchestrator_viewer"
CHALLENGE_SECONDS = 300
SESSION_SECONDS = 8 * 3600

#: Who signed ``text`` (their login), from the signature; ``NotAuthenticated`` otherwise.
type Verify = Callable[[str, str], str]


def challenge_text(nonce: str) -> str:
    """What the person signs (``echo`` adds the newline)."""
    return f"{NAMESPACE} login {nonce}\n"


def sign_command(nonce: str) -> str:
    """The command that signs the challenge, for the login page."""
    return f"echo '{challenge_text(nonce).strip()}' | ssh-keygen -Y sign -n {NAMESPACE} -f KEY"


@dataclass
class SignedLogin:
    """Challenges, their one-time use, and the session cookies of one viewer process."""

    verify: Verify
    secure: bool = False  # the viewer is served over TLS: cookies only go over TLS
    clock: Callable[[], float] = time.time
    _key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    _used: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def challenge(self) -> tuple[str, str]:
        """A fresh nonce and the token the login form sends back with the signature."""
        nonce = secrets.token_hex(16)
        return nonce, self._signer("challenge").dumps(nonce)

    def log_in(self, token: str, signature: str) -> str:
        """The session cookie's value for whoever signed the token's challenge."""
        nonce = self._loads("challenge", token, CHALLENGE_SECONDS)
        if nonce is None:
            raise NotAuthenticated("the challenge expired or was altered: sign a new one")
        login = self.verify(challenge_text(nonce), signature.strip() + "\n")
        self._use(nonce)
        return self._signer("session").dumps(login)

    def who(self, cookie: str | None) -> str | None:
        """The login a session cookie was given to, while it is valid."""
        return self._loads("session", cookie, SESSION_SECONDS) if cookie else None

    def _use(self, nonce: str) -> None:
        """Each challenge logs in once."""
        now = self.clock()
        with self._lock:
            self._used = {n: t for n, t in self._used.items() if now - t < CHALLENGE_SECONDS}
            if nonce in self._used:
                raise NotAuthenticated("that challenge was used already: sign a new one")
            self._used[nonce] = now

    def _signer(self, salt: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._key, salt=f"{NAMESPACE}-{salt}")

    def _loads(self, salt: str, token: str, max_age: int) -> str | None:
        try:
            value = self._signer(salt).loads(token, max_age=max_age)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None
