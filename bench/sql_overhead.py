"""Cost of tools.sql's safety (parse check, private read-only instance, timer) against a plain connection.

    python -m bench.sql_overhead --polymers 20000 --measurements 200000 --repeats 30

Builds a synthetic KB file (kb.store DDL + DERIVED_TABLES, random values) in a temporary folder, then times each
query in the same run: run_readonly_sql (what agents call; also with a hidden split), a plain read-only
duckdb.connect + execute + fetchmany + close per query (the unsafe baseline, timed while no other connection
holds the file, so each call opens it), and the plain query on a warm connection (DuckDB's floor).
Prints the median milliseconds and the ratios tool / baseline.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from kb.store import DDL, DERIVED_TABLES
from tools.sql import run_readonly_sql

QUERIES = {
    "point lookup": "SELECT * FROM polymers WHERE polymer_id = 1234",
    "join + aggregate": ("SELECT p.split, m.property, count(*), avg(m.value) FROM measurements m "
                         "JOIN polymers p USING (polymer_id) GROUP BY ALL ORDER BY ALL"),
    "CTE + top 20": ("WITH tg AS (SELECT polymer_id, value FROM property_summary WHERE property = 'tg') "
                     "SELECT p.key, tg.value FROM tg JOIN polymers p USING (polymer_id) "
                     "ORDER BY tg.value DESC LIMIT 20"),
    "300 rows, truncated": "SELECT polymer_id, key FROM polymers",
}


def build_kb(path: Path, n_polymers: int, n_measurements: int, seed: int) -> None:
    """A KB file with the real schema and random content."""
    rng = np.random.default_rng(seed)
    polymers = pd.DataFrame({
        "polymer_id": np.arange(n_polymers), "key": [f"*CC(*)C{'C' * (i % 7)}{i}" for i in range(n_polymers)],
        "status": "linear", "n_attachments": 2, "split": rng.choice(["train", "dev", "test"], n_polymers)})
    n = n_measurements
    measurements = pd.DataFrame({
        "measurement_id": np.arange(n), "polymer_id": rng.integers(0, n_polymers, n),
        "property": rng.choice(["tg", "tm", "density"], n), "value": rng.normal(400, 50, n), "unit": "K",
        "original_value": "0", "original_unit": "K", "kind": "experimental", "source_id": "bench/x.csv",
        "row_index": np.arange(n), "licence": "CC0"})
    con = duckdb.connect(str(path))
    con.execute(DDL)
    con.register("polymers_df", polymers)
    con.register("measurements_df", measurements)
    con.execute("INSERT INTO polymers BY NAME SELECT * FROM polymers_df")
    con.execute("INSERT INTO measurements BY NAME SELECT * FROM measurements_df")
    con.execute(DERIVED_TABLES)
    con.execute("INSERT INTO build_info VALUES ('complete', 'true')")
    con.close()


def median_ms(call: Callable[[], object], repeats: int) -> float:
    """Median wall time of a call in milliseconds (one warm-up call first)."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def plain_fetch(path: Path, sql: str, max_rows: int) -> list[tuple]:
    """The baseline: open read-only, run, fetch max_rows + 1, close."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchmany(max_rows + 1)
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polymers", type=int, default=20_000)
    parser.add_argument("--measurements", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        build_kb(path, args.polymers, args.measurements, args.seed)
        timings = {}
        for name, sql in QUERIES.items():  # no other connection open: every plain connect opens the file
            tool = median_ms(lambda sql=sql: run_readonly_sql(path, sql, max_rows=200), args.repeats)
            hidden = median_ms(lambda sql=sql: run_readonly_sql(
                path, sql, max_rows=200, hidden_splits=frozenset({"test"})), args.repeats)
            plain = median_ms(lambda sql=sql: plain_fetch(path, sql, 200), args.repeats)
            timings[name] = (tool, hidden, plain)
        warm = duckdb.connect(str(path), read_only=True)
        print(f"{'query':22} {'tool ms':>8} {'hidden ms':>10} {'plain ms':>9} {'warm ms':>8} "
              f"{'tool/plain':>11} {'tool/warm':>10}")
        for name, sql in QUERIES.items():
            tool, hidden, plain = timings[name]
            hot = median_ms(lambda sql=sql: warm.execute(sql).fetchmany(201), args.repeats)
            print(f"{name:22} {tool:8.2f} {hidden:10.2f} {plain:9.2f} {hot:8.2f} {tool / plain:11.2f} "
                  f"{tool / hot:10.1f}")
        warm.close()


if __name__ == "__main__":
    main()
