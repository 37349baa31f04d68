"""``TestinfraChecks``: implements ``orchestrator.engine.ports.platform_checks.PlatformChecks``.

    PlatformChecks.run(ChecksRun) -> tuple[CheckResult, ...]
    └── TestinfraChecks    pytest-testinfra's Ansible backend -> its ssh backend, per host

Hosts are reached exactly as the playbooks reach them (``AnsibleRunnerPlaybooks``): the
delivery's inventory, the site's user, port, key or ssh-agent, sudo, jump hosts (``ProxyJump``
with their keys from the site) and the delivery's pinned host keys with
``StrictHostKeyChecking=yes`` — a key is never accepted on trust. The Ansible adapter gives these
settings to Ansible through its environment; testinfra reads them from the inventory instead, so
they go there as the host variables testinfra's Ansible backend turns into ``ssh`` options
(``ansible_user``, ``ansible_port``, ``ansible_become``, ``ansible_ssh_private_key_file``,
``ansible_ssh_common_args``), in a 0600 file in a private temporary folder removed afterwards.

testinfra's ``ansible://`` host runs ``ansible-inventory`` from ``PATH`` with the inherited
environment and reads ``ansible.cfg`` from the working directory; an ``ANSIBLE_SSH_COMMON_ARGS``
in the environment would even replace the pinned keys. So this adapter runs the
``ansible-inventory`` beside its interpreter itself, in a scrubbed environment, and hands the
answer to the same function testinfra's Ansible backend uses (``get_ansible_host``), with no
``ansible.cfg``; the ssh backend that comes out is checked to carry our options before any
command goes to the host (else every check of the host fails, ``refused: ...``).

Hosts run in parallel (threads), the checks of one host one after the other over one SSH
connection (``ControlMaster``). A host that cannot be reached (ssh exits 255: refused, timed
out, host key not the pinned one) fails its remaining checks with ``unreachable: ...``; a probe
that breaks fails its check with ``could not check: ...``. Nothing is raised. Every finding is
censored: no value of ``request.censor`` or ``request.secrets`` appears in a result.

testinfra starts ``ssh`` with this process's environment and takes none of its own, so while
checks run the environment carries the orchestrator's mark (``children.inherited(owned())``):
a killed orchestrator's guard stops those ``ssh`` processes and their masters too.
"""

from __future__ import annotations

import configparser
import json
import shlex
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from testinfra.utils.ansible_runner import get_ansible_host

from orchestrator.adapters.ansible import (
    ANSIBLE_BIN,
    SYSTEM_PATH,
    censor,
    ssh_args,
    write_jump_files,
)
from orchestrator.adapters.children import inherited, owned
from orchestrator.adapters.ssh_access import SshAccess
from orchestrator.adapters.testinfra_probes import PROBES, SSH_FAILED
from orchestrator.engine.ports.platform_checks import Check, CheckResult, ChecksRun
from orchestrator.store.private import private_dir, write_private
from orchestrator.store.records import Json

log = structlog.get_logger("orchestrator.checks")
INVENTORY_TIMEOUT = 120.0
#: Seconds an idle SSH master connection stays after the host's last check.
PERSIST = 5


#: ``ansible-inventory --list``'s answer, or why there is none.
type Listed = Mapping[str, Any] | str


class HostDown(Exception):
    """ssh could not reach the host (exit status 255); the message is ssh's."""


class NotAsPinned(Exception):
    """The ssh backend testinfra made would not reach the host as the playbooks do."""


@dataclass(frozen=True, slots=True)
class Connection:
    """What every host's ssh must be given: the inventory variables, and the options they must
    turn into (checked before use)."""

    variables: dict[str, Json]
    common_args: str


def connection(access: SshAccess, known_hosts: Path, control: Path) -> Connection:
    """The inventory variables that make testinfra's ssh reach hosts as the playbooks do."""
    args = [*shlex.split(ssh_args(access, known_hosts, PERSIST)),
            "-o", f"ControlPath={control}/%C", "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={round(access.connect_timeout)}"]  # fmt: skip
    common = shlex.join(args)
    variables: dict[str, Json] = {
        "ansible_user": access.user,
        "ansible_port": access.port,
        "ansible_become": access.become,
        "ansible_ssh_common_args": common,
    }
    if access.become:
        variables["ansible_become_user"] = "root"
    if access.key is not None:
        variables["ansible_ssh_private_key_file"] = str(access.key)
    return Connection(variables, common)


def with_connection(inventory: Mapping[str, Json], conn: Connection) -> dict[str, Json]:
    """The delivery's inventory with the connection variables for every host (``all``'s vars)."""
    everything = inventory.get("all")
    group = dict(everything) if isinstance(everything, Mapping) else {}
    variables = group.get("vars")
    group["vars"] = {**(variables if isinstance(variables, Mapping) else {}), **conn.variables}
    return {**inventory, "all": group}


def checked_backend(host: Any, access: SshAccess, conn: Connection) -> Any:  # noqa: ANN401 - untyped vendor
    """``host`` if its ssh backend carries our options (user, port, key, sudo, pins); else
    ``NotAsPinned`` (something in the environment overrode the inventory)."""
    backend = host.backend
    wanted = {
        "ssh options": conn.common_args,
        "user": access.user,
        "port": str(access.port),
        "key": str(access.key) if access.key else None,
        "sudo": access.become,
    }
    got = {
        "ssh options": backend.ssh_extra_args,
        "user": backend.host.user,
        "port": str(backend.host.port),
        "key": backend.ssh_identity_file,
        "sudo": backend.sudo,
    }
    wrong = [name for name, value in wanted.items() if got[name] != value]
    if wrong:
        raise NotAsPinned(f"the environment overrides the {', '.join(wrong)} (ANSIBLE_* variables)")
    return host


def ssh_failure(exc: BaseException) -> str | None:
    """ssh's message when ``exc`` is testinfra's ``RuntimeError`` for an ssh exit status 255."""
    result = exc.args[0] if isinstance(exc, RuntimeError) and exc.args else None
    if getattr(result, "rc", None) != SSH_FAILED:
        return None
    lines = str(getattr(result, "stderr", "") or "").strip().splitlines()
    return lines[-1] if lines else "ssh failed (exit status 255)"


def inventory_env() -> dict[str, str]:
    """``ansible-inventory``'s environment: tools and locale, nothing inherited but the mark that
    stops it with this process."""
    tools = {"PATH": f"{ANSIBLE_BIN}:{SYSTEM_PATH}", "HOME": str(Path.home()), "LANG": "C.UTF-8",
             "LC_ALL": "C.UTF-8", "ANSIBLE_NOCOLOR": "True", "ANSIBLE_VERBOSITY": "0"}  # fmt: skip
    return tools | owned()


def failed(checks: Sequence[Check], why: str) -> list[CheckResult]:
    return [CheckResult(check, passed=False, found=why) for check in checks]


class TestinfraChecks:
    """Carries out checks on hosts with pytest-testinfra, reaching them as the playbooks do."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, access: SshAccess, workers: int = 16) -> None:
        self.access = access
        self.workers = workers

    def run(self, request: ChecksRun) -> tuple[CheckResult, ...]:
        if not request.checks:
            return ()
        by_host: dict[str, list[Check]] = {}
        for check in request.checks:
            by_host.setdefault(check.host, []).append(check)
        with self._inventory(request) as (listed, conn), inherited(owned()):
            results = self._hosts(listed, conn, by_host, request)
        secrets = (*request.censor, *request.secrets.values())
        done = {(r.check.host, r.check.name): r for r in results}
        return tuple(_censored(done[(c.host, c.name)], secrets) for c in request.checks)

    @contextmanager
    def _inventory(
        self, request: ChecksRun
    ) -> Iterator[tuple[Mapping[str, Any] | str, Connection]]:
        """The inventory as ``ansible-inventory --list`` reads it (or why it could not), from a
        0600 file in a private folder that is removed afterwards."""
        write_jump_files(self.access, request.known_hosts)
        with tempfile.TemporaryDirectory(prefix="orchestrator-checks-") as folder:
            root = private_dir(Path(folder))
            conn = connection(self.access, request.known_hosts, root)
            path = root / "inventory.json"
            write_private(path, json.dumps(with_connection(request.inventory, conn), indent=2))
            yield _listed(path), conn

    def _hosts(
        self,
        listed: Listed,
        conn: Connection,
        by_host: Mapping[str, list[Check]],
        request: ChecksRun,
    ) -> list[CheckResult]:
        if isinstance(listed, str):
            return [r for checks in by_host.values() for r in failed(checks, listed)]
        workers = max(1, min(self.workers, len(by_host)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="checks") as pool:
            futures = [pool.submit(self._host, listed, conn, name, checks, request.secrets)
                       for name, checks in by_host.items()]  # fmt: skip
            return [r for future in futures for r in future.result()]

    def _host(
        self,
        listed: Mapping[str, Any],
        conn: Connection,
        name: str,
        checks: list[Check],
        secrets: Mapping[str, str],
    ) -> list[CheckResult]:
        """One host's checks, one after the other; the rest fail once it cannot be reached."""
        if name not in (listed.get("_meta") or {}).get("hostvars", {}):
            return failed(checks, f"unreachable: {name} is not in the delivery's inventory")
        try:
            host = checked_backend(
                get_ansible_host(configparser.ConfigParser(), listed, name), self.access, conn
            )
        except NotAsPinned as exc:
            return failed(checks, f"refused: {exc}")
        results: list[CheckResult] = []
        for n, check in enumerate(checks):
            try:
                results.append(_one(host, check, secrets))
            except HostDown as exc:
                log.warning("host_unreachable", host=name, error=str(exc))
                return results + failed(checks[n:], f"unreachable: {exc}")
        passed = sum(r.passed for r in results)
        log.info("host_checked", host=name, checks=len(results), passed=passed)
        return results


def _listed(path: Path) -> Listed:
    """``ansible-inventory --list`` of the file (the hosts' variables merged), or why not."""
    try:
        done = subprocess.run(
            [str(ANSIBLE_BIN / "ansible-inventory"), "--list", "-i", str(path)],
            capture_output=True, text=True, env=inventory_env(), timeout=INVENTORY_TIMEOUT,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not check: ansible-inventory failed: {exc}"
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return f"could not check: ansible-inventory failed: {tail[0]}"
    listed: dict[str, Any] = json.loads(done.stdout)
    return listed


def _one(host: Any, check: Check, secrets: Mapping[str, str]) -> CheckResult:  # noqa: ANN401 - untyped vendor
    """One check on one host; ``HostDown`` when ssh could not reach it."""
    probe = PROBES.get(check.kind)
    if probe is None:
        return CheckResult(check, passed=False, found=f"could not check: no probe for {check.kind}")
    try:
        finding = probe(host, check, secrets)
    except Exception as exc:
        down = ssh_failure(exc)
        if down is not None:
            raise HostDown(down) from exc
        return CheckResult(check, passed=False, found=f"could not check: {_why(exc)}")
    return CheckResult(check, finding.passed, finding.found)


def _why(exc: Exception) -> str:
    """An exception as a finding: its type and first line, never a command's output."""
    result = exc.args[0] if exc.args else None
    if hasattr(result, "rc"):  # testinfra's errors carry the whole command result
        return f"{type(exc).__name__}: a command exited with status {getattr(result, 'rc', '?')}"
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _censored(result: CheckResult, secrets: Sequence[str]) -> CheckResult:
    found = censor(result.found, secrets)
    return result if found == result.found else CheckResult(result.check, result.passed, found)
