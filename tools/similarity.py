"""Similarity tools: polymers nearest to a structure (in the KB or not) and to a text query.

Structures of every split stay visible; property values come through the KB view, so hidden splits'
values never appear next to a neighbour.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from kb.features import fingerprint_of
from kb.fp_index import FingerprintIndex
from kb.text_index import Embedder, TextIndex
from tools.connections import connection, kb_version
from tools.errors import ToolError
from tools.kb_view import KBView
from tools.limits import PolymerRef, QueryText, ToolArgs, Word
from tools.resolve import checked_property, resolve_polymer
from tools.schema import DataKind, Provenance


class SimilarArgs(ToolArgs):
    polymer: PolymerRef = Field(description="repeat-unit SMILES with two * ends (need not be in the KB), "
                                           "KB polymer id or KB name")
    k: int = Field(10, ge=1, le=50, description="how many neighbours")
    measured_only: bool = Field(False, description="only neighbours with visible measured properties")
    property: Word | None = Field(None, description="only neighbours with a visible measured value of this "
                                                    "property (e.g. tg), listed first among their values")
    kind: DataKind | None = Field(None, description="with property: only values of this kind")


class TextSearchArgs(ToolArgs):
    query: QueryText = Field(description="words, e.g. 'high Tg fluorinated polyimide' or a name")
    k: int = Field(10, ge=1, le=50)
    kinds: list[Literal["polymer", "monomer", "property"]] | None = Field(
        None, description="restrict to polymers, monomers or property definitions")


class Neighbour(BaseModel):
    polymer_id: int
    key: str
    name: str | None
    split: str | None
    similarity: float
    values: dict[str, str] = Field(default_factory=dict, description="visible property medians, 'value unit (kind)'")


class SimilarPolymers(BaseModel):
    query_key: str
    query_in_kb: bool
    neighbours: list[Neighbour]
    provenance: Provenance


class TextHit(BaseModel):
    doc_id: str
    kind: str
    text: str
    score: float


class TextHits(BaseModel):
    query: str
    hits: list[TextHit]
    provenance: Provenance


@lru_cache(maxsize=4)
def _fp_index(directory: str, stamp: float) -> FingerprintIndex:
    return FingerprintIndex.load(Path(directory))


@lru_cache(maxsize=4)
def _text_index(directory: str, stamp: float) -> TextIndex:
    return TextIndex.load(Path(directory))


@lru_cache(maxsize=1)
def _embedder() -> Embedder:
    return Embedder()


def _stamp(path: Path) -> float:
    if not path.exists():
        raise ToolError(f"the KB at {path.parent} has no {path.name}; rebuild it with `python -m kb.build`")
    return path.stat().st_mtime


def _measured_ids(view: KBView, prop: str | None, kind: str | None) -> np.ndarray:
    """Ids of the polymers with a visible measured value (of `prop` and `kind` when given)."""
    rows = connection(view).execute(
        "SELECT DISTINCT polymer_id FROM property_summary WHERE (?::VARCHAR IS NULL OR property = ?) "
        "AND (?::VARCHAR IS NULL OR kind = ?)", [prop, prop, kind, kind]).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def _values(view: KBView, ids: list[int], per_polymer: int = 6, first: str | None = None) -> dict[int, dict[str, str]]:
    """Up to `per_polymer` visible medians per polymer, the property `first` (every kind) ahead of the rest."""
    rows = connection(view).execute(f"""
        SELECT polymer_id, property, kind, value, unit FROM (
            SELECT *, row_number() OVER (PARTITION BY polymer_id
                                         ORDER BY property = ? DESC, n_measurements DESC, property, kind) AS r
            FROM property_summary WHERE polymer_id IN (SELECT unnest(?::BIGINT[])))
        WHERE r <= {int(per_polymer)}""", [first or "", ids]).fetchall()
    out: dict[int, dict[str, str]] = {}
    for pid, prop, kind, value, unit in rows:
        out.setdefault(pid, {})[f"{prop} ({kind})"] = f"{value:.4g} {unit}"
    return out


def similar_polymers(view: KBView, args: SimilarArgs) -> SimilarPolymers:
    """Nearest KB polymers by Morgan-fingerprint Tanimoto similarity to a repeat unit, with their visible
    measured values. Use it to find analogues of a polymer (also one that is not in the KB) and what is
    known about them; similarity 1.0 means the same fingerprint."""
    found = resolve_polymer(view, args.polymer)
    if args.kind is not None and args.property is None:
        raise ToolError("kind needs a property: name the property whose values the neighbours must have")
    prop = checked_property(args.property).name if args.property else None
    index = _fp_index(str(view.paths.fp_index), _stamp(view.paths.fp_index))
    query = np.frombuffer(fingerprint_of(found.unit.key), dtype=np.uint8)
    if prop is not None or args.measured_only:  # search among the polymers with visible values only, so a
        # polymer whose nearest structures all sit in a hidden split still gets its closest measured analogues
        hits = index.search(query, k=args.k, allowed_ids=_measured_ids(view, prop, args.kind))
    else:
        hits = index.search(query, k=args.k)
    ids = [int(pid) for pid, _ in hits]
    rows = {r[0]: r[1:] for r in connection(view).execute(
        "SELECT polymer_id, key, name, split FROM polymers WHERE polymer_id IN (SELECT unnest(?::BIGINT[]))",
        [ids]).fetchall()}
    values = _values(view, ids, first=prop)
    neighbours = [Neighbour(polymer_id=pid, key=rows[pid][0], name=rows[pid][1], split=rows[pid][2],
                            similarity=round(float(sim), 4), values=values.get(pid, {}))
                  for pid, sim in hits if pid in rows]
    return SimilarPolymers(query_key=found.unit.key, query_in_kb=found.polymer_id is not None,
                           neighbours=neighbours,
                           provenance=Provenance(polymer_ids=[n.polymer_id for n in neighbours],
                                                 kb_version=kb_version(view)))


def text_search(view: KBView, args: TextSearchArgs) -> TextHits:
    """Polymers (by name, groups and measured properties), SMiPoly monomers (IUPAC names) and property
    definitions that match a text query, best first. Use it when a polymer or property is named in words."""
    index = _text_index(str(view.paths.text_index), _stamp(view.paths.text_index))
    found = index.search(args.query, _embedder(), k=args.k, kinds=set(args.kinds) if args.kinds else None)
    hits = [TextHit(doc_id=doc.doc_id, kind=doc.kind, text=doc.text, score=round(float(score), 4))
            for doc, score in found]
    ids = [int(h.doc_id.split(":")[1]) for h in hits if h.kind == "polymer"]
    return TextHits(query=args.query, hits=hits, provenance=Provenance(polymer_ids=ids, kb_version=kb_version(view)))
