"""``FixedComposition``: a ``Composition`` for CLI tests: given phases and NetBox, whatever
the site."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.delivery import Delivery
from orchestrator.engine.notifying import Notifications
from orchestrator.engine.phase import Phase
from orchestrator.engine.ports.identity import Authenticator
from orchestrator.engine.ports.ipam import Ipam
from orchestrator.store.protocol import RunStore
from orchestrator.testing.steps import catalogue, unwired


@dataclass(frozen=True, slots=True)
class FixedComposition:
    """A ``Composition`` for CLI tests: given phases and NetBox, whatever the site."""

    fixed_phases: Sequence[Phase] = field(default_factory=catalogue)
    fixed_ipam: Ipam | None = None
    fixed_workspace: Workspace | None = None
    fixed_identity: Authenticator | None = None
    fixed_notifications: Notifications = field(default_factory=Notifications)

    def authenticator(self, sign_with: Path | None = None) -> Authenticator:  # noqa: ARG002
        if self.fixed_identity is None:
            unwired()
        return self.fixed_identity

    @property
    def ipam(self) -> Ipam:
        if self.fixed_ipam is None:
            unwired()
        return self.fixed_ipam

    @property
    def workspace(self) -> Workspace:
        if self.fixed_workspace is None:
            unwired()
        return self.fixed_workspace

    def phases(self) -> Sequence[Phase]:
        return self.fixed_phases

    def using(self, _store: RunStore) -> FixedComposition:
        """The same: what it holds was given, whatever the store."""
        return self

    def complete(self, delivery: Delivery) -> Delivery:
        """The same: a test's spec says where it lands."""
        return delivery

    def notifications(self) -> Notifications:
        """The notifications given (none by default: nothing is sent)."""
        return self.fixed_notifications

    def __call__(self, _site: str | None, _state: Path, _spec_site: str | None) -> FixedComposition:
        return self
