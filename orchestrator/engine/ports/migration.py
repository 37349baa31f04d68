"""The ``DataMigration`` port: move a customer's files and databases, and compare both ends.

    DataMigration.pull_files(Endpoint, path, mirror, dry_run) -> Differences   source -> mirror
    DataMigration.push_files(mirror, Endpoint, path, dry_run) -> Differences   mirror -> target
    DataMigration.dump_database(Endpoint, database, dump, engine)             source -> dump file
    DataMigration.restore_database(dump, Endpoint, database, role, engine)     dump file -> target
    DataMigration.table_hashes(Endpoint, database, engine) -> dict[str, TableHash]   both ends
    DataMigration.run(Endpoint, command) -> int                                a command's exit code

A database is a PostgreSQL one (``engine="postgresql"``: pg_dump -Fc, pg_restore) or a MySQL or
MariaDB one (``engine="mysql"``: mysqldump, mysql); the target is the engine's server on the
delivered hosts.

Adapter: ``OpenSshDataMigration`` (``orchestrator.adapters.migration``): OpenSSH, rsync and the
PostgreSQL and MariaDB client tools, the way the site logs in (user, key or agent, jump hosts),
every host key checked against the delivery's pins. The controller is in the middle: source and
target never talk to each other, so files go through a mirror in the delivery's workspace and a
database through a dump file there.

Errors (``orchestrator.engine.errors``):
    Unreachable   a host did not answer SSH
    Refused       a host refused us, showed another host key than the one pinned, or a command
                  on it failed (rsync, pg_dump, pg_restore, psql, mysqldump, mysql), or a table
                  is too large to hash; the message names the host
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

#: The database servers phase 6 moves data between (``mysql`` is MySQL or MariaDB).
type DatabaseEngine = Literal["postgresql", "mysql"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A host data is moved from or to: a migration source or a delivered host, reached at
    ``address`` on ``port`` with its key pinned in ``known_hosts``."""

    name: str
    address: str
    known_hosts: Path
    port: int | None = None  # the site's SSH port when ``None``


@dataclass(frozen=True, slots=True)
class Difference:
    """One path a checksum dry-run would change, as rsync itemises it (``>fc.........``)."""

    path: str
    change: str


@dataclass(frozen=True, slots=True)
class TableHash:
    """A table's row count and the MD5 of its rows as text, ordered by primary key."""

    rows: int
    md5: str


class DataMigration(Protocol):
    """Moves files and databases between hosts through the controller, and compares them."""

    def pull_files(
        self, source: Endpoint, path: str, mirror: Path, *, dry_run: bool = False
    ) -> tuple[Difference, ...]:
        """Make ``mirror`` the same as ``path`` on ``source`` (checksums, deletes); with
        ``dry_run`` change nothing. What differed."""
        ...

    def push_files(
        self, mirror: Path, target: Endpoint, path: str, *, dry_run: bool = False
    ) -> tuple[Difference, ...]:
        """Make ``path`` on ``target`` the same as ``mirror``; with ``dry_run`` change nothing.
        What differed."""
        ...

    def dump_database(
        self, source: Endpoint, database: str, dump: Path, engine: DatabaseEngine = "postgresql"
    ) -> int:
        """A dump of ``database`` on ``source`` streamed into ``dump`` (0600); its size:
        ``pg_dump -Fc``, or ``mysqldump --single-transaction --routines --triggers``."""
        ...

    def restore_database(
        self,
        dump: Path,
        target: Endpoint,
        database: str,
        role: str,
        engine: DatabaseEngine = "postgresql",
    ) -> None:
        """``dump`` into ``database`` on ``target``: ``pg_restore --clean --if-exists
        --no-owner``, its objects owned by ``role``; or fed to ``mysql`` (the dump drops and
        makes its tables again; ``role`` is not used: MySQL tables have no owner)."""
        ...

    def table_hashes(
        self, host: Endpoint, database: str, engine: DatabaseEngine = "postgresql"
    ) -> dict[str, TableHash]:
        """Every table of ``database`` on ``host`` with its row count and content hash, by
        ``schema.table`` (PostgreSQL) or ``table`` (MySQL: the database is the schema)."""
        ...

    def run(self, host: Endpoint, command: str) -> int:
        """Run ``command`` with ``sh`` as root on ``host``; its exit code."""
        ...
