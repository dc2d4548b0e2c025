"""What shapes content besides the inputs: the versions of the libraries that compute it and our own code.

A build key or cache key that includes `library_versions()` and `code_fingerprint(...)` changes whenever an
RDKit, DuckDB, NumPy, ... upgrade or an edit of our code could change what is computed, so a stale cache
or a "no-op" rebuild can never hand back content made by other code.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

# libraries whose output ends up in the KB or the task set (parsing, canonical SMILES, features,
# medians, splits, fingerprint indexes, SMiPoly rules, JSON / Parquet writing)
CONTENT_LIBRARIES = ("rdkit", "duckdb", "numpy", "pandas", "pyarrow", "faiss-cpu", "smipoly", "pydantic",
                     "scikit-learn")
ROOT = Path(__file__).resolve().parents[1]


def library_versions(names: tuple[str, ...] = CONTENT_LIBRARIES) -> dict[str, str]:
    """Installed version of each content-shaping library ('absent' when not installed)."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def code_fingerprint(*paths: str) -> str:
    """sha256 (16 hex) of the Python / JSON files under these repo-relative paths (files or folders)."""
    digest = hashlib.sha256()
    for rel in sorted(paths):
        target = ROOT / rel
        files = [target] if target.is_file() else sorted(
            p for p in target.rglob("*") if p.suffix in (".py", ".json") and "__pycache__" not in p.parts)
        for path in files:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def kb_content_hash(con) -> str:
    """sha256 (16 hex) of every table of a KB (build_info aside), row order and float noise-free.

    Each row is hashed from its columns cast to text (DuckDB's shortest round-trip form for doubles), the
    row hashes are sorted, so the hash depends on what the KB holds, not on how it was written. The FAISS
    and text indexes are derived from these tables and not hashed.
    """
    digest = hashlib.sha256()
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name <> 'build_info' ORDER BY 1").fetchall()]
    for table in tables:
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table]).fetchall()]
        cells = ", ".join(f"coalesce(CAST(\"{c}\" AS VARCHAR), '\\0')" for c in columns)
        n, table_md5 = con.execute(
            f"SELECT count(*), md5(coalesce(string_agg(h, ',' ORDER BY h), '')) FROM "
            f"(SELECT md5(concat_ws(chr(31), {cells})) AS h FROM \"{table}\")").fetchall()[0]
        digest.update(f"{table}|{','.join(columns)}|{n}|{table_md5}\n".encode())
    return digest.hexdigest()[:16]
