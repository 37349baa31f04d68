"""Phase 6's MySQL/MariaDB data sets, pure parts: the spec's rules, the catalogue and hash SQL and
their output read back, the plan, the phase-3 inventory, and which tools the steps ask for."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestrator.adapters.inventory import HostRecord, Topology, host_vars, mysql_hosts
from orchestrator.adapters.mysql_tables import (
    CATALOGUE_SQL,
    MysqlTable,
    hash_sql,
    hashes_of,
    hashes_sql,
    quote_ident,
    quote_literal,
    row_text,
    tables_of,
)
from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.ports.migration import DatabaseEngine, Difference, Endpoint, TableHash
from orchestrator.engine.status import Status
from orchestrator.engine.step import StepContext
from orchestrator.phases.base import REACHABILITY
from orchestrator.phases.checks import port_checks
from orchestrator.phases.migration import SOURCES, MigrationAdapters, PresyncStep, VerifyStep
from orchestrator.phases.migration import phase as migration_phase
from orchestrator.spec import DeliverySpec, SpecError
from orchestrator.spec.loader import parse_spec
from orchestrator.store.records import Json
from tests.unit.test_migration import planning
from tests.unit.test_spec import EXAMPLES

MYSQL_SET = """\
    - name: forum-database
      source: old-hosting
      kind: KIND
      database: forum
      target_role: db
"""


def with_mysql(kind: str = "mysql", packages: str = "[postgresql, mariadb-server]") -> str:
    """examples/full.yaml with a MySQL data set going to its db role."""
    text = (EXAMPLES / "full.yaml").read_text()
    text = text.replace("    packages: [postgresql]", f"    packages: {packages}")
    return text.replace("  data_sets:\n", "  data_sets:\n" + MYSQL_SET.replace("KIND", kind))


def spec_of(text: str) -> DeliverySpec:
    return parse_spec(text, "full.yaml")


# --- the spec ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mysql", "mariadb"])
def test_a_mysql_data_set_into_a_role_with_mariadb_is_valid(kind: str) -> None:
    spec = spec_of(with_mysql(kind))
    assert spec.migration is not None
    assert spec.migration.data_sets[0].kind == kind


def test_a_mysql_data_set_needs_mariadb_on_its_target_role() -> None:
    with pytest.raises(SpecError) as refused:
        spec_of(with_mysql(packages="[postgresql]"))
    assert (
        "migration.data_sets[0].target_role: the db hosts get no MariaDB to restore into "
        "(add mariadb-server to software.db.packages)"
    ) in str(refused.value)
    assert "not supported" not in str(refused.value)


def test_a_mysql_data_set_needs_its_database_and_takes_no_path() -> None:
    text = with_mysql().replace("      database: forum\n", "      path: /srv/forum\n", 1)
    with pytest.raises(SpecError) as refused:
        spec_of(text)
    assert "migration.data_sets[0].database: required for kind mysql" in str(refused.value)
    assert "migration.data_sets[0].path: does not apply to kind mysql" in str(refused.value)


# --- the SQL -----------------------------------------------------------------------------------


def test_mysql_identifiers_and_literals_are_quoted() -> None:
    assert quote_ident("odd`name") == "`odd``name`"
    assert quote_literal("it's a \\") == "'it''s a \\\\'"


def test_the_catalogue_lists_base_tables_of_the_current_database_with_their_keys() -> None:
    assert "TABLE_TYPE = 'BASE TABLE'" in CATALOGUE_SQL
    assert "TABLE_SCHEMA = DATABASE()" in CATALOGUE_SQL
    assert "CONSTRAINT_NAME = 'PRIMARY'" in CATALOGUE_SQL


def test_the_catalogue_is_read_back_in_column_and_key_order() -> None:
    lines = [
        '{"table": "stock", "column": "quantity", "position": 3, "key": null}',
        '{"table": "stock", "column": "warehouse", "position": 2, "key": 2}',
        '{"table": "stock", "column": "product_id", "position": 1, "key": 1}',
        '{"table": "audit_log", "column": "at", "position": 1, "key": null}',
        "",
    ]
    assert tables_of("\n".join(lines)) == [
        MysqlTable("audit_log", ("at",)),
        MysqlTable("stock", ("product_id", "warehouse", "quantity"), ("product_id", "warehouse")),
    ]
    assert tables_of("") == []


def test_a_row_is_every_column_quoted_so_null_is_not_the_string_null() -> None:
    text = row_text(MysqlTable("products", ("id", "note")))
    assert text == "CONCAT_WS(',', QUOTE(`id`), QUOTE(`note`))"


def test_a_table_is_hashed_by_row_position_in_composite_key_order() -> None:
    sql = hash_sql(MysqlTable("stock", ("warehouse", "product_id", "quantity"),
                              ("warehouse", "product_id")))  # fmt: skip
    assert "ROW_NUMBER() OVER (ORDER BY `warehouse`, `product_id`)" in sql
    assert "FROM `stock`" in sql
    assert "'rows', COUNT(*)" in sql
    assert "QUOTE(`quantity`)" in sql
    assert "'table', 'stock'" in sql


def test_the_hash_sums_row_hashes_and_concatenates_nothing() -> None:
    sql = hash_sql(MysqlTable("products", ("id", "name"), ("id",)))
    assert "GROUP_CONCAT" not in sql.upper()  # no group_concat_max_len to cut it short
    assert "SUM(CAST(CONV(LEFT(h, 16), 16, 10) AS UNSIGNED))" in sql
    assert "SUM(CAST(CONV(RIGHT(h, 16), 16, 10) AS UNSIGNED))" in sql


def test_a_table_without_a_primary_key_is_hashed_as_a_multiset_of_rows() -> None:
    assert "ROW_NUMBER" not in hash_sql(MysqlTable("audit_log", ("at", "message")))


def test_one_statement_per_table_none_for_no_tables() -> None:
    tables = [MysqlTable("a", ("id",), ("id",)), MysqlTable("b", ("id",))]
    assert hashes_sql(tables).count(";\n") == 2
    assert hashes_sql([]) == ""


def test_the_hashes_are_read_back_by_table() -> None:
    output = '{"table": "stock", "rows": 4, "md5": "0f1e"}\n\n'
    assert hashes_of(output) == {"stock": TableHash(4, "0f1e")}


# --- phase 3: MariaDB where the role installs it ----------------------------------------------


def test_mariadb_accounts_are_per_ipv4_network_with_netmasks() -> None:
    assert mysql_hosts(["10.213.206.0/24", "10.0.0.1/32", "2001:db8::/64"]) == [
        "10.213.206.0/255.255.255.0",
        "10.0.0.1/255.255.255.255",
    ]


def test_a_role_with_mariadb_server_gets_the_delivery_database_and_its_port() -> None:
    spec = spec_of(with_mysql())
    host = next(h for h in spec.expanded_hosts() if h.role == "db")
    record = HostRecord(host.name, "db", "10.213.128.5")
    hv = host_vars(spec, host, record, Topology([record], None, "10.213.128.0/28"),
                   management_networks=["10.213.0.1/32"])  # fmt: skip
    assert hv["mariadb"] == {
        "name": "acme",
        "user": "acme",
        "clients": ["10.213.128.0/255.255.255.240", "10.213.0.1/255.255.255.255"],
    }
    assert "mariadb.service" in hv["watched_services"]  # type: ignore[operator]
    assert [c.name for c in port_checks(host.name, ["mariadb-server"])] == ["port tcp/3306"]
    web = next(h for h in spec.expanded_hosts() if h.role == "web")
    assert host_vars(spec, web, HostRecord(web.name, "web", "10.213.128.4"),
                     Topology([], None, None))["mariadb"] is None  # fmt: skip


# --- the steps ---------------------------------------------------------------------------------


def test_the_plan_names_the_mysql_data_set_and_where_it_goes() -> None:
    ctx, adapters = planning(spec_of(with_mysql("mariadb")))
    presync = migration_phase(lambda: adapters).steps[1]
    assert next(str(c) for c in presync.plan(ctx)) == (
        "sync pre-sync forum-database (mariadb old-hosting:forum -> db:acme)"
    )


@dataclass
class RecordingMover:
    """A data mover that records which tools it was asked for and answers with given hashes."""

    hashes: dict[str, dict[str, TableHash]]
    calls: list[tuple[str, str, str, DatabaseEngine]] = field(default_factory=list)
    dumps: list[Path] = field(default_factory=list)

    def pull_files(
        self, source: Endpoint, path: str, mirror: Path, *, dry_run: bool = False
    ) -> tuple[Difference, ...]:
        raise AssertionError((source, path, mirror, dry_run))

    def push_files(
        self, mirror: Path, target: Endpoint, path: str, *, dry_run: bool = False
    ) -> tuple[Difference, ...]:
        raise AssertionError((mirror, target, path, dry_run))

    def dump_database(
        self, source: Endpoint, database: str, dump: Path, engine: DatabaseEngine = "postgresql"
    ) -> int:
        self.calls.append(("dump", source.name, database, engine))
        dump.write_bytes(b"-- dump\n")
        self.dumps.append(dump)
        return 8

    def restore_database(
        self,
        dump: Path,
        target: Endpoint,
        database: str,
        role: str,
        engine: DatabaseEngine = "postgresql",
    ) -> None:
        assert dump.read_bytes() == b"-- dump\n"
        assert role == database
        self.calls.append(("restore", target.name, database, engine))

    def table_hashes(
        self, host: Endpoint, database: str, engine: DatabaseEngine = "postgresql"
    ) -> dict[str, TableHash]:
        self.calls.append(("hashes", host.name, database, engine))
        return self.hashes[host.name]

    def run(self, host: Endpoint, command: str) -> int:
        raise AssertionError((host, command))


ONLY_MYSQL = """\
migration:
  by: us
  sources:
    - {name: old-hosting, address: 10.213.0.6}
  data_sets:
    - {name: forum, source: old-hosting, kind: mariadb, database: forum, target_role: db}
"""


def reached_context(tmp_path: Path, mover: RecordingMover) -> tuple[StepContext, MigrationAdapters]:
    """Phase 6 after phase 2 reached db-01 and the sources step reached the source."""
    text = (EXAMPLES / "full.yaml").read_text().split("migration:")[0]
    text = text.replace("    packages: [postgresql]", "    packages: [mariadb-server]")
    tail = (EXAMPLES / "full.yaml").read_text().split("migration:")[1]
    rest = tail[tail.index("\ngo_live:") :] if "\ngo_live:" in tail else ""
    spec = spec_of(text + ONLY_MYSQL + rest)
    _, adapters = planning(spec)
    adapters = dataclasses.replace(adapters, mover=mover, workspace=Workspace(tmp_path))
    db = next(h.name for h in spec.expanded_hosts() if h.role == "db")
    outputs: dict[str, dict[str, Json]] = {
        REACHABILITY: {"hosts": {db: {"address": "10.213.128.5", "host_key": "ssh-ed25519 K"}}},
        SOURCES: {"sources": {"old-hosting": {"address": "10.213.0.6", "port": 22}}},
    }
    return StepContext(delivery_from_spec(spec), "run-1", 6, outputs), adapters


def test_a_mariadb_data_set_is_dumped_and_restored_with_the_mysql_tools(tmp_path: Path) -> None:
    mover = RecordingMover({})
    ctx, adapters = reached_context(tmp_path, mover)
    result = PresyncStep(lambda: adapters).apply(ctx)
    assert result.status is Status.SUCCEEDED
    assert mover.calls == [
        ("dump", "old-hosting", "forum", "mysql"),
        ("restore", "db-01", "acme", "mysql"),
    ]
    assert [d.name for d in mover.dumps] == ["forum.dump"]
    assert mover.dumps[0].parent.stat().st_mode & 0o777 == 0o700  # the dumps folder is private
    assert result.outputs["data_sets"] == {
        "forum": {
            "old-hosting -> controller (bytes)": 8,
            "controller -> db-01": "restored into acme",
        }
    }


def test_a_changed_mysql_table_fails_verification_naming_it(tmp_path: Path) -> None:
    same, other = TableHash(4, "aa"), TableHash(4, "bb")
    mover = RecordingMover({"old-hosting": {"stock": same, "products": same},
                            "db-01": {"stock": other, "products": same}})  # fmt: skip
    ctx, adapters = reached_context(tmp_path, mover)
    result = VerifyStep(lambda: adapters).apply(ctx)
    assert result.status is Status.FAILED
    assert result.error == "migration verification failed: tables differ: stock on db-01"
    assert {c[3] for c in mover.calls} == {"mysql"}
