"""Run a playbook on lab hosts with ansible-runner and condense its events per host.

This is the lab's own smoke check (``orchestrator lab smoke``); the delivery phases get their
own playbook runner later. Ansible talks to the hosts over SSH with the lab's key and verifies
their host keys against the ones recorded when each host was created.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

from orchestrator.adapters.ansible import PLAYBOOKS, scrubbed
from orchestrator.lab.hosts import LabHost
from orchestrator.lab.paths import LabPaths

#: ansible-playbook of the environment the orchestrator runs in (it need not be on PATH).
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
SMOKE_PLAYBOOK = PLAYBOOKS / "lab_smoke.yml"

#: Ansible runner events that end a task on one host, and the outcome each stands for.
_OUTCOMES = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


@dataclass
class HostOutcome:
    """What one host did in one playbook run."""

    ok: int = 0
    changed: int = 0
    failed: list[str] = field(default_factory=list)
    tasks: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class PlaybookResult:
    """The outcome of a playbook run: runner status, return code and per-host outcomes."""

    status: str
    rc: int
    hosts: dict[str, HostOutcome]
    seconds: float
    artifacts: Path
    output_tail: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == "successful" and all(not h.failed for h in self.hosts.values())


def inventory(hosts: list[LabHost]) -> dict[str, Any]:
    """An Ansible inventory of lab hosts, reached as root at their lab addresses."""
    return {
        "all": {
            "hosts": {h.name: {"ansible_host": h.address, "ansible_user": "root"} for h in hosts},
        },
    }


def ansible_env(paths: LabPaths) -> dict[str, str]:
    """The Ansible settings for lab runs: pinned host keys, pipelining, persistent connections."""
    ssh_args = (
        "-o ControlMaster=auto -o ControlPersist=600s "
        f"-o UserKnownHostsFile={paths.known_hosts} -o StrictHostKeyChecking=yes "
        "-o IdentitiesOnly=yes"
    )
    return {
        "PATH": f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{os.defpath}",
        "HOME": str(Path.home()),
        "LANG": "C.UTF-8",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_ARGS": ssh_args,
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_PRIVATE_KEY_FILE": str(paths.ssh_key),
        "ANSIBLE_FORKS": "10",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }


def condense(event: Mapping[str, Any], hosts: dict[str, HostOutcome]) -> None:
    """Fold one ansible-runner event into the per-host outcomes."""
    outcome = _OUTCOMES.get(str(event.get("event", "")))
    if outcome is None:
        return
    data = event.get("event_data", {})
    host = hosts.setdefault(str(data.get("host", "?")), HostOutcome())
    task = str(data.get("task", "?"))
    changed = bool(data.get("res", {}).get("changed", False))
    host.tasks.append((task, "changed" if outcome == "ok" and changed else outcome))
    if outcome == "ok":
        host.ok += 1
        host.changed += changed
    elif outcome in ("failed", "unreachable"):
        host.failed.append(task)


def run_playbook(
    paths: LabPaths,
    hosts: list[LabHost],
    playbook: Path = SMOKE_PLAYBOOK,
    on_task: Callable[[str, str, str], None] = lambda _h, _t, _o: None,
) -> PlaybookResult:
    """Run ``playbook`` on ``hosts`` and return per-host outcomes; artifacts stay under the lab."""
    outcomes: dict[str, HostOutcome] = {h.name: HostOutcome() for h in hosts}
    private = paths.state / "runs" / f"{playbook.stem}-{time.strftime('%Y%m%dT%H%M%S')}"
    private.mkdir(parents=True, exist_ok=True, mode=0o700)

    def handler(event: dict[str, Any]) -> bool:
        before = {name: len(h.tasks) for name, h in outcomes.items()}
        condense(event, outcomes)
        for name, h in outcomes.items():
            if len(h.tasks) > before.get(name, 0):
                on_task(name, *h.tasks[-1])
        return True

    started = time.monotonic()
    inventory_file = private / "inventory.json"
    inventory_file.write_text(json.dumps(inventory(hosts)))
    config = ansible_runner.RunnerConfig(
        private_data_dir=str(private),
        playbook=str(playbook),
        inventory=str(inventory_file),
        quiet=True,
        envvars={},
    )
    config.prepare()
    # ansible-runner seeds the child (and its artifacts) from os.environ: give it only ours.
    config.env = scrubbed(config.env, ansible_env(paths), os.environ)
    runner = ansible_runner.Runner(config, event_handler=handler)
    runner.run()
    return PlaybookResult(
        status=str(runner.status),
        rc=int(runner.rc),
        hosts=outcomes,
        seconds=time.monotonic() - started,
        artifacts=private,
        output_tail="" if runner.status == "successful" else _tail(runner.stdout.read()),
    )


def _tail(output: str, lines: int = 5) -> str:
    """The last lines ansible printed, for a failure message."""
    return "\n".join(output.strip().splitlines()[-lines:])
