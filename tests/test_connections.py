"""tools.connections: one reused connection per view and thread, reopened when the KB file changes."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import duckdb
import pyarrow as pa

from kb.config import KBPaths
from tools.connections import connection, first_row, kb_version, measurements_table
from tools.kb_view import KBView


def test_reused_per_view_and_thread(small_kb, small_kb_config) -> None:
    view = KBView(small_kb_config.kb_dir)
    hidden = KBView.for_split(small_kb_config.kb_dir, "test")
    assert connection(view) is connection(view)
    assert connection(hidden) is not connection(view)
    other: list[duckdb.DuckDBPyConnection] = []
    thread = threading.Thread(target=lambda: other.append(connection(view)))
    thread.start()
    thread.join()
    assert other[0] is not connection(view)
    assert first_row(view, "SELECT polymer_id FROM polymers ORDER BY polymer_id") is not None
    connection(view).register("after_first_row", pa.table({"x": [1]}))  # the connection is still usable
    n_all = connection(view).execute("SELECT count(*) FROM measurements").fetchone()[0]
    n_visible = connection(hidden).execute("SELECT count(*) FROM measurements").fetchone()[0]
    assert 0 < n_visible < n_all
    table = measurements_table(hidden)
    same = connection(hidden).execute(f"SELECT count(*) FROM (SELECT * FROM measurements EXCEPT ALL "
                                      f"SELECT * FROM {table})").fetchone()[0]
    assert same == 0 and connection(hidden).execute(f"SELECT count(*) FROM {table}").fetchone()[0] == n_visible
    splits = connection(hidden).execute(f"SELECT DISTINCT p.split FROM {table} JOIN polymers p USING (polymer_id)")
    assert {r[0] for r in splits.fetchall()} == {"train"}


def test_version_and_reopen(small_kb, small_kb_config, tmp_path: Path) -> None:
    copy = KBPaths(tmp_path / "kb")
    copy.current.mkdir(parents=True)
    shutil.copy(small_kb.db_path, copy.db)
    view = KBView(copy.root)
    with duckdb.connect(str(copy.db), read_only=True) as con:
        version = con.execute("SELECT value FROM build_info WHERE key = 'kb_version'").fetchone()[0]
    assert kb_version(view) == version
    first = connection(view)
    stat = os.stat(copy.db)
    os.utime(copy.db, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # as if a rebuild swapped the file
    second = connection(view)
    assert second is not first
    assert second.execute("SELECT count(*) FROM polymers").fetchone()[0] > 0
