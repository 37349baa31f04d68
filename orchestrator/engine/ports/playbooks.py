"""The ``PlaybookRunner`` port: run a playbook on some hosts, get one outcome per host and task.

    PlaybookRunner.run(PlaybookRun) -> PlaybookOutcome

Adapters: ``AnsibleRunnerPlaybooks`` (``orchestrator.adapters.ansible``) and ``ScriptedPlaybooks``
(``orchestrator.testing``), held to one contract (``orchestrator.testing.contracts.playbooks``).
Failures of hosts are values in the outcome, never exceptions: a host that was unreachable, or whose
SSH connection died under a task, is ``retryable``; a host whose key does not match its pin is
``key_changed``. In check mode a changed task's detail is ``DIFF_MARK`` followed by what it would
change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from orchestrator.store.records import JsonMap, TaskRecord

#: A changed task's detail in check mode starts with this mark, then its diff.
DIFF_MARK = "diff:\n"

type HostState = Literal["ok", "failed", "unreachable"]


@dataclass(frozen=True, slots=True)
class PlaybookRun:
    """One playbook run: what, on which hosts, with which inventory and pins."""

    playbook: str  # file name under the playbooks folder
    inventory: JsonMap  # an Ansible YAML/JSON inventory: groups, hosts, host vars
    hosts: tuple[str, ...]  # the hosts to run on (``--limit``)
    known_hosts: Path  # the delivery's pinned host keys
    artifacts: Path  # the delivery's artifact folder; each run gets a folder inside
    facts: Path  # the delivery's fact cache
    label: str  # names the run's artifact folder, e.g. ``<run id>-base.configure``
    extravars: JsonMap = field(default_factory=dict)  # never secrets: they go in files
    check: bool = False  # check mode with diff: change nothing, say what would change
    censor: tuple[str, ...] = ()  # secret values to cut out of every message


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """One task finished on one host; ``duration`` in seconds, ``None`` when not known."""

    host: str
    task: str
    status: Literal["ok", "changed", "failed", "unreachable", "skipped"]
    duration: float | None
    message: str = ""


@dataclass
class HostOutcome:
    """What one host did in one playbook run."""

    state: HostState = "ok"
    changed: int = 0
    tasks: list[TaskRecord] = field(default_factory=list)
    error: str | None = None
    retryable: bool = False
    key_changed: bool = False

    @property
    def succeeded(self) -> bool:
        return self.state == "ok"


@dataclass(frozen=True, slots=True)
class PlaybookOutcome:
    """The outcome of a playbook run."""

    status: str  # as ansible-runner says it: successful, failed, timeout, canceled
    rc: int
    hosts: Mapping[str, HostOutcome]
    artifacts: Path
    seconds: float
    tail: str = ""  # the last lines of output when something went wrong


class PlaybookRunner(Protocol):
    """Runs playbooks on hosts."""

    def run(self, request: PlaybookRun) -> PlaybookOutcome:
        """Run ``request``; failures of hosts are values in the outcome, not exceptions."""
        ...
