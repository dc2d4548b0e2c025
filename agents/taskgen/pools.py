"""Per-split pools: everything the task templates sample from, loaded once from the KB into memory.

A pool holds only its split's linear polymers (two * ends), so a template can draw neither a polymer of
another split nor a unit with 0 or more than 2 attachment points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kb.config import KBPaths
from kb.properties import PROPERTIES
from kb.store import connect_read_only


@dataclass
class Pools:
    """One split's polymers (with features), measured values, SMiPoly links and the monomers."""

    split: str
    kb_version: str
    polymers: pd.DataFrame     # polymer_id, key, name, status + feature columns; index = polymer_id
    values: pd.DataFrame       # property_summary rows of this split: polymer_id, property, kind, value, unit, ...
    links: pd.DataFrame        # polymer_id, polymer_class, mon1, mon2 (SMILES), mon1_name, mon2_name, classes
    monomers: pd.DataFrame     # the SMiPoly monomer set (not split-specific: monomers are not polymers)
    _names: dict[int, tuple[str, str | None]] | None = field(default=None, repr=False)
    cache: dict = field(default_factory=dict, repr=False)  # per-pool lookups templates precompute once

    @classmethod
    def load(cls, kb_dir: Path, split: str) -> Pools:
        con = connect_read_only(KBPaths(kb_dir).db)
        try:
            version = con.execute("SELECT value FROM build_info WHERE key = 'kb_version'").fetchone()[0]
            polymers = con.execute("""
                SELECT p.polymer_id, p.key, p.name, p.status, p.n_measurements, f.* EXCLUDE (polymer_id)
                FROM polymers p JOIN features f USING (polymer_id)
                WHERE p.split = ? AND p.status = 'linear' AND f.formula IS NOT NULL ORDER BY p.polymer_id""",
                [split]).df()
            values = con.execute("""
                SELECT s.* FROM property_summary s JOIN polymers p USING (polymer_id)
                WHERE p.split = ? ORDER BY s.polymer_id, s.property, s.kind""", [split]).df()
            links = con.execute("""
                SELECT l1.polymer_id, l1.polymer_class, l1.monomer_smiles AS mon1, l2.monomer_smiles AS mon2,
                       m1.iupac_name AS mon1_name, m2.iupac_name AS mon2_name,
                       m1.monomer_classes AS mon1_classes, m2.monomer_classes AS mon2_classes
                FROM polymer_monomers l1 JOIN polymers p USING (polymer_id)
                LEFT JOIN polymer_monomers l2 ON l2.polymer_id = l1.polymer_id AND l2.row_index = l1.row_index
                     AND l2.role = 'mon2'
                LEFT JOIN monomers m1 ON m1.monomer_id = l1.monomer_id
                LEFT JOIN monomers m2 ON m2.monomer_id = l2.monomer_id
                WHERE l1.role = 'mon1' AND p.split = ? AND p.status = 'linear'
                ORDER BY l1.polymer_id, l1.row_index""", [split]).df()
            monomers = con.execute("SELECT * FROM monomers ORDER BY monomer_id").df()
        finally:
            con.close()
        known = set(PROPERTIES)
        values = values[values["property"].isin(known) & values["polymer_id"].isin(polymers["polymer_id"])]
        values = values.reset_index(drop=True)
        return cls(split, version, polymers.set_index("polymer_id", drop=False), values, links, monomers)

    def values_of(self, prop: str, kind: str | None = None) -> pd.DataFrame:
        """Rows of one property (optionally one kind) in this split."""
        rows = self.values[self.values["property"] == prop]
        return rows if kind is None else rows[rows["kind"] == kind]

    def _name_table(self) -> dict[int, tuple[str, str | None]]:
        """polymer id -> (key, name or None), built in one vectorised pass (a row look-up per question is slow)."""
        if self._names is None:
            named = self.polymers["name"].fillna("").astype(str)
            keys = self.polymers["key"].astype(str)
            self._names = {pid: (k, n or None) for pid, k, n in zip(self.polymers.index.tolist(), keys, named)}
        return self._names

    def key_of(self, polymer_id: int) -> str:
        """A polymer's canonical repeat unit (its KB key)."""
        return self._name_table()[polymer_id][0]

    def name_of(self, polymer_id: int) -> str | None:
        """A polymer's name when a source gives one, else None."""
        return self._name_table()[polymer_id][1]

    def display_name(self, polymer_id: int) -> str:
        """How a question shows a polymer: its name (when a source gives one) and its PSMILES."""
        key, name = self._name_table()[polymer_id]
        return f"{name} ({key})" if name else key
