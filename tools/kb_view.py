"""A view of the KB for one agent: read-only, and blind to the property values of hidden splits and polymers.

An agent evaluated on the test split sees every structure (polymers, features, fingerprints, monomers)
but no measurement of a test polymer: `measurements` and `property_summary` are shadowed by TEMP views
that drop those rows. A per-task hidden set (`hidden_polymer_ids`, from `for_task`) drops the rows of the
task's own polymers as well, so a teacher writing the reasoning of a property task on the train split
cannot read the answer. The ids live in a TEMP table (`tool_hidden`) that the views anti-join, so one
cached connection serves every task of a split (tools.connections swaps the table's rows). It is a view,
not a copy, so it costs nothing to open.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from kb.config import KBPaths
from kb.store import connect_read_only

if TYPE_CHECKING:
    from agents.schema import Task

SPLITS = frozenset({"train", "dev", "test"})
HIDDEN_TABLE = "tool_hidden"  # TEMP table of the per-task hidden polymer ids


@dataclass(frozen=True)
class KBView:
    """Which KB to read and which splits' (and which polymers') property values to hide."""

    kb_dir: Path
    hidden_splits: frozenset[str] = field(default_factory=frozenset)
    hidden_polymer_ids: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        unknown = set(self.hidden_splits) - SPLITS
        if unknown:
            raise ValueError(f"unknown splits {sorted(unknown)}; splits are {sorted(SPLITS)}")
        object.__setattr__(self, "hidden_polymer_ids", frozenset(int(i) for i in self.hidden_polymer_ids))

    @classmethod
    def for_split(cls, kb_dir: Path, split: str) -> KBView:
        """The view an agent evaluated on `split` gets: train values visible, the rest hidden."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; splits are {sorted(SPLITS)}")
        return cls(Path(kb_dir), frozenset(SPLITS - {"train"}) if split != "train" else frozenset())

    @classmethod
    def for_task(cls, kb_dir: Path, task: Task, hide_own: bool = True) -> KBView:
        """The task's split view; with hide_own also blind to the measured values of the task's own polymers
        (every polymer it draws on or shows), so a property answer must be estimated, not read."""
        view = cls.for_split(kb_dir, task.split)
        return view.hiding(own_polymer_ids(task)) if hide_own else view

    def hiding(self, polymer_ids: frozenset[int] | set[int] | list[int]) -> KBView:
        """This view, also blind to the values of these polymers."""
        return replace(self, hidden_polymer_ids=self.hidden_polymer_ids | frozenset(int(i) for i in polymer_ids))

    def base(self) -> KBView:
        """The same view without a per-task hidden set (what a cached connection is opened for)."""
        return replace(self, hidden_polymer_ids=frozenset()) if self.hidden_polymer_ids else self

    @property
    def paths(self) -> KBPaths:
        return KBPaths(self.kb_dir)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection where hidden splits' and hidden polymers' measurements do not exist."""
        con = connect_read_only(self.paths.db)
        catalog = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f"CREATE TEMP TABLE {HIDDEN_TABLE} (polymer_id BIGINT)")
        set_hidden(con, self.hidden_polymer_ids)
        splits = (f" AND polymer_id IN (SELECT polymer_id FROM \"{catalog}\".main.polymers WHERE "
                  f"split NOT IN ({', '.join(repr(s) for s in sorted(self.hidden_splits))}))"
                  if self.hidden_splits else "")
        for table in ("measurements", "property_summary"):
            con.execute(f"""CREATE TEMP VIEW split_{table} AS SELECT t.* FROM "{catalog}".main.{table} t
                            WHERE TRUE{splits}""")
            con.execute(f"""CREATE TEMP VIEW {table} AS SELECT t.* FROM split_{table} t
                            WHERE t.polymer_id NOT IN (SELECT polymer_id FROM {HIDDEN_TABLE})""")
        return con

    def visible_split(self, split: str | None) -> bool:
        """Whether property values of a polymer in `split` may be shown."""
        return split not in self.hidden_splits

    def visible(self, polymer_id: int | None, split: str | None) -> bool:
        """Whether property values of this polymer (of this split) may be shown."""
        return self.visible_split(split) and polymer_id not in self.hidden_polymer_ids


def set_hidden(con: duckdb.DuckDBPyConnection, polymer_ids: frozenset[int]) -> None:
    """Replace the rows of a connection's hidden-id table (ids are ints: inlined safely)."""
    con.execute(f"DELETE FROM {HIDDEN_TABLE}")
    if polymer_ids:
        con.execute(f"INSERT INTO {HIDDEN_TABLE} VALUES " + ", ".join(f"({int(i)})" for i in sorted(polymer_ids)))


def own_polymer_ids(task: Task) -> frozenset[int]:
    """Every KB polymer a task draws on or shows (its ids and the polymers its params name)."""
    from kb.assemble import polymer_id_of

    return frozenset(int(i) for i in task.polymer_ids) | frozenset(
        polymer_id_of(ref.psmiles) for ref in task.params.polymers)
