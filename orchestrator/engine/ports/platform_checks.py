"""The ``PlatformChecks`` port: the buddycheck's checks, run on the delivered hosts.

    PlatformChecks.run(ChecksRun) -> tuple[CheckResult, ...]     one result per check

Phase 4 generates its checks from the spec and the records (one per sold item: a package, a
service, a port, a user's key, a sysctl, a backup ...) and hands the ones that run on a host to a
``PlatformChecks`` (``TestinfraChecks``: pytest-testinfra through the same Ansible inventory and
pinned host keys as the playbooks). Checks asked of other systems (Prometheus's API, NetBox) give
the same ``CheckResult`` values. A check that cannot be carried out (the host does not answer) is
a failed result that says so, never an exception: the buddycheck reports what it found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from orchestrator.store.records import Json, JsonMap


@dataclass(frozen=True, slots=True)
class Check:
    """One thing to verify on one host: ``service nginx`` expects ``running and enabled``.

    ``name`` is stable and unique per host (action items are matched on host and name across
    runs); ``params`` is what the executor needs to carry it out, never a secret."""

    host: str
    name: str
    kind: str
    expected: str
    params: JsonMap = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a check found, and whether that is what was expected."""

    check: Check
    passed: bool
    found: str

    def as_json(self) -> dict[str, Json]:
        """The result as a step output."""
        return {
            "name": self.check.name,
            "kind": self.check.kind,
            "expected": self.check.expected,
            "found": self.found,
            "passed": self.passed,
        }


def result_from_json(host: str, value: Mapping[str, Json]) -> CheckResult:
    """A result read back from a step's outputs (``as_json``)."""
    check = Check(host, str(value["name"]), str(value["kind"]), str(value["expected"]))
    return CheckResult(check, bool(value["passed"]), str(value["found"]))


@dataclass(frozen=True, slots=True)
class ChecksRun:
    """Checks to run on some hosts, reached as the playbooks reach them.

    ``inventory`` is the delivery's Ansible inventory (as ``PlaybookRun`` has it), ``known_hosts``
    the pinned host keys; ``secrets`` are values a check compares against without sending them
    anywhere (a database password), and ``censor`` what must never appear in a result."""

    inventory: JsonMap
    known_hosts: Path
    checks: tuple[Check, ...]
    secrets: Mapping[str, str] = field(default_factory=dict)
    censor: Sequence[str] = ()


class PlatformChecks(Protocol):
    """Something that carries out checks on hosts."""

    def run(self, request: ChecksRun) -> tuple[CheckResult, ...]:
        """One result per check of ``request``, in order."""
        ...
