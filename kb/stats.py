"""KB statistics: counts per property, source, kind, licence, split, quarantine reason; total data points.

    python -m kb.stats [--kb-dir .polybench/kb] [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from kb.config import DEFAULT_KB_DIR, KBPaths
from kb.store import connect_read_only

STAT_QUERIES = {
    "sources": """SELECT source_id, rows_read AS "read", rows_ingested AS ingested,
                         rows_quarantined AS quarantined, values_quarantined AS bad_values,
                         rows_read = rows_ingested + rows_quarantined AS accounted FROM sources ORDER BY source_id""",
    "properties": """SELECT m.property, any_value(m.unit) AS unit, count(*) AS measurements,
                            count(DISTINCT m.polymer_id) AS polymers FROM measurements m GROUP BY 1 ORDER BY 3 DESC""",
    "kinds": "SELECT kind, count(*) AS measurements, count(DISTINCT polymer_id) AS polymers FROM measurements "
             "GROUP BY 1 ORDER BY 2 DESC",
    "licences": """SELECT s.licence, count(DISTINCT s.source_id) AS sources, count(m.measurement_id) AS measurements
                   FROM sources s LEFT JOIN measurements m USING (source_id) GROUP BY 1 ORDER BY 3 DESC""",
    "source_kinds": "SELECT kind, count(*) AS sources, sum(rows_read) AS rows_read FROM sources GROUP BY 1 ORDER BY 3 DESC",
    "splits": """SELECT split, count(*) AS polymers, count(*) FILTER (WHERE n_measurements > 0) AS measured_polymers
                 FROM polymers GROUP BY 1 ORDER BY 1""",
    "statuses": "SELECT status, count(*) AS polymers FROM polymers GROUP BY 1 ORDER BY 2 DESC",
    "quarantine_reasons": """SELECT scope, regexp_replace(reason, '[-+]?[0-9][0-9.e+-]*', '#', 'g') AS reason,
                                    count(*) AS n FROM quarantine GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 25""",
}


def kb_stats(db_path: Path) -> dict[str, pd.DataFrame | dict]:
    """Every statistic as a DataFrame, plus 'totals' (a dict including total data points)."""
    con = connect_read_only(db_path)
    try:
        out: dict[str, pd.DataFrame | dict] = {name: con.execute(sql).df() for name, sql in STAT_QUERIES.items()}
        feature_cols = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'features' "
            "AND column_name <> 'polymer_id'").fetchall()]
        non_null = " + ".join(f'count("{c}")' for c in feature_cols) or "0"
        feature_values = con.execute(f"SELECT {non_null} FROM features").fetchone()[0]
        totals = dict(zip(["polymers", "measurements", "monomers", "polymer_monomer_links", "quarantined_rows",
                           "quarantined_values"], con.execute(
            """SELECT (SELECT count(*) FROM polymers), (SELECT count(*) FROM measurements),
                      (SELECT count(*) FROM monomers), (SELECT count(*) FROM polymer_monomers),
                      (SELECT count(*) FROM quarantine WHERE scope = 'row'),
                      (SELECT count(*) FROM quarantine WHERE scope = 'value')""").fetchone()))
        totals["computed_feature_values"] = int(feature_values)
        totals["total_data_points"] = int(totals["measurements"] + feature_values)
        totals["kb_version"] = con.execute("SELECT value FROM build_info WHERE key='kb_version'").fetchone()[0]
        out["totals"] = totals
        return out
    finally:
        con.close()


def render(stats: dict, console) -> None:
    """Rich tables of the statistics (CLI only)."""
    from rich.table import Table

    for name, frame in stats.items():
        if isinstance(frame, dict):
            table = Table(title=name)
            table.add_column("what")
            table.add_column("value", justify="right")
            for k, v in frame.items():
                table.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
        else:
            table = Table(title=name)
            for col in frame.columns:
                numeric = frame[col].dtype.kind in "iuf"
                table.add_column(str(col), justify="right" if numeric else "left", no_wrap=not numeric,
                                 overflow="fold")
            for row in frame.itertuples(index=False):
                table.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in row])
        console.print(table)


def main(kb_dir: Annotated[Path, typer.Option(help="KB folder (built by kb.build)")] = DEFAULT_KB_DIR,
         as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False) -> None:
    """Print the statistics of a built KB."""
    import duckdb
    from rich.console import Console

    from kb.cli import fail, first_line
    from kb.errors import PolyBenchError

    try:
        stats = kb_stats(KBPaths(kb_dir).db)
    except PolyBenchError as exc:
        fail(exc)
    except duckdb.Error as exc:  # a file that is not a KB
        fail(f"{KBPaths(kb_dir).db} is not a readable KB: {first_line(exc)}")
    if as_json:
        typer.echo(json.dumps({k: v if isinstance(v, dict) else v.to_dict(orient="records")
                               for k, v in stats.items()}, indent=1, default=str))
    else:
        render(stats, Console(width=None if sys.stdout.isatty() else 160))


if __name__ == "__main__":
    typer.run(main)
