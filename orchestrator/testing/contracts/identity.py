"""The ``Authenticator`` contract: the same assertions hold for ``FixedIdentity`` and for
``LoginIdentity`` (both in tests/unit/test_identity.py: the login authenticator is given the
login to read, so it needs no lab).

A world is an authenticator that authenticates Bob Buddy, an engineer the site knows as ``bob``.
"""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.engine.ports.identity import Authenticator, KnownPerson, statement

BOB = KnownPerson("bob", "Bob Buddy", "bob@hosting.example.com", frozenset({"engineer"}))
TEXT = statement("acme-webshop", "buddycheck", "ab" * 32, "all checks pass")


def check_the_site_person_is_given_with_how_they_were_authenticated(
    identity: Authenticator,
) -> None:
    approver = identity.authenticate(TEXT)
    assert approver.person == BOB
    assert (approver.name, str(approver)) == ("Bob Buddy", "Bob Buddy (bob)")
    assert approver.holds("engineer")
    assert not approver.holds("delivery_manager")
    assert approver.method in {"login", "test"}
    assert approver.proof == "bob"


CHECKS: tuple[Callable[[Authenticator], None], ...] = (
    check_the_site_person_is_given_with_how_they_were_authenticated,
)
