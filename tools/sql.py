"""Read-only SQL over the knowledge base for agents: one checked SELECT, bounded in rows, bytes and time.

Safe by construction, in layers:
  1. DuckDB's own parser: exactly one statement, and it is a SELECT (WITH ... SELECT, VALUES, DESCRIBE);
  2. the parsed tree (``json_serialize_sql``) is walked: every query node must be a SELECT (a
     data-modifying CTE such as ``WITH x AS (DELETE ... RETURNING *) SELECT ...`` parses as a SELECT
     statement and is refused here, not left to the read-only attach), and every table reference must
     name an allowed table or a CTE in scope; table functions (read_csv, glob, duckdb_tables(), ...), file
     paths used as tables and catalog-qualified names are refused;
  3. the query runs in a private in-memory DuckDB instance that ATTACHes the KB file READ_ONLY, with the
     writable in-memory catalog detached, external access disabled, memory capped and the configuration
     locked;
  4. at most ``max_rows`` rows and ``max_bytes`` bytes of result are fetched, and a timer interrupts the
     query after ``timeout_s``;
  5. all of it runs in a worker process (tools.sql_worker): DuckDB does not check for an interrupt inside
     one function call (``unnest(range(300000000))`` ran 85 s past its interrupt), and its parser can
     crash on hostile input, so a query that does not answer in time is stopped by killing the worker.
A private instance (not ``duckdb.connect(path, config=...)``) lets other connections to the same file stay
open: DuckDB refuses a second connection to one file with a different configuration.

TEMP views named ``measurements`` and ``property_summary`` shadow the KB's own and drop the rows of polymers
in ``hidden_splits`` (e.g. {"test"}) and of the per-call ``hidden_polymer_ids`` (a task's own polymers;
structures stay visible); with either set, schema-qualified references that would bypass them are refused.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from kb.errors import KBNotBuiltError, PolyBenchError
from tools.errors import ToolError
from tools.kb_view import HIDDEN_TABLE, set_hidden

logger = logging.getLogger(__name__)

ALLOWED_TABLES: frozenset[str] = frozenset(
    {"polymers", "polymer_names", "measurements", "property_summary", "features", "monomers",
     "polymer_monomers", "properties", "sources"}
)  # not quarantine (raw rejected values), fingerprints (BLOBs), build_info (build internals)
HIDEABLE_TABLES: frozenset[str] = frozenset({"measurements", "property_summary"})  # carry property values
MEMORY_LIMIT = "2GB"
MAX_RESULT_BYTES = 64_000  # of JSON text: more would flood a model's context
SELECT_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")
_HINT = (f"Send one read-only SELECT (or WITH ... SELECT) over the tables {', '.join(sorted(ALLOWED_TABLES))}"
         "; use DESCRIBE <table> to see its columns.")

_ST = duckdb.StatementType
_STATEMENT_REASONS: dict[Any, str] = {
    _ST.CREATE: "DDL (CREATE) would change the schema", _ST.DROP: "DDL (DROP) would change the schema",
    _ST.ALTER: "DDL (ALTER) would change the schema",
    _ST.INSERT: "DML (INSERT) would modify data", _ST.UPDATE: "DML (UPDATE) would modify data",
    _ST.DELETE: "DML (DELETE) would modify data", _ST.MERGE_INTO: "DML (MERGE) would modify data",
    _ST.COPY: "COPY reads or writes files", _ST.COPY_DATABASE: "COPY DATABASE writes files",
    _ST.EXPORT: "EXPORT DATABASE writes files",
    _ST.ATTACH: "ATTACH would open another database", _ST.DETACH: "DETACH would close the database",
    _ST.LOAD: "INSTALL/LOAD would load an extension",
    _ST.PRAGMA: "PRAGMA (and IMPORT DATABASE) reads settings, metadata or files",
    _ST.SET: "SET/RESET/USE would change settings", _ST.VARIABLE_SET: "SET VARIABLE would change state",
    _ST.CALL: "CALL runs a table function (metadata, pragmas or files)",
    _ST.EXPLAIN: "EXPLAIN is not a data query", _ST.TRANSACTION: "transaction control is not needed",
}


class SQLRefused(ToolError):
    """A query the tool will not (or could not) answer; the message is written for the model to read."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"SQL refused: {reason}. {_HINT}")


@dataclass(frozen=True)
class SQLResult:
    """Column names, at most max_rows rows, whether more rows existed, the run time and a note (cut)."""

    columns: list[str]
    rows: list[tuple]
    truncated: bool
    elapsed_ms: float
    note: str | None = None


def run_readonly_sql(db_path: Path, sql: str, *, max_rows: int = 200, timeout_s: float = 2.0,
                     hidden_splits: frozenset[str] = frozenset(), max_bytes: int = MAX_RESULT_BYTES,
                     hidden_polymer_ids: frozenset[int] = frozenset()) -> SQLResult:
    """Run one checked SELECT on the KB read-only in a worker process; refuse anything else, cap rows,
    result bytes and wall time (a query still running at the limit is stopped)."""
    from tools.sql_worker import sandbox_for

    if max_rows < 1 or timeout_s <= 0 or max_bytes < 1:
        raise PolyBenchError(f"max_rows, max_bytes must be >= 1 and timeout_s > 0, got {max_rows}, {max_bytes}, "
                             f"{timeout_s}")
    if not isinstance(sql, str):
        raise SQLRefused(f"the SQL must be text, got {type(sql).__name__}")
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SQLRefused(f"the SQL is not valid UTF-8 text (character {exc.start} is a lone surrogate)") from None
    db_path = Path(db_path)
    if not db_path.exists():
        raise KBNotBuiltError(f"no knowledge base at {db_path}; run `python -m kb.build` first")
    return sandbox_for(db_path, frozenset(hidden_splits)).run(sql, max_rows, max_bytes, timeout_s,
                                                                frozenset(int(i) for i in hidden_polymer_ids))


def answer(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int, max_bytes: int, timeout_s: float,
           hidden: bool, hidden_polymer_ids: frozenset[int] = frozenset()) -> SQLResult:
    """Check and run one query on an open sandbox connection (inside the worker process); the hidden
    polymers' rows are swapped in first (the views anti-join them)."""
    set_hidden(con, hidden_polymer_ids)
    hidden = hidden or bool(hidden_polymer_ids)
    _check_statement(sql)
    tables = _referenced_tables(con, sql, HIDEABLE_TABLES if hidden else frozenset())
    logger.debug("running SQL over %s", sorted(tables))
    return _fetch_bounded(con, sql, max_rows, max_bytes, timeout_s)


def _check_statement(sql: str) -> None:
    """Refuse SQL that does not parse, holds no or several statements, or is not a SELECT."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SQLRefused(f"the SQL does not parse ({_first_line(exc)})") from None
    if not statements:
        raise SQLRefused("no SQL statement was given")
    if len(statements) > 1:
        kinds = "; ".join(s.type.name for s in statements)
        raise SQLRefused(f"exactly one statement per call is allowed, got {len(statements)} ({kinds})")
    statement = statements[0]
    if statement.type != _ST.SELECT:
        reason = _STATEMENT_REASONS.get(statement.type, "only SELECT statements are allowed")
        raise SQLRefused(f"{statement.type.name} statements are not allowed: {reason}")
    if statement.named_parameters:
        names = ", ".join(sorted(statement.named_parameters))
        raise SQLRefused(f"query parameters ({names}) are not supported; write the values inline")


def open_sandbox(db_path: Path, hidden_splits: frozenset[str]) -> duckdb.DuckDBPyConnection:
    """A private DuckDB instance with the KB attached read-only, no file access and locked settings."""
    if not db_path.exists():
        raise KBNotBuiltError(f"no knowledge base at {db_path}; run `python -m kb.build` first")
    bad = sorted(s for s in hidden_splits if not _SPLIT_NAME.match(s))
    if bad:
        raise PolyBenchError(f"split names must be letters, digits, '_' or '-', got {bad}")
    con = duckdb.connect(":memory:")
    try:
        path_literal = str(db_path).replace("'", "''")
        con.execute(f"ATTACH '{path_literal}' AS kb (READ_ONLY)")
        con.execute("USE kb")
        con.execute("DETACH memory")  # the only writable catalog left would be temp
        complete = con.execute("SELECT value FROM build_info WHERE key = 'complete'").fetchone()
        if complete is None or complete[0] != "true":
            raise KBNotBuiltError(f"{db_path} is incomplete (interrupted build?); run `python -m kb.build`")
        con.execute(f"CREATE TEMP TABLE {HIDDEN_TABLE} (polymer_id BIGINT)")  # per-call hidden polymers
        splits = ", ".join(f"'{s}'" for s in sorted(hidden_splits))
        split_test = (f" OR t.polymer_id IN (SELECT polymer_id FROM kb.main.polymers WHERE split IN ({splits}))"
                      if hidden_splits else "")
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'kb'").fetchall()}
        for name in sorted(HIDEABLE_TABLES & present):  # an unqualified name now finds the TEMP view
            con.execute(
                f"CREATE TEMP VIEW {name} AS SELECT t.* FROM kb.main.{name} AS t WHERE NOT ("
                f"t.polymer_id IN (SELECT polymer_id FROM {HIDDEN_TABLE}){split_test})")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except duckdb.Error as exc:
        con.close()
        raise KBNotBuiltError(f"cannot open the knowledge base {db_path}: {_first_line(exc)}") from exc
    except BaseException:
        con.close()
        raise
    return con


def _referenced_tables(con: duckdb.DuckDBPyConnection, sql: str, hidden_tables: frozenset[str]) -> set[str]:
    """The allowed tables the SELECT reads; refuse table functions, file paths and other tables."""
    row = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise SQLRefused(f"the SQL does not parse as a SELECT ({tree.get('error_message', '?')})")
    _check_query_nodes(tree["statements"])
    tables: set[str] = set()
    for ref, scope in _table_refs(tree["statements"], frozenset()):
        tables.add(_checked_ref(ref, scope, hidden_tables))
    return tables - {""}


def _check_query_nodes(node: Any) -> None:
    """Refuse any query node that is not a SELECT: a CTE body may be DELETE / INSERT / UPDATE ... RETURNING."""
    if isinstance(node, list):
        for item in node:
            _check_query_nodes(item)
    elif isinstance(node, dict):
        kind = node.get("type")
        if isinstance(kind, str) and kind.endswith("_NODE") and kind not in SELECT_NODES:
            verb = kind.removesuffix("_QUERY_NODE").removesuffix("_NODE").replace("_", " ")
            raise SQLRefused(f"a data-modifying query ({verb}) inside the SELECT is not allowed; only reads are")
        for value in node.values():
            _check_query_nodes(value)


def _table_refs(node: Any, scope: frozenset[str]) -> Iterator[tuple[dict, frozenset[str]]]:
    """Yield every table reference of a parsed tree with the CTE names visible at that point."""
    if isinstance(node, list):
        for item in node:
            yield from _table_refs(item, scope)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind in ("BASE_TABLE", "TABLE_FUNCTION") or (kind == "SHOW_REF" and node.get("query") is None):
        yield node, scope
        return
    if kind == "RECURSIVE_CTE_NODE":  # only the recursive part sees the CTE's own name
        yield from _table_refs(node.get("left"), scope)
        yield from _table_refs(node.get("right"), scope | {node["cte_name"].lower()})
        return
    ctes = (node.get("cte_map") or {}).get("map") or []
    for entry in ctes:  # a CTE body sees the CTEs defined before it, not itself or later ones
        yield from _table_refs(entry["value"], scope)
        scope = scope | {entry["key"].lower()}
    for key, value in node.items():
        if key != "cte_map":
            yield from _table_refs(value, scope)


def _checked_ref(ref: dict, scope: frozenset[str], hidden_tables: frozenset[str]) -> str:
    """The table name of an allowed reference ('' for a CTE); SQLRefused with the reason otherwise."""
    if ref["type"] == "TABLE_FUNCTION":
        name = (ref.get("function") or {}).get("function_name", "?")
        raise SQLRefused(f"table function {name}() is not allowed (no file, metadata or pragma access)")
    if ref["type"] == "SHOW_REF" and ref.get("show_type") == "SHOW_SPECIAL":
        raise SQLRefused("SHOW TABLES/DATABASES lists internal tables and settings")
    name, schema, catalog = ref["table_name"], ref.get("schema_name", ""), ref.get("catalog_name", "")
    dotted = ".".join(p for p in (catalog, schema, name) if p)
    if any(ch in name for ch in "/\\.:~") or name.startswith("$"):
        raise SQLRefused(f"'{name}' looks like a file path: reading files is not allowed")
    lowered = name.lower()
    if catalog:
        raise SQLRefused(f"catalog-qualified table '{dotted}' is not allowed; write the plain table name")
    if schema and schema.lower() != "main":
        raise SQLRefused(f"table '{dotted}' is outside the knowledge base (schema {schema!r})")
    if schema and lowered in hidden_tables:
        raise SQLRefused(f"'{dotted}' would bypass the hidden-split filter; write plain '{lowered}'")
    if not schema and lowered in scope:
        return ""
    if lowered not in ALLOWED_TABLES:
        raise SQLRefused(f"unknown or forbidden table '{dotted}'")
    return lowered


def _fetch_bounded(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int, max_bytes: int,
                   timeout_s: float) -> SQLResult:
    """Execute with a timer that interrupts the query; fetch at most max_rows + 1 rows and max_bytes."""
    fired = threading.Event()

    def interrupt() -> None:
        fired.set()
        con.interrupt()

    timer = threading.Timer(timeout_s, interrupt)
    start = time.perf_counter()
    timer.start()
    try:
        result = con.execute(sql)
        columns = [d[0] for d in result.description or []]
        rows, size, note = [], 0, None
        while len(rows) <= max_rows:
            batch = result.fetchmany(min(50, max_rows + 1 - len(rows)))
            if not batch:
                break
            for row in batch:
                size += len(json.dumps(row, default=str))
                if size > max_bytes:
                    if not rows:
                        raise SQLRefused(f"one result row is {size:,} bytes, over the {max_bytes:,}-byte result "
                                         "limit; select fewer or shorter columns, e.g. left(text, 200)")
                    note = (f"result cut at {len(rows)} rows: the next row would pass the {max_bytes:,}-byte "
                            "limit; select fewer or shorter columns")
                    break
                rows.append(row)
            if note:
                break
    except duckdb.InterruptException:
        raise SQLRefused(f"query took longer than {timeout_s:g} s (the time limit) and was stopped; "
                         "filter earlier, aggregate or add a LIMIT") from None
    except duckdb.Error as exc:
        if fired.is_set():
            raise SQLRefused(f"query took longer than {timeout_s:g} s (the time limit)") from None
        raise SQLRefused(f"the query failed: {_first_line(exc)}") from None
    finally:
        timer.cancel()
        con.interrupt()  # ends a result not fetched to its end (an endless recursive CTE): it would block the next
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    return SQLResult(columns=columns, rows=[tuple(r) for r in rows[:max_rows]],
                     truncated=len(rows) > max_rows or note is not None, elapsed_ms=elapsed_ms, note=note)


def _first_line(exc: BaseException) -> str:
    """The first line of a DuckDB error (the rest is a caret diagram of the SQL)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
