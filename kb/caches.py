"""Persistent build caches: parsed sources, repeat units by raw string, features by key.

They make a rebuild incremental: a source whose md5 (and manifest entry) is unchanged is not re-read,
and no structure is canonicalised or featurised twice.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pandas as pd

from kb.manifest import SourceFile
from kb.readers import SourceRows
from kb.versions import code_fingerprint, library_versions

CACHE_VERSION = "3"  # the caches are also keyed by the code that fills them and the library versions


def code_key(*code_paths: str) -> str:
    """A cache version: the fingerprint of the code that computes the cached content plus library versions."""
    blob = json.dumps([CACHE_VERSION, code_fingerprint(*code_paths), library_versions()], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def source_cache_key(src: SourceFile, md5: str) -> str:
    """Identity of one parsed source: its manifest entry, its md5 and the readers' code version."""
    blob = json.dumps([src.model_dump(mode="json"), md5, code_key("kb/readers.py", "kb/manifest.py")],
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def load_source_rows(cache_dir: Path, key: str) -> SourceRows | None:
    path = cache_dir / "sources" / f"{key}.pkl"
    if not path.exists():
        return None
    with open(path, "rb") as fh:
        return pickle.load(fh)


def save_source_rows(cache_dir: Path, key: str, rows: SourceRows) -> None:
    path = cache_dir / "sources" / f"{key}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(rows, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


class FrameCache:
    """A parquet table keyed by one string column, appended to and re-saved atomically."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key
        self.frame = pd.read_parquet(path) if path.exists() else None

    def lookup(self, keys: list[str]) -> tuple[pd.DataFrame | None, list[str]]:
        """Cached rows for the keys we have, and the keys we do not have."""
        if self.frame is None:
            return None, list(keys)
        known = self.frame[self.frame[self.key].isin(keys)]
        have = set(known[self.key])
        return known, [k for k in keys if k not in have]

    def add(self, rows: pd.DataFrame) -> None:
        if rows.empty:
            return
        self.frame = rows if self.frame is None else pd.concat([self.frame, rows], ignore_index=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        self.frame.to_parquet(tmp, index=False)
        tmp.replace(self.path)
