"""NetBox for the lab: installed from PyPI, configured, migrated, served on loopback, seeded.

``NetBoxLab.up()`` repairs whatever it finds (nothing, a half-built venv, a dropped database, a
killed server, a lost token) and returns once the API answers with the lab's token.

    <cache>/netbox/venv-4.7.3/        NetBox's own venv; ``.complete`` is written last
    <cache>/netbox/db-4.7.3.dump      the freshly migrated database (pg_dump -Fc), without users
    <state>/netbox/                   NETBOX_ROOT: conf/configuration.py and lab-secrets.json (0600)
    <state>/netbox.pid                the gunicorn master
    <state>/netbox.env                NETBOX_URL, NETBOX_TOKEN, NETBOX_VERSION (0600)
    <state>/logs/netbox*.log          server, install and migration output

The token and the secret key never reach argv, a log or a progress message: child processes get
them through their environment.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pynetbox
import requests

from orchestrator.adapters.netbox import timed_session
from orchestrator.adapters.netbox_bootstrap import Outcome, bootstrap
from orchestrator.adapters.netbox_rest import NetBoxApi
from orchestrator.engine.errors import OrchestratorError
from orchestrator.lab.addressing import PLATFORM_PARENT
from orchestrator.lab.errors import CommandFailed, CommandTimedOut, LabError, PreflightError
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.proc import run
from orchestrator.lab.processes import start_detached
from orchestrator.lab.progress import Progress
from orchestrator.lab.services import (
    POSTGRES_SOCKET_DIR,
    POSTGRES_USER,
    ensure_postgres,
    ensure_redis,
    flush_redis_databases,
    psql_argv,
)

NETBOX_VERSION = "4.7.3"
DATABASE = "orchestrator_lab"
ADMIN_USER = "admin"
REDIS_TASKS_DB = 6
REDIS_CACHING_DB = 7
HOST = "127.0.0.1"
DEFAULT_PORT = 8801
GUNICORN_WORKERS = 2
HEALTH_DEADLINE = 60.0
STOP_DEADLINE = 20.0
REQUEST_TIMEOUT = 10.0

TOKEN_PREFIX = "nbt_"  # noqa: S105 - the public prefix of v2 tokens, not a secret
TOKEN_KEY_LENGTH = 12
TOKEN_SECRET_LENGTH = 40
_TOKEN_ALPHABET = string.ascii_letters + string.digits

MANAGED_BEGIN = "# --- orchestrator lab: settings below are rewritten by `orchestrator lab up` ---"
MANAGED_END = "# --- end of the orchestrator lab settings ---"

SITE = "lab"
VLAN_GROUP = "lab-vlans"
VLAN_RANGE = (100, 3999)
CLUSTER_TYPE = "lab"
CLUSTER = "lab-cluster"
PLATFORM_PARENT_NOTE = "Customer platforms: the orchestrator takes their prefixes from here"


@dataclass(frozen=True)
class NetBoxInfo:
    """Where the lab's NetBox answers and the token to use; ``repr`` leaves the token out."""

    url: str
    token: str = field(repr=False)
    version: str


@dataclass(frozen=True)
class ApiToken:
    """A NetBox v2 API token: clients send ``Authorization: Bearer nbt_<key>.<secret>``."""

    key: str
    secret: str = field(repr=False)

    @classmethod
    def generate(cls) -> ApiToken:
        return cls(key=_random(TOKEN_KEY_LENGTH), secret=_random(TOKEN_SECRET_LENGTH))

    @classmethod
    def parse(cls, value: str) -> ApiToken | None:
        """The token in ``nbt_<key>.<secret>``, or ``None`` if ``value`` is not one."""
        key, dot, secret = value.removeprefix(TOKEN_PREFIX).partition(".")
        shaped = value.startswith(TOKEN_PREFIX) and dot == "." and (key + secret).isalnum()
        sized = len(key) == TOKEN_KEY_LENGTH and len(secret) == TOKEN_SECRET_LENGTH
        return cls(key=key, secret=secret) if shaped and sized else None

    @property
    def value(self) -> str:
        return f"{TOKEN_PREFIX}{self.key}.{self.secret}"


@dataclass(frozen=True)
class LabSecrets:
    """NetBox's ``SECRET_KEY`` and the pepper its v2 tokens are hashed with."""

    secret_key: str = field(repr=False)
    pepper: str = field(repr=False)


def _random(length: int) -> str:
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(length))


# --- cache and state layout -------------------------------------------------------------------


def venv_dir(cache: Path, version: str = NETBOX_VERSION) -> Path:
    return cache / "netbox" / f"venv-{version}"


def dump_path(cache: Path, version: str = NETBOX_VERSION) -> Path:
    return cache / "netbox" / f"db-{version}.dump"


def netbox_root(paths: LabPaths) -> Path:
    return paths.state / "netbox"


def pid_file(paths: LabPaths) -> Path:
    return paths.state / "netbox.pid"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by the owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(fd, 0o600)
        handle.write(text)
    tmp.replace(path)


@contextmanager
def _cache_lock(cache: Path) -> Iterator[None]:
    """Serialise the slow builds (venv, database) between checkouts sharing one cache."""
    lock = cache / "netbox" / ".lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# --- configuration ----------------------------------------------------------------------------


def render_settings(lab_secrets: LabSecrets, *, database: str = DATABASE) -> str:
    """The block of ``configuration.py`` the lab owns, as Python source."""
    redis = {"HOST": "127.0.0.1", "PORT": 6379, "USERNAME": "", "PASSWORD": "", "SSL": False}
    settings: dict[str, object] = {
        "ALLOWED_HOSTS": [HOST, "localhost"],
        "DATABASES": {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": database,
                "USER": POSTGRES_USER,
                "PASSWORD": "",
                "HOST": str(POSTGRES_SOCKET_DIR),
                "PORT": "",
                "CONN_MAX_AGE": 300,
            },
        },
        "REDIS": {
            "tasks": {**redis, "DATABASE": REDIS_TASKS_DB},
            "caching": {**redis, "DATABASE": REDIS_CACHING_DB},
        },
        "SECRET_KEY": lab_secrets.secret_key,
        "API_TOKEN_PEPPERS": {1: lab_secrets.pepper},
        "CENSUS_REPORTING_ENABLED": False,
        "RELEASE_CHECK_URL": None,
    }
    lines = [f"{name} = {value!r}" for name, value in settings.items()]
    return "\n".join([MANAGED_BEGIN, *lines, MANAGED_END]) + "\n"


def merge_settings(config: str, block: str) -> str:
    """``config`` with the lab's block replaced, or appended (later assignments win in Python)."""
    begin = config.find(MANAGED_BEGIN)
    if begin < 0:
        return config.rstrip("\n") + "\n\n" + block
    end = config.find(MANAGED_END, begin)
    tail = config[end + len(MANAGED_END) :].lstrip("\n") if end >= 0 else ""
    return config[:begin] + block + tail


def parse_secrets(text: str) -> LabSecrets | None:
    try:
        data = json.loads(text)
        found = LabSecrets(secret_key=str(data["secret_key"]), pepper=str(data["pepper"]))
    except (ValueError, KeyError, TypeError):
        return None
    return found if len(found.secret_key) >= 50 and len(found.pepper) >= 50 else None


def format_secrets(lab_secrets: LabSecrets) -> str:
    return json.dumps({"secret_key": lab_secrets.secret_key, "pepper": lab_secrets.pepper}) + "\n"


# --- the env file -----------------------------------------------------------------------------


def format_env(info: NetBoxInfo) -> str:
    return f"NETBOX_URL={info.url}\nNETBOX_TOKEN={info.token}\nNETBOX_VERSION={info.version}\n"


def parse_env(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines; blank lines and ``#`` comments are skipped."""
    pairs = (line.strip().partition("=") for line in text.splitlines())
    return {key: value for key, eq, value in pairs if eq and key and not key.startswith("#")}


def write_netbox_env(paths: LabPaths, info: NetBoxInfo) -> None:
    write_private(paths.netbox_env, format_env(info))


def read_netbox_env(paths: LabPaths) -> NetBoxInfo:
    """The lab NetBox's URL and token, from ``.lab/netbox.env``."""
    path = paths.netbox_env
    try:
        values = parse_env(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabError(
            f"{path} is missing: the lab NetBox has not been set up here",
            "run `orchestrator lab up`",
        ) from None
    if not values.get("NETBOX_URL") or not values.get("NETBOX_TOKEN"):
        raise LabError(
            f"{path} lacks NETBOX_URL or NETBOX_TOKEN",
            "run `orchestrator lab up` to write it again",
        )
    return NetBoxInfo(
        url=values["NETBOX_URL"],
        token=values["NETBOX_TOKEN"],
        version=values.get("NETBOX_VERSION", NETBOX_VERSION),
    )


# --- talking to NetBox ------------------------------------------------------------------------


def netbox_api(info: NetBoxInfo, *, timeout: float = REQUEST_TIMEOUT) -> Any:  # noqa: ANN401 - pynetbox is untyped
    """A pynetbox client for the lab NetBox whose requests time out."""
    api = pynetbox.api(info.url, token=info.token)
    api.http_session = timed_session(timeout)
    return api


def probe(url: str, token: str, *, timeout: float = 5.0) -> requests.Response | None:
    """``GET /api/status/`` with ``token``; ``None`` if nothing answers."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        with timed_session(timeout) as session:
            return session.get(f"{url}/api/status/", headers=headers)
    except requests.RequestException:
        return None


def _answers_ok(info: NetBoxInfo) -> bool:
    response = probe(info.url, info.token)
    return response is not None and response.status_code == requests.codes.ok


def _version_of(response: requests.Response) -> str:
    try:
        return str(response.json()["netbox-version"])
    except (ValueError, KeyError, TypeError):
        return NETBOX_VERSION


# --- child processes --------------------------------------------------------------------------


def find_python() -> str:
    """A Python >= 3.12 to build NetBox's venv with: ``python3.12`` on PATH, else this one."""
    for candidate in (shutil.which("python3.12"), sys.executable):
        if candidate and _is_python_312(candidate):
            return candidate
    raise PreflightError(
        "no Python 3.12 found to install NetBox with",
        "install python3.12, or run the orchestrator from a Python 3.12 environment",
    )


def _is_python_312(executable: str) -> bool:
    check = "import sys; sys.exit(sys.version_info < (3, 12))"
    try:
        return run([executable, "-c", check], check=False, timeout=30).returncode == 0
    except (OSError, CommandTimedOut):
        return False


def stream(
    argv: list[str], *, env: dict[str, str], log: Path, timeout: float, on_line: Progress
) -> int:
    """Run ``argv``, appending its output to ``log`` and handing each line to ``on_line``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with (
        log.open("a", encoding="utf-8") as out,
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        ) as proc,
    ):
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            for line in proc.stdout or ():
                out.write(line)
                on_line(line.rstrip())
        finally:
            watchdog.cancel()
        return proc.wait()


class NetBoxVenv:
    """NetBox's virtual environment in the shared cache, and the ``netbox`` command in it."""

    def __init__(self, paths: LabPaths, progress: Progress) -> None:
        self.path = venv_dir(paths.cache)
        self._paths = paths
        self._progress = progress

    @property
    def _complete(self) -> Path:
        return self.path / ".complete"

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)

    def ensure(self) -> None:
        if self._complete.exists():
            return
        with _cache_lock(self._paths.cache):
            if not self._complete.exists():
                self._build()

    def _build(self) -> None:
        python = find_python()
        log = self._paths.logs / "netbox-install.log"
        self._progress(f"installing NetBox {NETBOX_VERSION} from PyPI (about a minute)")
        shutil.rmtree(self.path, ignore_errors=True)
        run([python, "-m", "venv", str(self.path)], timeout=300)
        argv = [self.bin("pip"), "install", "--no-input", f"netbox=={NETBOX_VERSION}"]
        code = stream(argv, env=dict(os.environ), log=log, timeout=1800, on_line=lambda _l: None)
        if code != 0:
            raise LabError(
                f"`pip install netbox=={NETBOX_VERSION}` failed with exit code {code}",
                f"see {log}",
            )
        self._complete.write_text(NETBOX_VERSION + "\n", encoding="utf-8")

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "NETBOX_ROOT": str(netbox_root(self._paths)), **extra}

    def netbox(
        self, *args: str, check: bool = True, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run(
            [self.bin("netbox"), *args], check=check, env=self.env(**(extra_env or {})), timeout=600
        )


# --- the database -----------------------------------------------------------------------------


class LabDatabase:
    """The lab's NetBox database in the local PostgreSQL."""

    def __init__(self, venv: NetBoxVenv, paths: LabPaths, progress: Progress) -> None:
        self._venv = venv
        self._paths = paths
        self._progress = progress
        self._client = ["-h", str(POSTGRES_SOCKET_DIR), "-U", POSTGRES_USER]

    def exists(self) -> bool:
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"  # noqa: S608 - a constant
        try:
            done = run([*psql_argv(), "-c", query], check=False, timeout=30)
        except OSError:
            return False
        return done.stdout.strip() == "1"

    def migrated(self) -> bool:
        """Whether every migration of the installed NetBox is applied."""
        return self._venv.netbox("migrate", "--check", check=False).returncode == 0

    def restore(self, dump: Path) -> None:
        self._recreate()
        argv = ["pg_restore", *self._client, "--no-owner", "--exit-on-error", "-j", "2"]
        try:
            run([*argv, "-d", DATABASE, str(dump)], timeout=600)
        except CommandFailed as exc:
            raise LabError(
                f"restoring {dump} failed: {exc.message}",
                f"delete {dump} and run `orchestrator lab up` to migrate afresh",
            ) from exc

    def migrate(self) -> None:
        self._recreate()
        log = self._paths.logs / "netbox-migrate.log"
        code = stream(
            [self._venv.bin("netbox"), "migrate", "--no-input"],
            env=self._venv.env(),
            log=log,
            timeout=3600,
            on_line=self._report_migration,
        )
        if code != 0:
            raise LabError(f"`netbox migrate` failed with exit code {code}", f"see {log}")

    def _report_migration(self, line: str) -> None:
        if line.lstrip().startswith("Applying"):
            self._progress(f"migrate: {line.strip()}")

    def dump(self, target: Path) -> None:
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        run(["pg_dump", *self._client, "-Fc", "-f", str(tmp), DATABASE], timeout=600)
        tmp.replace(target)

    def _recreate(self) -> None:
        run(["dropdb", *self._client, "--if-exists", "--force", DATABASE], timeout=120)
        run(["createdb", *self._client, DATABASE], timeout=120)


# --- the server -------------------------------------------------------------------------------


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is a dead child of ours, so it does not linger as a zombie."""
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def is_netbox_gunicorn(pid: int) -> bool:
    """Whether ``pid`` is alive and is a gunicorn serving ``netbox.wsgi``."""
    _reap(pid)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"gunicorn" in cmdline and b"netbox.wsgi" in cmdline


def _process_group(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[2])


def _group_members(pgid: int) -> list[int]:
    """The NetBox gunicorn processes in process group ``pgid`` (the master and its workers)."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return [pid for pid in pids if _process_group(pid) == pgid and is_netbox_gunicorn(pid)]


def _signal_all(pids: list[int], signum: signal.Signals) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signum)


def _port_taken(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


class GunicornServer:
    """NetBox served by gunicorn on loopback, started detached, tracked by a pidfile."""

    def __init__(self, venv: NetBoxVenv, paths: LabPaths, port: int) -> None:
        self._venv = venv
        self._paths = paths
        self._port = port
        self.log = paths.logs / "netbox.log"

    def _recorded_pid(self) -> int | None:
        try:
            return int(pid_file(self._paths).read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None

    def pid(self) -> int | None:
        """The master's pid if the pidfile names a live NetBox gunicorn."""
        pid = self._recorded_pid()
        return pid if pid is not None and is_netbox_gunicorn(pid) else None

    def exited(self, pid: int) -> bool:
        """Whether ``pid`` (started by ``start``) has exited; reaps it if it was our child."""
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return not Path(f"/proc/{pid}").exists()
        return done == pid

    def stop(self) -> None:
        """Stop the master and any workers it left behind; forget the pidfile."""
        pid = self._recorded_pid()
        if pid is not None:
            self._terminate(_group_members(pid))
        pid_file(self._paths).unlink(missing_ok=True)

    def _terminate(self, pids: list[int]) -> None:
        _signal_all(pids, signal.SIGTERM)
        deadline = time.monotonic() + STOP_DEADLINE
        while (left := [pid for pid in pids if is_netbox_gunicorn(pid)]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.2)
        _signal_all(left, signal.SIGKILL)

    def start(self) -> int:
        self.stop()
        self._wait_port_free()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a", encoding="utf-8") as out:
            out.write(f"--- orchestrator lab: starting NetBox at {time.strftime('%F %T')} ---\n")
        return start_detached(self._argv(), self.log, pid_file(self._paths), self._venv.env())

    def _argv(self) -> list[str]:
        return [
            self._venv.bin("gunicorn"),
            "--bind", f"{HOST}:{self._port}",
            "--workers", str(GUNICORN_WORKERS),
            "--threads", "3",
            "--timeout", "120",
            "--chdir", str(netbox_root(self._paths)),
            "--no-control-socket",
            "netbox.wsgi",
        ]  # fmt: skip

    def _wait_port_free(self) -> None:
        deadline = time.monotonic() + 5
        while _port_taken(self._port):
            if time.monotonic() > deadline:
                raise LabError(
                    f"{HOST}:{self._port} is already taken by another program",
                    "stop that program, or give the lab NetBox another port",
                )
            time.sleep(0.2)


# --- users and tokens -------------------------------------------------------------------------

#: Run by ``netbox shell -c``; the token arrives through the environment, never argv.
_ENSURE_ADMIN_SCRIPT = """
import os
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from users.models import Token, User

executor = MigrationExecutor(connection)
if executor.migration_plan(executor.loader.graph.leaf_nodes()):
    print('not_migrated')
    raise SystemExit(0)
env = os.environ
user = User.objects.filter(username=env['LAB_ADMIN']).first()
if user is None:
    user = User.objects.create_superuser(env['LAB_ADMIN'])
elif not (user.is_superuser and user.is_active):
    user.is_superuser = user.is_active = True
    user.save()
key, secret, description = env['LAB_TOKEN_KEY'], env['LAB_TOKEN_SECRET'], env['LAB_TOKEN_NOTE']
Token.objects.filter(user=user, description=description).exclude(key=key).delete()
token = Token.objects.filter(key=key).first()
usable = token is not None and token.user_id == user.pk and token.is_active
if usable and token.write_enabled and not token.allowed_ips and token.validate(secret):
    print('token_kept')
else:
    Token.objects.filter(key=key).delete()
    Token(user=user, key=key, token=secret, write_enabled=True, description=description).save()
    print('token_created')
"""


def token_note(paths: LabPaths) -> str:
    """The description of this checkout's token, so a new one can replace it and no other."""
    digest = hashlib.sha256(str(paths.state).encode()).hexdigest()[:12]
    return f"orchestrator lab {digest}"


# --- seeding ----------------------------------------------------------------------------------


def seed(api: Any, netbox: NetBoxApi) -> None:  # noqa: ANN401 - pynetbox is untyped
    """The objects every lab run relies on; creates what is missing, corrects what drifted.

    The lab's own site, VLAN group, parent prefix and cluster through ``api``; the custom fields
    the orchestrator needs in any NetBox through ``bootstrap``, as `orchestrator netbox bootstrap`
    makes them elsewhere (it adds what lacks and never removes anything).
    """
    site = _ensure(api.dcim.sites, {"slug": SITE}, {"name": SITE, "status": "active"})
    on_site = {"scope_type": "dcim.site", "scope_id": site.id}
    _ensure(
        api.ipam.vlan_groups,
        {"slug": VLAN_GROUP},
        {"name": VLAN_GROUP, **on_site, "vid_ranges": [list(VLAN_RANGE)]},
    )
    _ensure(
        api.ipam.prefixes,
        {"prefix": str(PLATFORM_PARENT)},
        {"status": "container", "description": PLATFORM_PARENT_NOTE},
    )
    cluster_type = _ensure(
        api.virtualization.cluster_types, {"slug": CLUSTER_TYPE}, {"name": CLUSTER_TYPE}
    )
    _ensure(
        api.virtualization.clusters,
        {"name": CLUSTER},
        {"type": cluster_type.id, "status": "active", **on_site},
    )
    blocked = [str(action) for action in bootstrap(netbox, apply=True)
               if action.outcome is Outcome.BLOCKED]  # fmt: skip
    if blocked:
        raise LabError(
            f"the lab NetBox has a custom field the orchestrator cannot use: {blocked[0]}",
            "remove that field in the lab NetBox, then run `orchestrator lab up` again",
        )


def _ensure(endpoint: Any, lookup: dict[str, object], fields: dict[str, object]) -> Any:  # noqa: ANN401 - pynetbox is untyped
    record = endpoint.get(**lookup)
    if record is None:
        return endpoint.create({**lookup, **fields})
    record.update(fields)
    return record


# --- the lab NetBox ---------------------------------------------------------------------------


class NetBoxLab:
    """The lab's NetBox: ``up`` makes it healthy, ``down`` stops it, ``status`` describes it."""

    def __init__(
        self,
        paths: LabPaths,
        *,
        port: int = DEFAULT_PORT,
        progress: Progress = lambda _m: None,
    ) -> None:
        self._paths = paths
        self._progress = progress
        self.url = f"http://{HOST}:{port}"
        self._venv = NetBoxVenv(paths, progress)
        self._db = LabDatabase(self._venv, paths, progress)
        self._server = GunicornServer(self._venv, paths, port)

    def up(self) -> NetBoxInfo:
        """Install, configure, migrate, serve and seed NetBox as needed; return once healthy."""
        ensure_postgres(self._progress)
        ensure_redis(self._progress)
        self._venv.ensure()
        config_changed = self._ensure_config()
        known = self._known_info()
        if known and not config_changed and self._server.pid() and _answers_ok(known):
            self._seed(known)
            return known
        return self._repair(config_changed=config_changed)

    def down(self) -> None:
        """Stop the server; the database, the venv and the dump stay."""
        self._server.stop()

    def status(self) -> dict[str, object]:
        pid = self._server.pid()
        known = self._known_info()
        response = probe(self.url, known.token) if pid and known else None
        healthy = response is not None and response.status_code == requests.codes.ok
        return {
            "running": pid is not None,
            "url": self.url,
            "version": _version_of(response) if response and healthy else NETBOX_VERSION,
            "pid": pid,
            "healthy": healthy,
            "database": {"name": DATABASE, "exists": self._db.exists()},
        }

    def _repair(self, *, config_changed: bool) -> NetBoxInfo:
        if config_changed:
            self._server.stop()
        token = self._previous_token() or ApiToken.generate()
        if not (self._db.exists() and self._ensure_admin(token)):
            self._rebuild_database()
            if not self._ensure_admin(token):
                raise LabError(
                    "the NetBox database still lacks migrations after it was rebuilt",
                    f"see {self._paths.logs / 'netbox-migrate.log'}",
                )
        info = NetBoxInfo(url=self.url, token=token.value, version=NETBOX_VERSION)
        pid = self._server.pid()
        if pid is None or not _answers_ok(info):
            self._progress(f"starting NetBox on {self.url}")
            pid = self._server.start()
        info = replace(info, version=self._wait_healthy(info, pid))
        write_netbox_env(self._paths, info)
        self._seed(info)
        return info

    def _known_info(self) -> NetBoxInfo | None:
        try:
            known = read_netbox_env(self._paths)
        except LabError:
            return None
        return known if known.url == self.url else None

    def _ensure_config(self) -> bool:
        """Write the lab's settings into configuration.py; whether anything changed."""
        root = netbox_root(self._paths)
        config = root / "conf" / "configuration.py"
        if not config.exists():
            self._venv.netbox("setup", "--target", str(root))
        current = config.read_text(encoding="utf-8")
        wanted = merge_settings(current, render_settings(self._lab_secrets(root)))
        if wanted == current and config.stat().st_mode & 0o077 == 0:
            return False
        write_private(config, wanted)
        return True

    def _lab_secrets(self, root: Path) -> LabSecrets:
        path = root / "lab-secrets.json"
        found = parse_secrets(path.read_text(encoding="utf-8")) if path.exists() else None
        if found is None:
            secret_key = self._venv.netbox("secret-key").stdout.strip()
            found = LabSecrets(secret_key=secret_key, pepper=secrets.token_urlsafe(48))
            write_private(path, format_secrets(found))
        return found

    def _rebuild_database(self) -> None:
        """Restore the cached dump into a new database, or migrate one and cache its dump."""
        with _cache_lock(self._paths.cache):
            if self._db.exists() and self._db.migrated():
                return
            self._server.stop()
            dump = dump_path(self._paths.cache)
            if dump.exists():
                self._progress("restoring the NetBox database from the cached dump")
                self._db.restore(dump)
            else:
                self._progress("migrating a new NetBox database (about 5 minutes, once a version)")
                self._db.migrate()
                self._db.dump(dump)
            flush_redis_databases(REDIS_TASKS_DB, REDIS_CACHING_DB)

    def _ensure_admin(self, token: ApiToken) -> bool:
        """Make NetBox know the admin and ``token``; ``False`` if the database lacks migrations."""
        child_env = {
            "LAB_ADMIN": ADMIN_USER,
            "LAB_TOKEN_KEY": token.key,
            "LAB_TOKEN_SECRET": token.secret,
            "LAB_TOKEN_NOTE": token_note(self._paths),
        }
        done = self._venv.netbox("shell", "-c", _ENSURE_ADMIN_SCRIPT, extra_env=child_env)
        outcome = done.stdout.strip().rpartition("\n")[2]
        if outcome == "token_created":
            self._progress("created the lab API token")
        return outcome != "not_migrated"

    def _previous_token(self) -> ApiToken | None:
        try:
            return ApiToken.parse(read_netbox_env(self._paths).token)
        except LabError:
            return None

    def _wait_healthy(self, info: NetBoxInfo, pid: int) -> str:
        """Wait for ``GET /api/status/`` to answer 200; NetBox's version."""
        deadline = time.monotonic() + HEALTH_DEADLINE
        while True:
            response = probe(info.url, info.token)
            if response is not None and response.status_code == requests.codes.ok:
                return _version_of(response)
            if self._server.exited(pid):
                raise LabError("NetBox exited while starting", f"see {self._server.log}")
            if time.monotonic() > deadline:
                answer = response.status_code if response is not None else "none"
                raise LabError(
                    f"NetBox did not become healthy on {info.url} in {HEALTH_DEADLINE:.0f} s "
                    f"(last answer: {answer})",
                    f"see {self._server.log}",
                )
            time.sleep(0.5)

    def _seed(self, info: NetBoxInfo) -> None:
        api = netbox_api(info)
        try:
            seed(api, NetBoxApi(info.url, info.token, api.http_session))
        except (pynetbox.RequestError, requests.RequestException, OrchestratorError) as exc:
            raise LabError(
                f"seeding the lab NetBox failed: {exc}",
                f"see {self._server.log}",
            ) from exc
        finally:
            api.http_session.close()
