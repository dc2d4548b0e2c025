"""The KB owner's SQL shell: any query on a built KB, printed as a table.

    python -m kb.query "SELECT property, count(*) FROM measurements GROUP BY 1"

This is the owner's full DuckDB at a shell: the KB file is opened read-only, but a query can read any file
(read_csv('/any/path')), write files with COPY, and runs without a time limit. Never route an agent or
a chat user through it: they get the `sql` tool (tools.sql), which allows one checked SELECT over the KB
tables, hides the test split's values and stops a query at its time, row and byte limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import duckdb
import pandas as pd
import typer

from kb.cli import fail, first_line
from kb.config import DEFAULT_KB_DIR, KBPaths
from kb.errors import PolyBenchError
from kb.store import connect_read_only


def run_query(db_path: Path, sql: str, limit: int = 50) -> pd.DataFrame | None:
    """The first `limit` rows (0: all) of one query on a read-only connection; None for a statement that
    returns no rows. PolyBenchError when no statement is given."""
    if limit < 0:
        raise PolyBenchError(f"--limit must be >= 0 (0 shows all rows), got {limit}")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise PolyBenchError(f"the SQL does not parse: {first_line(exc)}") from None
    if not statements:
        raise PolyBenchError("no SQL statement given; pass one query in quotes")
    con = connect_read_only(db_path)
    try:
        result = con.execute(sql)
        if result.description is None:
            return None
        columns = [d[0] for d in result.description]
        rows = result.fetchall() if limit == 0 else result.fetchmany(limit)
        return pd.DataFrame(rows, columns=columns)
    finally:
        con.close()


def main(sql: Annotated[str, typer.Argument(help="SQL to run. The owner's full DuckDB: reads any file, COPY "
                                                  "writes files, no time limit; never for agents or chat users "
                                                  "(they get the checked `sql` tool)")],
         kb_dir: Annotated[Path, typer.Option(help="KB folder")] = DEFAULT_KB_DIR,
         limit: Annotated[int, typer.Option(help="rows to show (0 = all)")] = 50) -> None:
    """Run one SQL query on the KB and print the result.

    The owner's full DuckDB: the KB file is read-only, but a query reads any file, COPY writes files and
    there is no time limit. Never for agents or chat users: they get the checked `sql` tool.
    """
    from rich.console import Console
    from rich.table import Table

    try:
        frame = run_query(KBPaths(kb_dir).db, sql, limit)
    except PolyBenchError as exc:
        fail(exc)
    except duckdb.Error as exc:
        fail(first_line(exc))
    if frame is None:
        typer.echo("done (the statement returns no rows)")
        return
    table = Table()
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    Console().print(table)


if __name__ == "__main__":
    typer.run(main)
