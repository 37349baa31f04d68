"""``ScriptedPlaybooks``: the ``PlaybookRunner`` port, each host's outcome from a script."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from orchestrator.engine.ports.playbooks import HostOutcome, PlaybookOutcome, PlaybookRun
from orchestrator.engine.status import Status
from orchestrator.store.private import private_dir
from orchestrator.store.records import TaskRecord

type HostScript = Callable[[PlaybookRun, str], HostOutcome]

#: How long each scripted task takes, in seconds, unless its script says otherwise.
TASK_SECONDS = 1.25


def all_ok(request: PlaybookRun, host: str) -> HostOutcome:  # noqa: ARG001 - a HostScript
    """A host on which every task of the playbook succeeded, one of them changing something;
    each task took ``TASK_SECONDS``."""
    task = TaskRecord("configure", Status.SUCCEEDED, changed=True, duration=TASK_SECONDS)
    return HostOutcome(changed=1, tasks=[task])


class ScriptedPlaybooks:
    """The ``PlaybookRunner`` port: each host's outcome comes from ``script`` (or ``scripts``
    per host, consumed in order); every request is remembered. Each run gets a folder of its own
    in the request's artifact folder, as with ansible-runner (left empty)."""

    def __init__(
        self, script: HostScript = all_ok, scripts: Mapping[str, Sequence[HostScript]] | None = None
    ) -> None:
        self.script = script
        self.scripts = {host: list(s) for host, s in (scripts or {}).items()}
        self.requests: list[PlaybookRun] = []

    def run(self, request: PlaybookRun) -> PlaybookOutcome:
        self.requests.append(request)
        hosts = {host: self._next(host)(request, host) for host in request.hosts}
        status = "successful" if all(h.succeeded for h in hosts.values()) else "failed"
        folder = private_dir(
            private_dir(request.artifacts) / f"{len(self.requests)}-{request.label}"
        )
        return PlaybookOutcome(status, 0 if status == "successful" else 2, hosts, folder, 0.0)

    def _next(self, host: str) -> HostScript:
        queued = self.scripts.get(host)
        return queued.pop(0) if queued else self.script
