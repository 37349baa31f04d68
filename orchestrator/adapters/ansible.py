"""``AnsibleRunnerPlaybooks``: implements ``orchestrator.engine.ports.playbooks.PlaybookRunner``.

    PlaybookRunner.run(PlaybookRun) -> PlaybookOutcome
    └── AnsibleRunnerPlaybooks    ansible-runner + ansible-playbook over SSH

Tuned by default (``tuned_env``): pipelining, forks sized to the host count, a per-delivery fact
cache, SSH ControlPersist long enough for a whole phase, host keys checked against the delivery's
pins, and the SSH masters of one delivery kept apart from every other's (``control_dir``). Each
task's result is logged as it arrives (``task_finished``); artifacts are kept per run
in a 0700 folder with 0600 files, the newest ``keep_runs`` of a delivery kept.

It logs in as the site says (``SshAccess``): user, port, key file or ssh-agent, become through
sudo, jump hosts through ``ProxyJump``. OpenSSH starts each jump hop as an ``ssh -W`` of its own
that gets ``-F`` from our command line and nothing else, so the jump hosts' keys (from the site,
checked strictly, never learnt) and our identity are written for it (``jump_files``).

ansible-runner seeds its child's environment — and the ``command`` and status files it writes —
from ``os.environ``, which holds the orchestrator's own secrets (the NetBox token). The runner
is given an explicit environment instead: what ``tuned_env`` lists and what ansible-runner itself
adds, nothing inherited. Task messages are censored (``no_log`` is respected by Ansible; secret
values and key material are removed here too).

Everything a run starts carries the delivery's cookie (``children.guarded``): it stops when the
orchestrator stops, even by ``kill -9``, and a later run stops what an earlier one left.

A host that was unreachable, or whose task died with rc -13 (an SSH control connection that went
away), is marked ``retryable``; a host whose key does not match its pin is ``key_changed``.
"""

from __future__ import annotations

import difflib
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import ansible_runner
import structlog

from orchestrator.adapters.children import guarded
from orchestrator.adapters.guard import control_folder_name, owner_tag
from orchestrator.adapters.ssh_access import (
    SshAccess,
    jump_known_hosts,
    jump_ssh_config,
    proxy_jump,
)
from orchestrator.engine.ports.playbooks import (
    DIFF_MARK,
    HostOutcome,
    PlaybookOutcome,
    PlaybookRun,
    TaskEvent,
)
from orchestrator.engine.status import Status
from orchestrator.logging import REDACTED, redact_text
from orchestrator.store.private import private_dir, write_private
from orchestrator.store.records import TaskRecord

log = structlog.get_logger("orchestrator.ansible")

#: The playbooks and roles, shipped inside the package: found through it, installed or checked out.
PLAYBOOKS = Path(str(resources.files("orchestrator") / "playbooks"))
#: ansible-playbook beside the interpreter the orchestrator runs in (it need not be on PATH).
ANSIBLE_BIN = Path(sys.executable).parent
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KEY_MISMATCH = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED")
SSH_DIED = -13
MESSAGE_LIMIT = 500
#: A changed task's diff (after ``DIFF_MARK``) is cut to this length.
DIFF_LIMIT = 4000

# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnsibleSettings:
    """How Ansible reaches the hosts, and how it is tuned."""

    access: SshAccess
    playbooks: Path = PLAYBOOKS
    control_persist: int = 1800  # seconds: longer than a phase, so no task loses its connection
    max_forks: int = 50
    keep_runs: int = 20


def base_env(settings: AnsibleSettings, known_hosts: Path) -> dict[str, str]:
    """The environment every playbook gets: tools, identity, pinned keys, roles; nothing else."""
    access = settings.access
    return {
        "PATH": f"{ANSIBLE_BIN}{os.pathsep}{SYSTEM_PATH}",
        "HOME": str(Path.home()),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "ANSIBLE_REMOTE_USER": access.user,
        "ANSIBLE_REMOTE_PORT": str(access.port),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_ROLES_PATH": str(settings.playbooks / "roles"),
        "ANSIBLE_TIMEOUT": str(round(access.connect_timeout)),
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
        "ANSIBLE_SSH_ARGS": ssh_args(access, known_hosts, persist=60),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir(known_hosts)),
        **identity_env(access),
        **become_env(access),
    }


def tuned_env(settings: AnsibleSettings, request: PlaybookRun) -> dict[str, str]:
    """``base_env`` plus the tuning: pipelining, forks, fact cache, long ControlPersist."""
    forks = max(1, min(len(request.hosts), settings.max_forks))
    persistent = ssh_args(settings.access, request.known_hosts, settings.control_persist)
    return base_env(settings, request.known_hosts) | {
        "ANSIBLE_SSH_ARGS": persistent,
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_FORKS": str(forks),
        "ANSIBLE_GATHERING": "smart",
        "ANSIBLE_CACHE_PLUGIN": "jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(request.facts),
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "86400",
    }


def control_dir(known_hosts: Path) -> Path:
    """Where this process's SSH masters for a delivery listen: a folder of their own, so that no
    run reuses a connection another delivery opened (checked against that delivery's pins and
    jump hosts), named so that the guard knows them (``guard.control_folder_name``: an SSH
    master's environment cannot carry the cookie). Short, under ``~/.ansible/cp`` as Ansible's
    default is: a socket's path must fit in 108 bytes, and a state folder may be deep."""
    name = control_folder_name(str(known_hosts.parent.resolve()), owner_tag(os.getpid()))
    return Path.home() / ".ansible" / "cp" / name


def identity_env(access: SshAccess) -> dict[str, str]:
    """The key file, or the ssh-agent's socket (the only way it reaches ssh: nothing is
    inherited); neither when there is neither (the probe has refused such a site already)."""
    if access.key is not None:
        return {"ANSIBLE_PRIVATE_KEY_FILE": str(access.key)}
    return {"SSH_AUTH_SOCK": str(access.agent)} if access.agent is not None else {}


def become_env(access: SshAccess) -> dict[str, str]:
    """Every task as root through sudo, when the site says so (the user needs passwordless
    sudo; pipelining works with it unless sudoers sets ``requiretty``, which Debian does not)."""
    if not access.become:
        return {}
    return {
        "ANSIBLE_BECOME": "True",
        "ANSIBLE_BECOME_METHOD": "sudo",
        "ANSIBLE_BECOME_USER": "root",
    }


def jump_files(known_hosts: Path) -> tuple[Path, Path]:
    """Where a run's ssh_config and jump host keys are: beside the delivery's pins."""
    return known_hosts.with_name("jump_ssh_config"), known_hosts.with_name("jump_known_hosts")


def write_jump_files(access: SshAccess, known_hosts: Path) -> None:
    """Write what the jump hops' ssh reads (``jump_files``), when there are jump hosts."""
    if access.jump_hosts:
        config, keys = jump_files(known_hosts)
        write_private(keys, jump_known_hosts(access))
        write_private(config, jump_ssh_config(access, keys))


def ssh_args(access: SshAccess, known_hosts: Path, persist: int) -> str:
    """``ANSIBLE_SSH_ARGS``: persistent connections, the delivery's pins checked strictly, and
    the jump hosts (``ProxyJump``, their keys and our identity in ``jump_files``)."""
    args = ["-o", "ControlMaster=auto", "-o", f"ControlPersist={persist}s",
            "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]  # fmt: skip
    if access.key is not None:  # with the agent, ssh must be free to offer the agent's keys
        args += ["-o", "IdentitiesOnly=yes"]
    if access.jump_hosts:
        args += ["-F", str(jump_files(known_hosts)[0]), "-o", f"ProxyJump={proxy_jump(access)}"]
    args += ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes"]
    return shlex.join(args)


# --- events ------------------------------------------------------------------------------------

_OUTCOMES: dict[str, Literal["ok", "failed", "unreachable", "skipped"]] = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


def censor(text: str, secrets: Sequence[str]) -> str:
    """``text`` without the given secret values, tokens, passwords or key material."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return redact_text(text)


def task_event(event: Mapping[str, Any], secrets: Sequence[str] = ()) -> TaskEvent | None:
    """The task result an ansible-runner event stands for, if it is one."""
    outcome = _OUTCOMES.get(str(event.get("event", "")))
    if outcome is None:
        return None
    data: Mapping[str, Any] = event.get("event_data") or {}
    res: Mapping[str, Any] = data.get("res") or {}
    if outcome == "failed" and data.get("ignore_errors"):
        outcome = "ok"
    status = "changed" if outcome == "ok" and res.get("changed") else outcome
    name = str(data.get("task") or "?")
    role = data.get("role")
    message = "" if outcome in ("ok", "skipped") else _message(res, secrets)
    if status == "changed" and (diff := diff_text(res)):
        message = censor(DIFF_MARK + diff, secrets)[:DIFF_LIMIT]
    return TaskEvent(
        host=str(data.get("host", "?")),
        task=f"{role} : {name}" if role else name,
        status=status,
        duration=seconds_of(data.get("duration")),
        message=message if status != "failed" or message else "failed",
    )


def seconds_of(value: object) -> float | None:
    """An event's ``duration``: the seconds from the task's start on the host to its result
    (ansible-runner's callback leaves it empty when it missed the start)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return max(float(value), 0.0)


def diff_text(res: Mapping[str, Any]) -> str:
    """What a changed task changes, as Ansible's ``--diff`` reports it (check mode), in unified
    diff lines; ``""`` without a diff (no ``--diff``, or a ``no_log`` task)."""
    found = res.get("diff") or []
    lines: list[str] = []
    for diff in [found] if isinstance(found, Mapping) else found:
        if not isinstance(diff, Mapping):
            continue
        if diff.get("prepared"):
            lines.append(str(diff["prepared"]).strip())
            continue
        before, after = diff.get("before", ""), diff.get("after", "")
        if isinstance(before, str) and isinstance(after, str):
            headers = (
                str(diff.get("before_header", "before")),
                str(diff.get("after_header", "after")),
            )
            lines.extend(
                difflib.unified_diff(
                    before.splitlines(), after.splitlines(), *headers, lineterm="", n=0
                )
            )
        elif before != after:
            lines.append(
                f"{json.dumps(before, sort_keys=True)} -> {json.dumps(after, sort_keys=True)}"
            )
    return "\n".join(lines)


def _message(res: Mapping[str, Any], secrets: Sequence[str]) -> str:
    parts = [str(res.get("msg") or "")]
    if res.get("rc") not in (None, 0):
        parts.append(f"rc {res.get('rc')}")
    if res.get("stderr"):
        parts.append(str(res["stderr"]).strip().splitlines()[-1])
    return censor("; ".join(p for p in parts if p), secrets)[:MESSAGE_LIMIT]


def fold(event: TaskEvent, hosts: dict[str, HostOutcome], rc: object = None) -> None:
    """Fold one task result into the per-host outcomes."""
    host = hosts.setdefault(event.host, HostOutcome())
    record_status = {
        "ok": Status.SUCCEEDED, "changed": Status.SUCCEEDED, "skipped": Status.SKIPPED,
        "failed": Status.FAILED, "unreachable": Status.CRASHED,
    }[event.status]  # fmt: skip
    changed = event.status == "changed"
    host.tasks.append(TaskRecord(event.task, record_status, changed, event.message, event.duration))
    host.changed += event.status == "changed"
    if event.status == "unreachable":
        host.state = "unreachable"
        host.error = f"unreachable at task {event.task!r}: {event.message}"
        host.key_changed = any(mark in event.message for mark in KEY_MISMATCH)
        host.retryable = not host.key_changed
    elif event.status == "failed" and host.state == "ok":
        host.state = "failed"
        host.error = f"task {event.task!r} failed: {event.message}"
        host.retryable = rc == SSH_DIED


def log_task(event: TaskEvent) -> None:
    """Log one task result as it arrives (the run log goes into the run store)."""
    level = log.warning if event.status in ("failed", "unreachable") else log.info
    level(
        "task_finished", host=event.host, task=event.task, status=event.status,
        seconds=None if event.duration is None else round(event.duration, 3),
        **({"error": event.message} if event.message and event.status != "changed" else {}),
    )  # fmt: skip


# --- ansible-runner ------------------------------------------------------------------------------


class AnsibleRunnerPlaybooks:
    """Runs playbooks with ansible-runner, in an explicit environment, one artifact folder each."""

    def __init__(
        self,
        settings: AnsibleSettings,
        on_task: Callable[[TaskEvent], None] = log_task,
        env: Callable[[AnsibleSettings, PlaybookRun], dict[str, str]] = tuned_env,
    ) -> None:
        self.settings = settings
        self.on_task = on_task
        self.env = env

    def run(self, request: PlaybookRun) -> PlaybookOutcome:
        write_jump_files(self.settings.access, request.known_hosts)
        private = self._private_dir(request)
        hosts: dict[str, HostOutcome] = {}
        started = time.monotonic()
        runner = ansible_runner.Runner(
            config=self._config(request, private, guarded(request.known_hosts.parent)),
            event_handler=lambda event: self._event(event, request, hosts),
        )
        status, rc = runner.run()
        seconds = time.monotonic() - started
        make_private(private)
        rotate(request.artifacts, self.settings.keep_runs)
        for host in request.hosts:
            hosts.setdefault(host, HostOutcome("failed", error="no task ran on this host"))
        tail = "" if status == "successful" else _tail(private, request.censor)
        log.info("playbook_finished", playbook=request.playbook, status=status, rc=rc,
                 seconds=round(seconds, 2), artifacts=str(private))  # fmt: skip
        return PlaybookOutcome(str(status), int(rc), hosts, private, seconds, tail)

    def _private_dir(self, request: PlaybookRun) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        private = private_dir(private_dir(request.artifacts) / f"{stamp}-{request.label}")
        inventory = private_dir(private / "inventory") / "hosts.json"
        write_private(inventory, json.dumps(request.inventory, indent=2, default=str))
        extravars = private_dir(private / "env") / "extravars"
        write_private(extravars, json.dumps(request.extravars, default=str))
        return private

    def _config(self, request: PlaybookRun, private: Path, marks: Mapping[str, str]) -> Any:  # noqa: ANN401 - untyped vendor
        config = ansible_runner.RunnerConfig(
            private_data_dir=str(private),
            project_dir=str(self.settings.playbooks),
            playbook=request.playbook,
            inventory=str(private / "inventory" / "hosts.json"),
            limit=",".join(request.hosts),
            cmdline="--check --diff" if request.check else None,
            quiet=True,
            envvars={},
        )
        config.prepare()
        ours = self.env(self.settings, request) | dict(marks)
        config.env = scrubbed(config.env, ours, os.environ)
        return config

    def _event(
        self, event: Mapping[str, Any], request: PlaybookRun, hosts: dict[str, HostOutcome]
    ) -> bool:
        task = task_event(event, request.censor)
        if task is not None and task.host in request.hosts:
            rc = ((event.get("event_data") or {}).get("res") or {}).get("rc")
            fold(task, hosts, rc)
            self.on_task(task)
        return True  # keep the event in the artifacts


def scrubbed(
    runner_env: Mapping[str, str], ours: Mapping[str, str], inherited: Mapping[str, str]
) -> dict[str, str]:
    """ansible-runner's environment without what it copied from ``inherited``, plus ``ours``."""
    added = {
        key: value
        for key, value in runner_env.items()
        if key not in ours and inherited.get(key) != value
    }
    return added | dict(ours)


def make_private(root: Path) -> None:
    """Folders 0700 and files 0600 under ``root``."""
    root.chmod(0o700)
    for folder, folders, files in os.walk(root):
        for name in folders:
            (Path(folder) / name).chmod(0o700)
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                path.chmod(0o600)


def rotate(artifacts: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` run folders."""
    runs = sorted((p for p in artifacts.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[:-keep] if keep > 0 else runs:
        shutil.rmtree(old, ignore_errors=True)


def _tail(private: Path, secrets: Sequence[str], lines: int = 8) -> str:
    """The last lines ansible printed, censored, for a failure message."""
    outputs = sorted(private.glob("artifacts/*/stdout"))
    text = outputs[-1].read_text(errors="replace") if outputs else ""
    return censor("\n".join(text.strip().splitlines()[-lines:]), secrets)
