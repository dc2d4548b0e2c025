"""Cached read-only connections per KB view and thread, and the KB's version.

Opening a KB view costs ~5-40 ms (file open, build check, TEMP views that hide splits); a tool call should
cost less than that. So each thread keeps one connection per view and reuses it until the KB file is
replaced by a rebuild (its inode or mtime changes). DuckDB connections are not safe to share between
threads, hence one per thread.

With hidden splits every read of the view's `measurements` joins all polymers to check their split (~5 ms
a query on the full KB). `measurements_table` materialises the view's visible measurements once per
connection into a TEMP table (the same rows, sorted by polymer): the tools read that instead, and
`medians_table` holds property_summary's medians of those rows (per polymer, property and kind).

A per-task hidden set (KBView.hidden_polymer_ids) does not open a connection of its own: the connection is
cached for the view without it (`KBView.base`), and every call swaps the rows of the connection's TEMP
`tool_hidden` table to the calling view's ids before the tool reads. The materialised tables hold the
split-level rows (`*_all`); the names the tools read are TEMP views over them that anti-join the hidden ids.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

from tools.kb_view import HIDDEN_TABLE, KBView, set_hidden

logger = logging.getLogger(__name__)

_LOCAL = threading.local()


MEASUREMENTS = "tool_measurements"
MEDIANS = "tool_medians"


@dataclass
class _Open:
    """A connection with the file signature and kb_version it was opened for."""

    con: duckdb.DuckDBPyConnection
    signature: tuple[int, int]
    kb_version: str
    materialised: bool = False
    medians: bool = False
    hidden: frozenset[int] = frozenset()


def _signature(db: Path) -> tuple[int, int]:
    """Identity of the KB file on disk; a rebuild swaps in a new file, so this changes."""
    stat = os.stat(db)
    return stat.st_ino, stat.st_mtime_ns


def _opened(view: KBView) -> _Open:
    """This thread's open connection for the view, (re)opened when missing or the KB file changed."""
    cache: dict[KBView, _Open] = getattr(_LOCAL, "cache", None) or {}
    _LOCAL.cache = cache
    try:
        signature = _signature(view.paths.db)
    except FileNotFoundError:
        signature = (-1, -1)  # view.connect() raises KBNotBuiltError with the how-to
    base = view.base()
    entry = cache.get(base)
    if entry is None or entry.signature != signature:
        if entry is not None:
            entry.con.close()
        con = base.connect()
        rows = con.execute("SELECT value FROM build_info WHERE key = 'kb_version'").fetchall()
        entry = _Open(con, signature, rows[0][0] if rows else "unknown")
        cache[base] = entry
    if entry.hidden != view.hidden_polymer_ids:  # this call's per-task hidden set
        set_hidden(entry.con, view.hidden_polymer_ids)
        entry.hidden = view.hidden_polymer_ids
    logger.debug("opened %s (kb_version %s, hidden %s)", view.paths.db, entry.kb_version,
                 sorted(view.hidden_splits))
    return entry


def connection(view: KBView) -> duckdb.DuckDBPyConnection:
    """A read-only connection of this view for the calling thread (do not close it; it is reused)."""
    return _opened(view).con


def measurements_table(view: KBView) -> str:
    """Name of a TEMP table holding exactly the view's visible measurements (created on first use)."""
    entry = _opened(view)
    if not entry.materialised:
        entry.con.execute(f"CREATE OR REPLACE TEMP TABLE {MEASUREMENTS}_all AS "
                          "SELECT * FROM split_measurements ORDER BY polymer_id, property")
        entry.con.execute(f"CREATE OR REPLACE TEMP VIEW {MEASUREMENTS} AS SELECT * FROM {MEASUREMENTS}_all "
                          f"WHERE polymer_id NOT IN (SELECT polymer_id FROM {HIDDEN_TABLE})")
        entry.materialised = True
    return MEASUREMENTS


def split_measurements_table(view: KBView) -> str:
    """Name of the TEMP table of the split-level visible measurements, before any per-task hidden set (for
    statistics cached per split view, such as counts per property)."""
    measurements_table(view)
    return f"{MEASUREMENTS}_all"


def medians_table(view: KBView) -> str:
    """Name of a TEMP table of (polymer_id, property, kind, value = median, n) over the view's values."""
    measurements_table(view)
    entry = _opened(view)
    if not entry.medians:
        entry.con.execute(f"CREATE OR REPLACE TEMP TABLE {MEDIANS}_all AS SELECT polymer_id, property, kind, "
                          f"median(value) AS value, count(*) AS n FROM {MEASUREMENTS}_all GROUP BY ALL "
                          "ORDER BY property, value")
        entry.con.execute(f"CREATE OR REPLACE TEMP VIEW {MEDIANS} AS SELECT * FROM {MEDIANS}_all "
                          f"WHERE polymer_id NOT IN (SELECT polymer_id FROM {HIDDEN_TABLE})")
        entry.medians = True
    return MEDIANS


def first_row(view: KBView, sql: str, params: list | None = None) -> tuple | None:
    """The first row of a query, or None. Fetches to the end: DuckDB refuses register() and other work
    on a connection that still holds an unfinished result (a bare fetchone() leaves one)."""
    rows = connection(view).execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def kb_version(view: KBView) -> str:
    """The build_info kb_version of the KB the view reads, for provenance and cache keys."""
    return _opened(view).kb_version
