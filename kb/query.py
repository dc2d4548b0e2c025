"""Read-only SQL over a built KB.

    python -m kb.query "SELECT property, count(*) FROM measurements GROUP BY 1"
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import duckdb
import typer

from kb.config import DEFAULT_KB_DIR, KBPaths
from kb.store import connect_read_only


def run_query(db_path: Path, sql: str, limit: int = 50):
    """The first `limit` rows of a query on a read-only connection, as a DataFrame."""
    con = connect_read_only(db_path)
    try:
        return con.execute(sql).fetch_df_chunk().head(limit) if limit else con.execute(sql).df()
    finally:
        con.close()


def main(sql: Annotated[str, typer.Argument(help="one SQL query (the connection is read-only)")],
         kb_dir: Annotated[Path, typer.Option(help="KB folder")] = DEFAULT_KB_DIR,
         limit: Annotated[int, typer.Option(help="rows to show (0 = all)")] = 50) -> None:
    """Run one read-only query and print the result."""
    from rich.console import Console
    from rich.table import Table

    from kb.errors import PolyBenchError

    try:
        frame = run_query(KBPaths(kb_dir).db, sql, limit)
    except (PolyBenchError, duckdb.Error) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    table = Table()
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    Console().print(table)


if __name__ == "__main__":
    typer.run(main)
