"""What each kind of check does on a host, through a testinfra ``Host`` (its ssh backend).

    PROBES[kind](host, check, secrets) -> Finding

Each probe runs read-only commands (``dpkg-query``, ``systemctl``, ``ss``, ``nft -j``, ``psql``,
the host's restic wrapper) and reads their output with ``orchestrator.adapters.host_findings``.
Commands of our own run under ``timeout`` on the host, and an exit status of 255 (ssh's own) is
never passed on from them, so ``TestinfraChecks`` can tell "ssh failed" from "the check failed".

No secret goes to a host: the database check reads the role's SCRAM verifier (as the
``postgres`` user) and compares it with the delivery's password here; the verifier itself goes
nowhere. The backup restore runs in a temporary folder on the host that is removed afterwards.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.adapters.host_findings import (
    Finding,
    chain_policy,
    has_key,
    hba_covers,
    listeners,
    nft_items,
    scram_matches,
    ssh_sources,
    sudo_allowed,
    within,
)
from orchestrator.engine.ports.platform_checks import Check

type Host = Any  # a testinfra.host.Host: the vendor ships no types
type Probe = Callable[[Host, Check, Mapping[str, str]], Finding]

COMMAND_TIMEOUT = 120  # seconds a command of ours may take on the host (a restore, say)
SSH_FAILED = 255
ENABLED = frozenset({"enabled", "enabled-runtime"})
#: Requests to the VIP per expected page: round robin shows each backend within two rounds.
ROUNDS = 3


class Output:
    """What a command of ours printed, and its exit status."""

    def __init__(self, rc: int, stdout: str, stderr: str) -> None:
        self.rc, self.stdout, self.stderr = rc, stdout, stderr

    def why(self) -> str:
        """The last line of its error output (or of its output), for a finding."""
        lines = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return lines[-1] if lines else f"exit status {self.rc}"


def guarded(argv: list[str], timeout: int = COMMAND_TIMEOUT) -> str:
    """``argv`` as a shell command that gives up after ``timeout`` seconds and never exits with
    255 (which the ssh backend takes for a failed connection)."""
    script = 'timeout "$0" "$@"; r=$?; [ "$r" -ne 255 ] || r=254; exit "$r"'
    return shlex.join(["sh", "-c", script, str(timeout), *argv])


def run(host: Host, argv: list[str], timeout: int = COMMAND_TIMEOUT) -> Output:
    """Run ``argv`` on ``host`` (as root when the site uses sudo); its output, whatever its
    exit status."""
    result = host.run(guarded(argv, timeout))
    return Output(int(result.rc), str(result.stdout), str(result.stderr))


def _str(check: Check, name: str) -> str:
    return str(check.params[name])


# --- packages, services, ports ------------------------------------------------------------------


def package(host: Host, check: Check, _secrets: Mapping[str, str]) -> Finding:
    found = host.package(_str(check, "name"))
    if not found.is_installed:
        return Finding(passed=False, found="not installed")
    return Finding(passed=True, found=f"installed ({found.version})")


def service(host: Host, check: Check, _secrets: Mapping[str, str]) -> Finding:
    name = _str(check, "name")
    active = run(host, ["systemctl", "is-active", name]).stdout.strip() or "unknown"
    enabled = run(host, ["systemctl", "is-enabled", name]).stdout.strip() or "not found"
    running = "running" if active == "active" else f"not running ({active})"
    return Finding(active == "active" and enabled in ENABLED, f"{running}, {enabled}")


def port(host: Host, check: Check, _secrets: Mapping[str, str]) -> Finding:
    address = check.params.get("address")
    number = int(str(check.params["port"]))
    sockets = host.socket.get_listening_sockets()
    found = listeners(sockets, _str(check, "protocol"), number, str(address) if address else None)
    if found:
        return Finding(passed=True, found=f"listening on {', '.join(found)}")
    return Finding(passed=False, found=f"nothing listens on {_str(check, 'protocol')}/{number}")


# --- firewall -----------------------------------------------------------------------------------


def _input_chain(host: Host) -> list[Mapping[str, Any]] | Finding:
    listed = run(host, ["nft", "-j", "list", "chain", "inet", "filter", "input"])
    if listed.rc != 0:
        return Finding(passed=False, found=f"no input chain loaded: {listed.why()}")
    return nft_items(listed.stdout)


def firewall_policy(host: Host, _check: Check, _secrets: Mapping[str, str]) -> Finding:
    items = _input_chain(host)
    if isinstance(items, Finding):
        return items
    policy = chain_policy(items)
    return Finding(policy == "drop", f"input chain policy {policy}")


def firewall_ssh(host: Host, check: Check, _secrets: Mapping[str, str]) -> Finding:
    items = _input_chain(host)
    if isinstance(items, Finding):
        return items
    allowed = [str(n) for n in check.params.get("networks") or []]  # type: ignore[union-attr]
    sources = ssh_sources(items)
    stray = [str(s) for s in sources if not within(s, allowed)]
    found = ", ".join(str(s) for s in sources) or "nowhere"
    if stray:
        return Finding(passed=False, found=f"ssh accepted from {found} (not allowed: "
                                           f"{', '.join(stray)})")  # fmt: skip
    return Finding(bool(sources) == bool(allowed), f"ssh accepted from {found}")


# --- users --------------------------------------------------------------------------------------


def user(host: Host, check: Check, _secrets: Mapping[str, str]) -> Finding:
    found = host.user(_str(check, "name"))
    if not found.exists:
        return Finding(passed=False, found="no such user")
    return Finding(passed=True, found=f"exists (uid {found.uid}, home {found.home})")


def user_key(host: Host, check: Check, _secrets: Mapping[str, str]) -> Finding:
    name = _str(check, "user")
    passwd = run(host, ["getent", "passwd", name])
    if passwd.rc != 0:
        return Finding(passed=False, found="no such user")
    path = f"{passwd.stdout.strip().split(':')[5]}/.ssh/authorized_keys"
    keys = run(host, ["cat", path])
    if keys.rc != 0:
        return Finding(passed=False, found=f"no {path}")
    if has_key(keys.stdout, _str(check, "key")):
        return Finding(passed=True, found=f"in {path}")
    return Finding(passed=False, found=f"not in {path}")


def user_sudo(host: Host, check: Check, _secrets: Mapping[str, str]) -> Finding:
    listed = run(host, ["sudo", "-n", "-l", "-U", _str(check, "user")])
    allowed = sudo_allowed(listed.stdout + listed.stderr)
    if allowed is None:
        allowed = False if listed.rc == 127 else None  # no sudo on the host: nobody uses it
    if allowed is None:
        return Finding(passed=False, found=f"sudo -l said: {listed.why()}")
    found = "may use sudo" if allowed else "may not use sudo"
    return Finding(allowed == bool(check.params["sudo"]), found)


# --- tuning -------------------------------------------------------------------------------------


def _setting(text: str, name: str) -> str | None:
    """The last value ``name`` is given in a sysctl.d file's text."""
    value = None
    for line in text.splitlines():
        key, sep, rest = line.partition("=")
        if sep and key.strip() == name and not line.lstrip().startswith(("#", ";")):
            value = rest.strip()
    return value


def sysctl(host: Host, check: Check, _secrets: Mapping[str, str]) -> Finding:
    name, wanted = _str(check, "name"), " ".join(_str(check, "value").split())
    if check.params.get("live"):
        live = run(host, ["sysctl", "-n", name])
        if live.rc != 0:
            return Finding(passed=False, found=f"unreadable: {live.why()}")
        found = " ".join(live.stdout.split())
        return Finding(found == wanted, f"{found} (live)")
    path = _str(check, "file")
    text = run(host, ["cat", path])
    value = _setting(text.stdout, name) if text.rc == 0 else None
    if value is None:
        return Finding(passed=False, found=f"not set in {path}")
    found = " ".join(value.split())
    return Finding(found == wanted, f"{found} in {path}")


def limit(host: Host, check: Check, _secrets: Mapping[str, str]) -> Finding:
    path, wanted = _str(check, "file"), " ".join(_str(check, "line").split())
    text = run(host, ["cat", path])
    if text.rc != 0:
        return Finding(passed=False, found=f"no {path}")
    lines = {" ".join(line.split()) for line in text.stdout.splitlines()}
    return Finding(passed=True, found=f"in {path}") if wanted in lines else Finding(
        passed=False, found=f"not in {path}")  # fmt: skip


# --- load balancer ------------------------------------------------------------------------------

#: Run on the balancer host: ask VIP:PORT ``n`` times; the pages seen (or whether it connects).
VIP_SCRIPT = """
import json, socket, sys, urllib.request
vip, port, n, pages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
host = f"[{vip}]" if ":" in vip else vip
seen, errors = set(), []
for _ in range(n):
    try:
        if not pages:
            socket.create_connection((vip, port), timeout=3).close()
            seen.add("connected")
            break
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=3) as answer:
            seen.add(answer.read(4096).decode(errors="replace").strip())
        if set(pages) <= seen:
            break
    except OSError as exc:
        errors.append(str(exc))
print(json.dumps({"seen": sorted(seen), "errors": errors[-1:]}))
"""


def vip(host: Host, check: Check, _secrets: Mapping[str, str]) -> Finding:
    pages = [str(p) for p in check.params.get("pages") or []]  # type: ignore[union-attr]
    tries = str(max(ROUNDS * len(pages), ROUNDS))
    argv = ["python3", "-c", VIP_SCRIPT, _str(check, "vip"), _str(check, "port"), tries,
            json.dumps(pages)]  # fmt: skip
    answer = run(host, argv)
    if answer.rc != 0:
        return Finding(passed=False, found=f"could not ask the VIP: {answer.why()}")
    data = json.loads(answer.stdout)
    seen, errors = [str(s) for s in data["seen"]], [str(e) for e in data["errors"]]
    if not pages:
        return Finding(bool(seen), "accepts connections" if seen else f"refused: {errors}")
    missing = [p for p in pages if p not in seen]
    found = f"pages seen: {'; '.join(seen) or 'none'}"
    if missing:
        found += f"; never seen: {'; '.join(missing)}" + (f" ({errors[0]})" if errors else "")
    return Finding(not missing, found)


# --- database -----------------------------------------------------------------------------------


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def database_query(database: str, user: str) -> str:
    """One JSON object: whether ``user`` may log in, its password verifier, whether it may
    connect to ``database``, and the pg_hba rules PostgreSQL reads."""
    db, role = _literal(database), _literal(user)
    return (
        "select json_build_object("  # noqa: S608 - both names are quoted as SQL literals
        f"'login', (select rolcanlogin from pg_roles where rolname = {role}), "
        f"'verifier', (select rolpassword from pg_authid where rolname = {role}), "
        f"'connect', (select has_database_privilege(r.oid, d.oid, 'CONNECT') from pg_roles r, "
        f"pg_database d where r.rolname = {role} and d.datname = {db}), "
        "'hba', (select coalesce(json_agg(json_build_object('type', type, 'database', database, "
        "'user', user_name, 'address', address, 'netmask', netmask, 'method', auth_method)), "
        "'[]') from pg_hba_file_rules where error is null))"
    )


def database(host: Host, check: Check, secrets: Mapping[str, str]) -> Finding:
    password = secrets.get(_str(check, "secret"))
    if password is None:
        return Finding(passed=False, found=f"the delivery has no {_str(check, 'secret')} to "
                                           "compare with (has phase 3 run?)")  # fmt: skip
    db, role = _str(check, "database"), _str(check, "user")
    argv = ["runuser", "-u", "postgres", "--", "psql", "-XAtq", "-d", "postgres",
            "-c", database_query(db, role)]  # fmt: skip
    answer = run(host, argv)
    if answer.rc != 0:
        return Finding(passed=False, found=f"PostgreSQL did not answer: {answer.why()}")
    facts = json.loads(answer.stdout)
    networks = [str(n) for n in check.params.get("networks") or []]  # type: ignore[union-attr]
    return _judged(facts, password, db, role, networks)


def _judged(
    facts: Mapping[str, Any], password: str, database: str, user: str, networks: list[str]
) -> Finding:
    """The database facts against what was sold; the verifier is used, never shown."""
    if facts.get("login") is None:
        return Finding(passed=False, found=f"no role {user}")
    problems = [] if facts["login"] else ["may not log in"]
    if not scram_matches(str(facts.get("verifier") or ""), password):
        problems.append("its password is not the delivery's")
    if not facts.get("connect"):
        problems.append(f"may not connect to {database}")
    rules = facts.get("hba") or []
    problems += [
        f"no pg_hba rule for {n}" for n in networks if not hba_covers(rules, database, user, n)
    ]
    if problems:
        return Finding(passed=False, found="; ".join(problems))
    return Finding(passed=True, found=f"{user} logs in to {database} with the delivery's "
                                      f"password from {', '.join(networks)}")  # fmt: skip


# --- backups ------------------------------------------------------------------------------------


def backup_snapshot(host: Host, check: Check, _secrets: Mapping[str, str]) -> Finding:
    argv = [_str(check, "command"), "snapshots", "--json", "--tag", _str(check, "tag")]
    listed = run(host, argv)
    if listed.rc != 0:
        return Finding(passed=False, found=f"restic could not list the snapshots: {listed.why()}")
    snapshots = json.loads(listed.stdout or "[]") or []
    if not snapshots:
        return Finding(passed=False, found="no snapshot")
    latest = max(str(s.get("time", "")) for s in snapshots)[:19]
    return Finding(passed=True, found=f"{len(snapshots)} snapshots, the latest of {latest}")


#: Run on the host: restore the sample from the latest snapshot into a temporary folder (removed
#: whatever happens), then the sha256 of the original and of the restored copy.
RESTORE_SCRIPT = """set -eu
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
"$0" restore latest --tag "$1" --target "$target" --include "$2" >/dev/null
sha256sum "$2" "$target$2"
"""


def backup_restore(host: Host, check: Check, _secrets: Mapping[str, str]) -> Finding:
    sample = _str(check, "sample")
    argv = ["sh", "-c", RESTORE_SCRIPT, _str(check, "command"), _str(check, "tag"), sample]
    restored = run(host, argv)
    if restored.rc != 0:
        return Finding(passed=False, found=f"restore failed: {restored.why()}")
    sums = [line.split()[0] for line in restored.stdout.splitlines() if line.strip()]
    if len(sums) != 2:
        return Finding(passed=False, found=f"restore gave no copy of {sample}")
    if sums[0] != sums[1]:
        return Finding(passed=False, found=f"sha256 {sums[1][:16]}... of the restored copy, "
                                           f"{sums[0][:16]}... of the original")  # fmt: skip
    return Finding(passed=True, found=f"restored with the same sha256 ({sums[0][:16]}...)")


PROBES: dict[str, Probe] = {
    "package": package,
    "service": service,
    "port": port,
    "firewall_policy": firewall_policy,
    "firewall_ssh": firewall_ssh,
    "user": user,
    "user_key": user_key,
    "user_sudo": user_sudo,
    "sysctl": sysctl,
    "limit": limit,
    "vip": vip,
    "database": database,
    "backup_snapshot": backup_snapshot,
    "backup_restore": backup_restore,
}
