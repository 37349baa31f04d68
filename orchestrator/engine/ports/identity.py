"""The ``Authenticator`` port: who is approving, as something that authenticated them says.

    Authenticator.authenticate(statement: str) -> Approver     raises NotAuthenticated

A gate decision never takes a typed name. The site lists its people (login name, name, email,
roles, SSH public keys); an authenticator establishes which of them is at the keyboard:

- ``login``: the operating-system account the command runs as (its real user id, not an
  environment variable), looked up in the site's people by login name;
- ``ssh-signature``: the approval's statement signed with the person's SSH key
  (``ssh-keygen -Y sign``, the key file or the agent), verified against the keys the site lists
  for its people. The signature is kept with the decision, so anyone can verify it again later.

Implementations are in ``orchestrator.adapters.identity``; ``statement`` is the text of the
approval (delivery, gate, evidence, comment) that a signature binds the person to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

#: The roles a site gives its people (``people.<login>.roles`` in the site file).
SITE_ROLES = ("delivery_manager", "lead_engineer", "engineer", "operations", "ci")


@dataclass(frozen=True, slots=True)
class KnownPerson:
    """Someone the site knows: how they log in, what roles they hold, which keys are theirs."""

    login: str
    name: str
    email: str
    roles: frozenset[str] = frozenset()
    ssh_keys: tuple[str, ...] = ()


type People = Mapping[str, KnownPerson]


@dataclass(frozen=True, slots=True)
class Approver:
    """A person the site knows, authenticated: ``method`` says how, ``proof`` shows it (the OS
    account, or the SSH signature over the statement)."""

    person: KnownPerson
    method: str
    proof: str

    @property
    def name(self) -> str:
        """The person's full name."""
        return self.person.name

    def holds(self, role: str) -> bool:
        """Whether the site gives the person ``role``."""
        return role in self.person.roles

    def __str__(self) -> str:
        return f"{self.person.name} ({self.person.login})"


def statement(delivery: str, gate: str, evidence: str, comment: str) -> str:
    """The text an approval binds its approver to (what an SSH signature signs)."""
    return (
        "orchestrator gate approval\n"
        f"delivery: {delivery}\ngate: {gate}\nevidence: {evidence or '-'}\ncomment: {comment}\n"
    )


class Authenticator(Protocol):
    """Establishes who approves."""

    def authenticate(self, statement: str) -> Approver:
        """The person approving ``statement``; ``NotAuthenticated`` when it cannot be shown."""
        ...
