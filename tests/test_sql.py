"""Tests of tools.sql on a tiny real KB file built from kb.store.DDL with a few real polymers."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from kb.errors import KBNotBuiltError
from kb.store import DDL, DERIVED_TABLES
from tools.sql import ALLOWED_TABLES, SQLRefused, SQLResult, run_readonly_sql

POLYMERS = [  # polymer_id, key, name, split
    (1, "*CC*", "polyethylene", "train"),
    (2, "*CC(*)C", "polypropylene", "train"),
    (3, "*CC(*)c1ccccc1", "polystyrene", "dev"),
    (4, "*CCOC(=O)c1ccc(C(*)=O)cc1", "poly(ethylene terephthalate)", "test"),
    (5, "*CC(*)(C)C(=O)OC", "poly(methyl methacrylate)", "test"),
]
TG_K = {1: 195.0, 2: 253.0, 3: 373.0, 4: 342.0, 5: 378.0}


@pytest.fixture(scope="module")
def kb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished mini KB: five polymers, their Tg, one quarantined row, build_info complete."""
    path = tmp_path_factory.mktemp("kb") / "mini.duckdb"
    con = duckdb.connect(str(path))
    con.execute(DDL)
    con.execute("INSERT INTO sources (source_id, dataset, file, url, md5, licence, kind, description, "
                "rows_read, rows_ingested, rows_quarantined, values_quarantined) VALUES ('demo/tg.csv', "
                "'demo', 'tg.csv', 'https://example.org/tg.csv', 'd41d8cd98f00b204e9800998ecf8427e', "
                "'CC-BY-4.0', 'experimental', 'demo Tg values', 6, 5, 1, 0)")
    con.execute("INSERT INTO properties (name, unit, description, min_value, max_value, higher_is) "
                "VALUES ('tg', 'K', 'glass transition temperature', 50, 800, 'higher')")
    for pid, key, name, split in POLYMERS:
        con.execute("INSERT INTO polymers (polymer_id, key, status, n_attachments, name, split, "
                    "n_measurements) VALUES (?, ?, 'linear', 2, ?, ?, 1)", [pid, key, name, split])
        con.execute("INSERT INTO polymer_names (polymer_id, name, source_id) VALUES (?, ?, 'demo/tg.csv')",
                    [pid, name])
        con.execute("INSERT INTO measurements (measurement_id, polymer_id, property, value, unit, "
                    "original_value, original_unit, kind, source_id, row_index, licence) VALUES "
                    "(?, ?, 'tg', ?, 'K', ?, 'K', 'experimental', 'demo/tg.csv', ?, 'CC-BY-4.0')",
                    [pid * 10, pid, TG_K[pid], str(TG_K[pid]), pid - 1])
    con.execute("INSERT INTO quarantine (source_id, row_index, scope, field, raw_text, reason) "
                "VALUES ('demo/tg.csv', 5, 'row', 'smiles', 'C1CC', 'unclosed ring')")
    con.execute("INSERT INTO build_info (key, value) VALUES ('complete', 'true'), ('kb_version', 'test')")
    con.execute("CREATE TABLE IF NOT EXISTS features (polymer_id BIGINT PRIMARY KEY, n_heavy_atoms INTEGER)")
    con.execute(DERIVED_TABLES)
    con.close()
    return path


def test_select_with_join_and_aggregate(kb_path: Path) -> None:
    result = run_readonly_sql(
        kb_path,
        "SELECT p.split, count(*) AS n, round(avg(m.value), 1) AS mean_tg FROM measurements m "
        "JOIN polymers p USING (polymer_id) GROUP BY p.split ORDER BY p.split",
    )
    assert isinstance(result, SQLResult)
    assert result.columns == ["split", "n", "mean_tg"]
    assert result.rows == [("dev", 1, 373.0), ("test", 2, 360.0), ("train", 2, 224.0)]
    assert result.truncated is False
    assert result.elapsed_ms >= 0.0


def test_cte_and_subquery_work(kb_path: Path) -> None:
    sql = ("WITH hot AS (SELECT polymer_id FROM measurements WHERE value > 300), "
           "named AS (SELECT p.name FROM polymers p WHERE p.polymer_id IN (SELECT polymer_id FROM hot)) "
           "SELECT name FROM named ORDER BY name;")
    result = run_readonly_sql(kb_path, sql)
    assert [r[0] for r in result.rows] == ["poly(ethylene terephthalate)", "poly(methyl methacrylate)",
                                          "polystyrene"]


def test_recursive_cte_and_describe_work(kb_path: Path) -> None:
    rows = run_readonly_sql(kb_path, "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r "
                                     "WHERE i < 5) SELECT sum(i) FROM r").rows
    assert rows == [(15,)]
    described = run_readonly_sql(kb_path, "DESCRIBE polymers")
    assert "key" in [r[0] for r in described.rows]


def test_truncation_is_flagged(kb_path: Path) -> None:
    result = run_readonly_sql(kb_path, "SELECT polymer_id FROM polymers ORDER BY polymer_id", max_rows=3)
    assert result.rows == [(1,), (2,), (3,)]
    assert result.truncated is True
    exact = run_readonly_sql(kb_path, "SELECT polymer_id FROM polymers", max_rows=5)
    assert len(exact.rows) == 5 and exact.truncated is False


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1; DROP TABLE polymers", "exactly one statement per call is allowed, got 2 (SELECT; DROP)"),
        ("DROP TABLE polymers", "DROP statements are not allowed: DDL (DROP)"),
        ("CREATE TABLE x AS SELECT 1", "CREATE statements are not allowed: DDL (CREATE)"),
        ("ALTER TABLE polymers ADD COLUMN x INT", "ALTER statements are not allowed: DDL (ALTER)"),
        ("INSERT INTO polymers VALUES (9, '*C*', 'linear', 2, NULL, NULL, NULL, 0)",
         "INSERT statements are not allowed: DML (INSERT)"),
        ("UPDATE measurements SET value = 0", "UPDATE statements are not allowed: DML (UPDATE)"),
        ("DELETE FROM measurements", "DELETE statements are not allowed: DML (DELETE)"),
        ("COPY polymers TO '/tmp/x.csv'", "COPY statements are not allowed: COPY reads or writes files"),
        ("ATTACH '/tmp/other.duckdb' AS o", "ATTACH statements are not allowed"),
        ("DETACH kb", "DETACH statements are not allowed"),
        ("INSTALL httpfs", "INSTALL/LOAD would load an extension"),
        ("LOAD httpfs", "INSTALL/LOAD would load an extension"),
        ("PRAGMA database_list", "PRAGMA statements are not allowed"),
        ("SET enable_external_access = true", "SET statements are not allowed: SET/RESET/USE"),
        ("RESET memory_limit", "SET statements are not allowed: SET/RESET/USE"),
        ("EXPORT DATABASE '/tmp/dump'", "EXPORT statements are not allowed: EXPORT DATABASE writes files"),
        ("IMPORT DATABASE '/tmp/dump'", "PRAGMA (and IMPORT DATABASE)"),
        ("CALL duckdb_tables()", "CALL statements are not allowed"),
        ("SELECT * FROM read_csv('/etc/passwd')", "table function read_csv() is not allowed"),
        ("SELECT * FROM read_parquet('x.parquet')", "table function read_parquet() is not allowed"),
        ("SELECT * FROM glob('/etc/*')", "table function glob() is not allowed"),
        ("SELECT * FROM read_text('/etc/hostname')", "table function read_text() is not allowed"),
        ("SELECT * FROM duckdb_tables()", "table function duckdb_tables() is not allowed"),
        ("SELECT * FROM pragma_table_info('polymers')", "table function pragma_table_info() is not allowed"),
        ("SELECT * FROM polymers WHERE polymer_id IN (SELECT 1 FROM sqlite_scan('x.db', 't'))",
         "table function sqlite_scan() is not allowed"),
        ("SELECT * FROM '/etc/passwd'", "'/etc/passwd' looks like a file path"),
        ("FROM 'x.parquet'", "'x.parquet' looks like a file path"),
        ("SELECT * FROM quarantine", "unknown or forbidden table 'quarantine'"),
        ("SELECT * FROM build_info", "unknown or forbidden table 'build_info'"),
        ("SELECT * FROM duckdb_tables", "unknown or forbidden table 'duckdb_tables'"),
        ("SELECT * FROM information_schema.tables", "outside the knowledge base"),
        ("SELECT * FROM kb.main.polymers", "catalog-qualified table 'kb.main.polymers' is not allowed"),
        ("SHOW TABLES", "SHOW TABLES/DATABASES lists internal tables"),
        ("WITH a AS (SELECT * FROM quarantine), quarantine AS (SELECT 1) SELECT * FROM a",
         "unknown or forbidden table 'quarantine'"),
        ("WITH quarantine AS (SELECT * FROM quarantine) SELECT * FROM quarantine",
         "unknown or forbidden table 'quarantine'"),
        ("SELECT * FROM (WITH quarantine AS (SELECT 1) SELECT 1), quarantine",
         "unknown or forbidden table 'quarantine'"),
        ("SELECT $x", "query parameters (x) are not supported"),
        ("SELEC * FROM polymers", "the SQL does not parse"),
        ("  -- nothing\n", "no SQL statement was given"),
        ("EXPLAIN SELECT 1", "EXPLAIN statements are not allowed"),
    ],
)
def test_attacks_are_refused_with_their_reason(kb_path: Path, sql: str, expected: str) -> None:
    with pytest.raises(SQLRefused) as info:
        run_readonly_sql(kb_path, sql)
    message = str(info.value)
    assert expected in message
    assert "polymers" in message and "SELECT" in message  # the model is told what is allowed


def test_refusals_leave_the_kb_unchanged(kb_path: Path) -> None:
    for sql in ("DROP TABLE polymers", "SELECT 1; DELETE FROM measurements"):
        with pytest.raises(SQLRefused):
            run_readonly_sql(kb_path, sql)
    assert run_readonly_sql(kb_path, "SELECT count(*) FROM measurements").rows == [(5,)]


def test_unknown_column_is_reported(kb_path: Path) -> None:
    with pytest.raises(SQLRefused, match="the query failed: .*no_such_column"):
        run_readonly_sql(kb_path, "SELECT no_such_column FROM polymers")


def test_slow_query_is_interrupted(kb_path: Path) -> None:
    slow = ("SELECT sum(a.x * b.x) FROM (SELECT unnest(range(200000)) AS x) a, "
            "(SELECT unnest(range(200000)) AS x) b")
    with pytest.raises(SQLRefused, match=r"query took longer than 1 s \(the time limit\)"):
        run_readonly_sql(kb_path, slow, timeout_s=1.0)
    assert run_readonly_sql(kb_path, "SELECT 1").rows == [(1,)]  # next call is unaffected


def test_hidden_splits_hide_values_but_not_structures(kb_path: Path) -> None:
    hidden = frozenset({"test"})
    sql = ("SELECT p.name, m.value FROM polymers p JOIN measurements m USING (polymer_id) "
           "WHERE p.split = 'test'")
    assert len(run_readonly_sql(kb_path, sql).rows) == 2
    assert run_readonly_sql(kb_path, sql, hidden_splits=hidden).rows == []
    structures = run_readonly_sql(
        kb_path, "SELECT key FROM polymers WHERE split = 'test' ORDER BY polymer_id", hidden_splits=hidden)
    assert structures.rows == [("*CCOC(=O)c1ccc(C(*)=O)cc1",), ("*CC(*)(C)C(=O)OC",)]
    visible = run_readonly_sql(kb_path, "SELECT polymer_id FROM measurements ORDER BY 1",
                               hidden_splits=hidden)
    assert visible.rows == [(1,), (2,), (3,)]
    summary = "SELECT polymer_id, value FROM property_summary ORDER BY 1"
    assert run_readonly_sql(kb_path, summary).rows == [(i, TG_K[i]) for i in range(1, 6)]
    hidden_summary = run_readonly_sql(kb_path, summary, hidden_splits=hidden)
    assert hidden_summary.rows == [(i, TG_K[i]) for i in range(1, 4)]
    both = frozenset({"dev", "test"})
    assert run_readonly_sql(kb_path, summary, hidden_splits=both).rows == [(1, 195.0), (2, 253.0)]
    for bypass in ("SELECT * FROM main.measurements", "SELECT * FROM kb.main.measurements",
                   "SELECT * FROM temp.main.measurements", "SELECT * FROM main.property_summary"):
        with pytest.raises(SQLRefused):
            run_readonly_sql(kb_path, bypass, hidden_splits=hidden)
    with pytest.raises(SQLRefused, match="would bypass the hidden-split filter"):
        run_readonly_sql(kb_path, "SELECT * FROM main.measurements", hidden_splits=hidden)
    main_polymers = run_readonly_sql(kb_path, "SELECT count(*) FROM main.polymers", hidden_splits=hidden)
    assert main_polymers.rows == [(5,)]


def test_external_access_stays_disabled_inside_the_sandbox(kb_path: Path) -> None:
    rows = run_readonly_sql(kb_path, "SELECT current_setting('enable_external_access'), "
                                     "current_setting('lock_configuration')").rows
    assert rows == [(False, True)]


def test_coexists_with_a_plain_connection(kb_path: Path) -> None:
    other = duckdb.connect(str(kb_path), read_only=True)
    try:
        assert run_readonly_sql(kb_path, "SELECT count(*) FROM polymers").rows == [(5,)]
    finally:
        other.close()


def test_missing_or_incomplete_kb(tmp_path: Path) -> None:
    with pytest.raises(KBNotBuiltError, match="no knowledge base"):
        run_readonly_sql(tmp_path / "absent.duckdb", "SELECT 1")
    half = tmp_path / "half.duckdb"
    con = duckdb.connect(str(half))
    con.execute(DDL)
    con.close()
    with pytest.raises(KBNotBuiltError, match="incomplete"):
        run_readonly_sql(half, "SELECT 1")


def test_allowed_tables_exist_in_the_schema(kb_path: Path) -> None:
    con = duckdb.connect(str(kb_path), read_only=True)
    listed = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    con.close()
    assert ALLOWED_TABLES <= listed
    assert "quarantine" not in ALLOWED_TABLES


@pytest.mark.parametrize("sql", [
    "WITH x AS (DELETE FROM measurements RETURNING *) SELECT * FROM x",
    "WITH x AS (INSERT INTO polymers SELECT * FROM polymers RETURNING *) SELECT count(*) FROM x",
    "WITH x AS (UPDATE measurements SET value = 0 RETURNING *) SELECT 1",
    "SELECT * FROM (WITH x AS (DELETE FROM polymers RETURNING *) SELECT * FROM x)",
])
def test_data_modifying_ctes_are_refused_by_parsing(kb_path: Path, sql: str) -> None:
    assert duckdb.extract_statements(sql)[0].type == duckdb.StatementType.SELECT  # DuckDB calls them SELECT
    with pytest.raises(SQLRefused, match="a data-modifying query .* inside the SELECT is not allowed"):
        run_readonly_sql(kb_path, sql)
    assert run_readonly_sql(kb_path, "SELECT count(*) FROM measurements").rows == [(5,)]


@pytest.mark.parametrize("sql", [
    "SELECT sum(x) FROM (SELECT unnest(range(300000000)) x)",  # one uninterruptible function call
    "SELECT levenshtein(repeat('a', 100000), repeat('b', 100000))",
])
def test_a_query_duckdb_cannot_interrupt_is_stopped(kb_path: Path, sql: str) -> None:
    with pytest.raises(SQLRefused, match=r"query took longer than 0.5 s \(the time limit\) and was stopped"):
        run_readonly_sql(kb_path, sql, timeout_s=0.5)
    assert run_readonly_sql(kb_path, "SELECT 1", timeout_s=0.5).rows == [(1,)]  # a new worker answers


def test_an_endless_recursive_cte_returns_its_first_rows_and_frees_the_connection(kb_path: Path) -> None:
    endless = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r"
    result = run_readonly_sql(kb_path, endless, max_rows=5)
    assert result.rows == [(1,), (2,), (3,), (4,), (5,)] and result.truncated
    assert run_readonly_sql(kb_path, "SELECT 1").rows == [(1,)]


def test_result_bytes_are_capped(kb_path: Path) -> None:
    with pytest.raises(SQLRefused, match="one result row is 1,000,0.. bytes, over the 64,000-byte result limit"):
        run_readonly_sql(kb_path, "SELECT repeat('x', 1000000) FROM polymers")
    cut = run_readonly_sql(kb_path, "SELECT repeat('x', 20000) FROM polymers", max_bytes=64_000)
    assert len(cut.rows) == 3 and cut.truncated and "result cut at 3 rows" in cut.note


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT '\ud800'", "not valid UTF-8 text"),
    ("SELECT " + "(" * 3000 + "1" + ")" * 3000, "does not parse"),
])
def test_hostile_text_is_refused(kb_path: Path, sql: str, expected: str) -> None:
    with pytest.raises(SQLRefused, match=expected):
        run_readonly_sql(kb_path, sql)
