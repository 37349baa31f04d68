"""``FixedIdentity``: the ``Authenticator`` port, always the given person."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.engine.ports.identity import Approver, KnownPerson


@dataclass(frozen=True, slots=True)
class FixedIdentity:
    """An ``Authenticator`` that is always the given person (``method`` ``test``); the rules
    are the same as for ``LoginIdentity`` (held by tests/unit/test_identity.py)."""

    person: KnownPerson

    def authenticate(self, statement: str) -> Approver:  # noqa: ARG002 - nothing is signed
        return Approver(self.person, "test", self.person.login)
