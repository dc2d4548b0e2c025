"""A view of the KB for one agent: read-only, and blind to the property values of hidden splits.

An agent evaluated on the test split sees every structure (polymers, features, fingerprints, monomers)
but no measurement of a test polymer: `measurements` and `property_summary` are shadowed by TEMP views
that drop those rows. It is a view, not a copy, so it costs nothing to open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kb.config import KBPaths
from kb.store import connect_read_only

SPLITS = frozenset({"train", "dev", "test"})


@dataclass(frozen=True)
class KBView:
    """Which KB to read and which splits' property values to hide."""

    kb_dir: Path
    hidden_splits: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        unknown = set(self.hidden_splits) - SPLITS
        if unknown:
            raise ValueError(f"unknown splits {sorted(unknown)}; splits are {sorted(SPLITS)}")

    @classmethod
    def for_split(cls, kb_dir: Path, split: str) -> KBView:
        """The view an agent evaluated on `split` gets: train values visible, the rest hidden."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; splits are {sorted(SPLITS)}")
        return cls(Path(kb_dir), frozenset(SPLITS - {"train"}) if split != "train" else frozenset())

    @property
    def paths(self) -> KBPaths:
        return KBPaths(self.kb_dir)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection where hidden splits' measurements do not exist."""
        con = connect_read_only(self.paths.db)
        if self.hidden_splits:
            catalog = con.execute("SELECT current_database()").fetchone()[0]
            hidden = ", ".join(f"'{s}'" for s in sorted(self.hidden_splits))
            con.execute(f"""
                CREATE TEMP VIEW measurements AS
                SELECT m.* FROM "{catalog}".main.measurements m
                JOIN "{catalog}".main.polymers p USING (polymer_id) WHERE p.split NOT IN ({hidden})""")
            con.execute(f"""
                CREATE TEMP VIEW property_summary AS
                SELECT s.* FROM "{catalog}".main.property_summary s
                JOIN "{catalog}".main.polymers p USING (polymer_id) WHERE p.split NOT IN ({hidden})""")
        return con

    def visible_split(self, split: str | None) -> bool:
        """Whether property values of a polymer in `split` may be shown."""
        return split not in self.hidden_splits
