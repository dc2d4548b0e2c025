"""kb.versions: content hashes follow the content (not the row order), code and library versions are pinned."""

from __future__ import annotations

from pathlib import Path

import duckdb

from kb.versions import CONTENT_LIBRARIES, code_fingerprint, kb_content_hash, library_versions

ROOT = Path(__file__).resolve().parents[1]


def _kb(rows: list[tuple[int, float]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE measurements (polymer_id BIGINT, value DOUBLE)")
    con.execute("CREATE TABLE build_info (key VARCHAR, value VARCHAR)")
    con.executemany("INSERT INTO measurements VALUES (?, ?)", rows)
    return con


def test_the_content_hash_follows_content_not_order_or_build_info() -> None:
    a = _kb([(1, 2.5), (2, 3.0)])
    b = _kb([(2, 3.0), (1, 2.5)])
    b.execute("INSERT INTO build_info VALUES ('built_at', 'now')")
    assert kb_content_hash(a) == kb_content_hash(b)
    assert kb_content_hash(a) != kb_content_hash(_kb([(1, 2.5), (2, 3.0000001)]))


def test_the_constraints_file_pins_every_content_library_at_its_installed_version() -> None:
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    assert set(pins) == set(CONTENT_LIBRARIES)
    assert pins == library_versions()
    assert "-c constraints.txt" in (ROOT / ".ci" / "install").read_text()


def test_the_code_fingerprint_changes_with_the_code(tmp_path) -> None:
    assert code_fingerprint("kb") == code_fingerprint("kb") != code_fingerprint("kb/units.py")
