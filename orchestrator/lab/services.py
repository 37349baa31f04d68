"""PostgreSQL and Redis for the lab: check that they answer, start them, install them if absent.

Both are this machine's own services, reached on loopback only: PostgreSQL through its unix socket
as ``postgres`` (trust authentication), Redis on ``127.0.0.1:6379``. The lab starts them when they
are installed but stopped, installs them from Debian packages when they are absent, and raises
``PreflightError`` when neither helps.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.lab.errors import CommandFailed, PreflightError
from orchestrator.lab.proc import run
from orchestrator.lab.progress import Progress

POSTGRES_SOCKET_DIR = Path("/var/run/postgresql")
POSTGRES_USER = "postgres"
POSTGRES_CONFIG_DIR = Path("/etc/postgresql")
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
REDIS_DIR = Path("/var/lib/redis")
REDIS_LOG = Path("/var/log/redis/ci.log")
START_DEADLINE = 30.0


def psql_argv(database: str = "postgres") -> list[str]:
    """``psql`` talking to the local PostgreSQL as its superuser, quiet and unaligned."""
    return [
        "psql", "-h", str(POSTGRES_SOCKET_DIR), "-U", POSTGRES_USER, "-d", database,
        "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
    ]  # fmt: skip


def postgres_answers() -> bool:
    if shutil.which("psql") is None:
        return False
    return run([*psql_argv(), "-c", "SELECT 1"], check=False, timeout=10).returncode == 0


def redis_answers() -> bool:
    return redis_command(b"PING\r\n", replies=1) == [b"+PONG"]


def redis_command(command: bytes, *, replies: int) -> list[bytes]:
    """Send inline Redis commands and read ``replies`` one-line replies; ``[]`` if Redis is down."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2) as conn:
            conn.sendall(command)
            return _read_lines(conn, replies)
    except OSError:
        return []


def _read_lines(conn: socket.socket, count: int) -> list[bytes]:
    data = b""
    while data.count(b"\r\n") < count:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n")[:count]


def flush_redis_databases(*numbers: int) -> None:
    """Empty the given Redis databases (the lab's own; never database 0)."""
    command = b"".join(b"SELECT %d\r\nFLUSHDB\r\n" % number for number in numbers)
    redis_command(command, replies=2 * len(numbers))


def ensure_postgres(progress: Progress) -> None:
    """Make the local PostgreSQL answer: start it, or install it first if it is absent."""
    if postgres_answers():
        return
    if not POSTGRES_CONFIG_DIR.is_dir() or shutil.which("pg_ctlcluster") is None:
        progress("installing PostgreSQL from Debian packages")
        apt_install("postgresql")
    version = postgres_version()
    progress(f"starting PostgreSQL {version}")
    _start(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"])
    _wait_for(
        postgres_answers,
        f"PostgreSQL {version} does not answer on {POSTGRES_SOCKET_DIR}",
        f"see /var/log/postgresql/postgresql-{version}-main.log",
    )


def postgres_version() -> str:
    """The newest PostgreSQL version with a ``main`` cluster configured under /etc/postgresql."""
    versions = [
        path.parent.name
        for path in POSTGRES_CONFIG_DIR.glob("*/main")
        if path.parent.name.isdigit()
    ]
    if not versions:
        raise PreflightError(
            f"no PostgreSQL cluster is configured under {POSTGRES_CONFIG_DIR}",
            "create one with `pg_createcluster <version> main`",
        )
    return max(versions, key=int)


def ensure_redis(progress: Progress) -> None:
    """Make Redis answer on 127.0.0.1:6379: start it, or install it first if it is absent."""
    if redis_answers():
        return
    if shutil.which("redis-server") is None:
        progress("installing Redis from Debian packages")
        apt_install("redis-server")
    progress("starting Redis")
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    REDIS_LOG.parent.mkdir(parents=True, exist_ok=True)
    _start([
        "redis-server", "--daemonize", "yes", "--bind", f"{REDIS_HOST} -::1",
        "--port", str(REDIS_PORT), "--save", "", "--appendonly", "no",
        "--dir", str(REDIS_DIR), "--logfile", str(REDIS_LOG),
    ])  # fmt: skip
    _wait_for(
        redis_answers,
        f"Redis does not answer on {REDIS_HOST}:{REDIS_PORT}",
        f"see {REDIS_LOG}",
    )


POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


@contextmanager
def no_service_starts() -> Iterator[None]:
    """Keep package scripts from starting services (the lab starts what it needs, its own way)."""
    if POLICY_RC_D.exists():  # the machine already has a policy: leave it alone
        yield
        return
    POLICY_RC_D.write_text("#!/bin/sh\n# the orchestrator lab, during apt-get install\nexit 101\n")
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC_D.unlink(missing_ok=True)


def apt_install(*packages: str) -> None:
    """Install Debian packages without starting their services; refresh the lists if needed."""
    if os.geteuid() != 0:
        raise PreflightError(
            f"{' and '.join(packages)} must be installed and only root can install them",
            f"run `apt-get install -y {' '.join(packages)}` as root, or run the lab as root",
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    argv = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    try:
        with no_service_starts():
            if run(argv, check=False, env=env, timeout=900).returncode == 0:
                return
            run(["apt-get", "update"], env=env, timeout=600)
            run(argv, env=env, timeout=900)
    except CommandFailed as exc:
        raise PreflightError(
            f"could not install {' '.join(packages)}: {exc.message}",
            "check that the Debian package mirror is reachable",
        ) from exc


def _start(argv: list[str]) -> None:
    try:
        run(argv, timeout=60)
    except CommandFailed as exc:
        raise PreflightError(exc.message, f"start it by hand: `{' '.join(argv)}`") from exc


def _wait_for(answers: Callable[[], bool], message: str, hint: str) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while not answers():
        if time.monotonic() > deadline:
            raise PreflightError(message, hint)
        time.sleep(0.5)
