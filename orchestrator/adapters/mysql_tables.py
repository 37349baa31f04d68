"""The SQL that lists and hashes a MySQL or MariaDB database's tables, and its output read back.

Pure: ``OpenSshDataMigration`` sends these queries with the ``mysql`` client (``--batch --raw
--skip-column-names``: one JSON object a line) and reads what they print.

A table's hash is the MD5 of two sums: each row is written as text (every column through
``QUOTE``, so ``NULL`` and the string ``'NULL'`` differ, joined by commas: a quoted value cannot
hold a bare comma), prefixed with its position in primary key order (``ROW_NUMBER() OVER (ORDER
BY key columns)``, composite keys in key order), and hashed with ``MD5``; the two 64-bit halves of
every row's MD5 are summed (as ``DECIMAL``, which does not overflow). A row changed, added,
removed or moved to another key changes the sums. The sums run over the rows on the server:
nothing is concatenated, so no ``group_concat_max_len`` or ``max_allowed_packet`` cuts a large
table short. A table without a primary key has no order: its rows are hashed without a
position, so it compares as a multiset of rows. ``ROW_NUMBER`` needs MariaDB 10.2 or MySQL 8.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.engine.ports.migration import TableHash

#: Every column of every base table of the current database, one JSON object a line, with its
#: place in the table and in the primary key (``null``: not in it).
CATALOGUE_SQL = """\
SELECT JSON_OBJECT('table', c.TABLE_NAME, 'column', c.COLUMN_NAME,
                   'position', c.ORDINAL_POSITION, 'key', k.ORDINAL_POSITION)
FROM information_schema.COLUMNS c
JOIN information_schema.TABLES t
  ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
  AND t.TABLE_TYPE = 'BASE TABLE'
LEFT JOIN information_schema.KEY_COLUMN_USAGE k
  ON k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME
  AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY'
WHERE c.TABLE_SCHEMA = DATABASE()
ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION;
"""


@dataclass(frozen=True, slots=True)
class MysqlTable:
    """A table, its columns in table order and its primary key's columns in key order."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...] = ()


def quote_ident(name: str) -> str:
    """``name`` as a MySQL identifier, in backticks (doubled inside)."""
    return "`" + name.replace("`", "``") + "`"


def quote_literal(text: str) -> str:
    """``text`` as a MySQL string literal (backslashes and quotes escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def tables_of(output: str) -> list[MysqlTable]:
    """The tables ``CATALOGUE_SQL`` printed, in name order."""
    columns: dict[str, list[tuple[int, str]]] = {}
    keys: dict[str, list[tuple[int, str]]] = {}
    for line in output.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        table, column = str(row["table"]), str(row["column"])
        columns.setdefault(table, []).append((int(row["position"]), column))
        if row["key"] is not None:
            keys.setdefault(table, []).append((int(row["key"]), column))
    return [
        MysqlTable(name, _ordered(found), _ordered(keys.get(name, [])))
        for name, found in sorted(columns.items())
    ]


def _ordered(placed: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(name for _, name in sorted(placed))


def row_text(table: MysqlTable) -> str:
    """A row as text: every column quoted (``QUOTE(NULL)`` is ``NULL``), joined by commas."""
    quoted = ", ".join(f"QUOTE({quote_ident(column)})" for column in table.columns)
    return f"CONCAT_WS(',', {quoted})"


def hash_sql(table: MysqlTable) -> str:
    """The query of one table's row count and content hash (see the module's docstring)."""
    if table.key:
        order = ", ".join(quote_ident(column) for column in table.key)
        row = f"CONCAT(ROW_NUMBER() OVER (ORDER BY {order}), ':', {row_text(table)})"
    else:
        row = row_text(table)
    halves = [f"COALESCE(SUM(CAST(CONV({side}(h, 16), 16, 10) AS UNSIGNED)), 0)"
              for side in ("LEFT", "RIGHT")]  # fmt: skip
    digest = f"MD5(CONCAT({halves[0]}, ':', {halves[1]}))"
    select = f"SELECT JSON_OBJECT('table', {quote_literal(table.name)}, 'rows', COUNT(*), "
    relation = quote_ident(table.name)
    rows = f"(SELECT MD5({row}) AS h FROM {relation}) AS r"  # noqa: S608 - names quoted
    return f"{select}'md5', {digest}) FROM {rows}"


def hashes_sql(tables: Sequence[MysqlTable]) -> str:
    """One statement per table (``hash_sql``), each printing one line; empty for no tables."""
    return "".join(f"{hash_sql(table)};\n" for table in tables)


def hashes_of(output: str) -> dict[str, TableHash]:
    """The hashes ``hashes_sql`` printed, by table name."""
    rows = [json.loads(line) for line in output.splitlines() if line.strip()]
    return {str(r["table"]): TableHash(int(r["rows"]), str(r["md5"])) for r in rows}


__all__ = [
    "CATALOGUE_SQL",
    "MysqlTable",
    "hash_sql",
    "hashes_of",
    "hashes_sql",
    "quote_ident",
    "quote_literal",
    "row_text",
    "tables_of",
]
