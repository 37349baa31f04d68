"""``OpenSshDataMigration``: implements ``orchestrator.engine.ports.migration.DataMigration``.

    DataMigration
    └── OpenSshDataMigration    ssh, rsync (checksums, deletes), the PostgreSQL client tools and
                                the MySQL/MariaDB ones (mysqldump, mysql)

It logs in as the site says (``SshAccess``): user, key file or ssh-agent, jump hosts through
``ProxyJump`` (their keys from the site, in the files Ansible uses too), ``sudo`` when the site
becomes root. Every host key is checked strictly against the delivery's pins
(``UserKnownHostsFile``, ``StrictHostKeyChecking=yes``); nothing is learnt here — a source is
pinned first by the phase, through the reachability probe.

Commands run with an explicit environment (no inherited secret reaches them), their arguments
hold no secret (PostgreSQL is reached as the ``postgres`` user over its local socket, MariaDB
as root over its unix socket: no password), and what they print is censored before it goes into
a message. Pure helpers (``itemised``, ``CATALOGUE_SQL``, ``hashes_sql``) are here too, and the
MySQL ones in ``orchestrator.adapters.mysql_tables``, unit-tested without hosts.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import structlog

from orchestrator.adapters import mysql_tables
from orchestrator.adapters.ansible import SYSTEM_PATH, jump_files, write_jump_files
from orchestrator.adapters.children import guarded
from orchestrator.adapters.ssh_access import SshAccess, proxy_jump
from orchestrator.engine.errors import Refused, Unreachable
from orchestrator.engine.ports.migration import DatabaseEngine, Difference, Endpoint, TableHash
from orchestrator.logging import redact_text

log = structlog.get_logger("orchestrator.migration")

SSH_FAILED = 255
RSYNC_VANISHED = 24  # some source files vanished while they were copied (a live pre-sync)
KEY_MISMATCH = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED")
MESSAGE_LIMIT = 600
RSYNC = ("rsync", "--archive", "--checksum", "--delete", "--numeric-ids", "--itemize-changes")
#: mysqldump of one database: consistent without locking (InnoDB), with its routines and
#: triggers, binary columns in hex (the dump stays text), no tablespaces (needs PROCESS).
MYSQLDUMP = ("mysqldump", "--single-transaction", "--routines", "--triggers", "--hex-blob",
             "--no-tablespaces", "--default-character-set=utf8mb4")  # fmt: skip

# --- pure helpers ------------------------------------------------------------------------------


def itemised(output: str) -> tuple[Difference, ...]:
    """The paths in rsync's ``--itemize-changes`` output (``>f.st...... a/b``, ``*deleting
    a/c``), in the order rsync gave them."""
    found = []
    for line in output.splitlines():
        change, _, path = line.partition(" ")
        path = path.lstrip(" ")
        if path and (change == "*deleting" or len(change) == 11):
            found.append(Difference(path, change))
    return tuple(found)


def quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier, in double quotes (doubled inside)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a PostgreSQL string literal (standard conforming strings)."""
    return "'" + text.replace("'", "''") + "'"


#: Every ordinary or partitioned table outside the system schemas, with its primary key's columns
#: in key order (empty: no primary key), one JSON object a line.
CATALOGUE_SQL = """\
SELECT json_build_object(
  'schema', n.nspname, 'table', c.relname,
  'key', coalesce((
    SELECT json_agg(a.attname ORDER BY k.ord)
    FROM pg_index i
    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
    WHERE i.indrelid = c.oid AND i.indisprimary), '[]'::json))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY n.nspname, c.relname;
"""


@dataclass(frozen=True, slots=True)
class Table:
    """A table and the columns of its primary key (none: rows are ordered by their text)."""

    schema: str
    name: str
    key: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``schema.table``, as messages and results name it."""
        return f"{self.schema}.{self.name}"


def tables_of(output: str) -> list[Table]:
    """The tables ``CATALOGUE_SQL`` printed."""
    rows = [json.loads(line) for line in output.splitlines() if line.strip()]
    return [Table(str(r["schema"]), str(r["table"]), tuple(str(k) for k in r["key"])) for r in rows]


def hash_sql(table: Table) -> str:
    """The query of one table's row count and content hash: ``md5`` of its rows as text, joined
    by newlines in primary key order (by the whole row's text without a key)."""
    order = ", ".join(f"t.{quote_ident(column)}" for column in table.key) or "t::text"
    relation = f"{quote_ident(table.schema)}.{quote_ident(table.name)}"
    label = quote_literal(table.label)
    rows = f"md5(coalesce(string_agg(t::text, E'\\n' ORDER BY {order}), ''))"
    select = f"SELECT json_build_object('table', {label}, 'rows', count(*), 'md5', {rows})"
    return f"{select} FROM {relation} AS t"


def hashes_sql(tables: Sequence[Table]) -> str:
    """One query with a line per table (``hash_sql``); empty for no tables."""
    if not tables:
        return ""
    return "\nUNION ALL\n".join(hash_sql(table) for table in tables) + ";\n"


def hashes_of(output: str) -> dict[str, TableHash]:
    """The hashes ``hashes_sql`` printed, by ``schema.table``."""
    rows = [json.loads(line) for line in output.splitlines() if line.strip()]
    return {str(r["table"]): TableHash(int(r["rows"]), str(r["md5"])) for r in rows}


# --- the adapter -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenSshDataMigration:
    """Moves and compares data over OpenSSH the way ``access`` logs in."""

    access: SshAccess
    timeout: float = 6 * 3600.0  # a large pre-sync may take hours

    def pull_files(
        self, source: Endpoint, path: str, mirror: Path, *, dry_run: bool = False
    ) -> tuple[Difference, ...]:
        mirror.mkdir(parents=True, exist_ok=True)
        argv = self._rsync(source, dry_run=dry_run)
        argv += [f"{self._login(source)}:{_folder(path)}", _folder(str(mirror))]
        return itemised(self._rsync_run(argv, source, allowed=(0, RSYNC_VANISHED)))

    def push_files(
        self, mirror: Path, target: Endpoint, path: str, *, dry_run: bool = False
    ) -> tuple[Difference, ...]:
        if not mirror.is_dir():
            raise Refused(f"no copy of the files for {target.name} at {mirror}: sync them first")
        argv = [*self._rsync(target, dry_run=dry_run), "--mkpath", _folder(str(mirror))]
        argv.append(f"{self._login(target)}:{_folder(path)}")
        return itemised(self._rsync_run(argv, target, allowed=(0,)))

    def dump_database(
        self, source: Endpoint, database: str, dump: Path, engine: DatabaseEngine = "postgresql"
    ) -> int:
        if engine == "mysql":
            remote, what = [*self._root(), *MYSQLDUMP, database], "mysqldump"
        else:
            remote = [*self._as("postgres"), "pg_dump", "--format=custom", f"--dbname={database}"]
            what = "pg_dump"
        partial = dump.with_name(dump.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as written:
            done = self._ssh_run(source, remote, stdout=written)
        self._check(done, source, f"{what} of {database}")
        partial.replace(dump)
        return dump.stat().st_size

    def restore_database(
        self,
        dump: Path,
        target: Endpoint,
        database: str,
        role: str,
        engine: DatabaseEngine = "postgresql",
    ) -> None:
        if engine == "mysql":
            remote = [*self._root(), "mysql", "--batch", "--default-character-set=utf8mb4",
                      f"--database={database}"]  # fmt: skip
        else:
            remote = [*self._as("postgres"), "pg_restore", f"--dbname={database}", "--clean",
                      "--if-exists", "--no-owner", "--no-privileges", f"--role={role}",
                      "--single-transaction", "--exit-on-error"]  # fmt: skip
        with dump.open("rb") as given:
            done = self._ssh_run(target, remote, stdin=given)
        self._check(done, target, f"{'mysql' if engine == 'mysql' else 'pg_restore'} into "
                    f"{database}")  # fmt: skip

    def table_hashes(
        self, host: Endpoint, database: str, engine: DatabaseEngine = "postgresql"
    ) -> dict[str, TableHash]:
        if engine == "mysql":
            found = mysql_tables.tables_of(self._mysql(host, database, mysql_tables.CATALOGUE_SQL))
            query = mysql_tables.hashes_sql(found)
            return mysql_tables.hashes_of(self._mysql(host, database, query)) if query else {}
        tables = tables_of(self._psql(host, database, CATALOGUE_SQL))
        query = hashes_sql(tables)
        return hashes_of(self._psql(host, database, query)) if query else {}

    def run(self, host: Endpoint, command: str) -> int:
        done = self._ssh_run(host, [*self._root(), "sh", "-s"], data=command.encode())
        self._reached(done, host)
        if done.returncode != 0:
            log.info("command_failed", host=host.name, rc=done.returncode,
                     error=self._tail(done))  # fmt: skip
        return done.returncode

    # ssh

    def ssh_argv(self, host: Endpoint) -> list[str]:
        """``ssh`` with the options that reach ``host`` (without the login and command)."""
        args = ["ssh", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={host.known_hosts}",
                "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "UpdateHostKeys=no",
                "-o", f"ConnectTimeout={round(self.access.connect_timeout)}",
                "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
                "-p", str(host.port or self.access.port)]  # fmt: skip
        if self.access.key is not None:
            args += ["-i", str(self.access.key), "-o", "IdentitiesOnly=yes"]
        if self.access.jump_hosts:
            write_jump_files(self.access, host.known_hosts)
            config = jump_files(host.known_hosts)[0]
            args += ["-F", str(config), "-o", f"ProxyJump={proxy_jump(self.access)}"]
        return args

    def _login(self, host: Endpoint) -> str:
        return f"{self.access.user}@{host.address}"

    def _root(self) -> list[str]:
        return ["sudo", "-n"] if self.access.become else []

    def _as(self, user: str) -> list[str]:
        """Run as ``user``: through sudo when the site becomes root, else (as root) runuser."""
        if self.access.become:
            return ["sudo", "-n", "-u", user]
        return ["runuser", "-u", user, "--"]

    def _env(self, host: Endpoint) -> dict[str, str]:
        """What ssh and rsync get: tools, locale, the agent, and the delivery's cookie (they stop
        with the orchestrator, ``children.guarded``); nothing inherited."""
        env = {
            "PATH": SYSTEM_PATH,
            "HOME": str(Path.home()),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }
        if self.access.key is None and self.access.agent is not None:
            env["SSH_AUTH_SOCK"] = str(self.access.agent)
        return env | guarded(host.known_hosts.parent)

    def _ssh_run(
        self,
        host: Endpoint,
        remote: Sequence[str],
        *,
        data: bytes | None = None,
        stdin: IO[bytes] | None = None,
        stdout: IO[bytes] | int = subprocess.PIPE,
    ) -> subprocess.CompletedProcess[bytes]:
        """``remote`` on ``host``; its input is ``data`` or read from ``stdin`` (one of them)."""
        argv = [*self.ssh_argv(host), self._login(host), shlex.join(remote)]
        try:
            return subprocess.run(
                argv, input=data, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                env=self._env(host), timeout=self.timeout, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise Unreachable(f"{host.name} ({host.address}) did not finish in time") from exc

    def _psql(self, host: Endpoint, database: str, sql: str) -> str:
        remote = [*self._as("postgres"), "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                  f"--dbname={database}", "-f", "-"]  # fmt: skip
        done = self._ssh_run(host, remote, data=sql.encode())
        self._check(done, host, f"psql on {database}")
        return done.stdout.decode(errors="replace")

    def _mysql(self, host: Endpoint, database: str, sql: str) -> str:
        """``sql`` run by root's ``mysql`` over the server's unix socket: one line a row."""
        remote = [*self._root(), "mysql", "--batch", "--raw", "--skip-column-names",
                  "--default-character-set=utf8mb4", f"--database={database}"]  # fmt: skip
        done = self._ssh_run(host, remote, data=sql.encode())
        self._check(done, host, f"mysql on {database}")
        return done.stdout.decode(errors="replace")

    # rsync

    def _rsync(self, host: Endpoint, *, dry_run: bool) -> list[str]:
        argv = [*RSYNC, "-e", shlex.join(self.ssh_argv(host))]
        if self.access.become:
            argv += ["--rsync-path", "sudo -n rsync"]
        return [*argv, "--dry-run"] if dry_run else argv

    def _rsync_run(self, argv: list[str], host: Endpoint, allowed: tuple[int, ...]) -> str:
        try:
            done = subprocess.run(
                argv, capture_output=True, env=self._env(host), timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise Unreachable(f"rsync with {host.name} did not finish in time") from exc
        if done.returncode == RSYNC_VANISHED and RSYNC_VANISHED in allowed:
            log.warning("files_vanished", host=host.name, why=self._tail(done))
        elif done.returncode not in allowed:
            self._reached(done, host)
            raise Refused(
                f"rsync with {host.name} failed (rc {done.returncode}): {self._tail(done)}"
            )
        return done.stdout.decode(errors="replace")

    # errors

    def _reached(self, done: subprocess.CompletedProcess[bytes], host: Endpoint) -> None:
        """``Refused`` for a host key that is not the pinned one, ``Unreachable`` when ssh did
        not get through (exit 255, or rsync's 255/12 with ssh's complaint)."""
        tail = self._tail(done)
        if any(mark in tail for mark in KEY_MISMATCH):
            raise Refused(
                f"{host.name} ({host.address}) shows another host key than the one pinned for it: "
                "refused (if the host was really reinstalled, release its pin on purpose)"
            )
        if done.returncode == SSH_FAILED:
            raise Unreachable(f"{host.name} ({host.address}) did not answer SSH: {tail}")

    def _check(self, done: subprocess.CompletedProcess[bytes], host: Endpoint, what: str) -> None:
        self._reached(done, host)
        if done.returncode != 0:
            raise Refused(
                f"{what} on {host.name} failed (rc {done.returncode}): {self._tail(done)}"
            )

    @staticmethod
    def _tail(done: subprocess.CompletedProcess[bytes]) -> str:
        text = (done.stderr or b"").decode(errors="replace").strip()
        return redact_text(" / ".join(text.splitlines()[-3:]))[:MESSAGE_LIMIT]


def _folder(path: str) -> str:
    """``path`` with one trailing slash: rsync copies the folder's contents, not the folder."""
    return path.rstrip("/") + "/"


__all__ = [
    "CATALOGUE_SQL",
    "OpenSshDataMigration",
    "Table",
    "hash_sql",
    "hashes_of",
    "hashes_sql",
    "itemised",
    "quote_ident",
    "quote_literal",
    "tables_of",
]
