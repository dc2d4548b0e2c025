"""The KB's structure index for fragment search and class filters, built by kb.build with the KB.

One pass over every KB polymer gives (1) an RDKit SubstructLibrary with pattern fingerprints and (2) each
polymer's backbone class (kb.backbone_class; its RULE_VERSION is part of the folder name). A linear
unit is stored as its dimer (two units joined head to tail) so that a fragment cut by the frame of the key
(PET's ethylene glycol O-C-C-O in ``*COC(=O)c1ccc(C(=O)OC*)cc1``) is still found; other units as written.

Library order is the ranking: measured polymers first, grouped by split (train, dev, test), then the
unmeasured ones; each group by heavy-atom count, then id. A search therefore stops at its limit instead of
scanning everything; a view that hides a split ranks that split's polymers as unmeasured. Pattern
fingerprints cannot screen single atoms, so each row also records its elements: a query needing a rare
element ([Se], [B], Si) searches only the rows that hold it (17 s -> 10 ms for [Se] on the full KB).
Files: ``<kb_dir>/current/structure_index/v<schema>.<rule>/`` (library + arrays, ~265 MB for 432k
polymers), staged and swapped in with the rest of the KB, so no tool call ever builds it. Indexing takes
~1-2 ms per polymer in worker processes (about 14 min for the full KB on 2 busy cores); per-key entries
are cached in ``<kb_dir>/cache/`` so a rebuild indexes only new structures. Loading takes 3-10 s, once per
process. A search stops at a deadline between slices of the library (RDKit cannot be interrupted inside
one call), so an unspecific query returns what it found in time instead of stalling the caller.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import rdSubstructLibrary

from kb import caches
from kb.backbone_class import RULE_VERSION, backbone_class
from kb.errors import InvalidPolymerError, PolyBenchError
from kb.repeat_unit import repeat_unit_power, to_mol
from kb.workers import process_pool

RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]
logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
MEASURED_GROUPS = {"train": 0, "dev": 1, "test": 2}
UNMEASURED = 3
PARALLEL_ABOVE = 20_000  # polymers; fewer are indexed in-process
ORDERED_BELOW = 20_000  # an element prefilter leaving fewer rows searches just those, in rank order
SLICE = 20_000  # rows searched between two deadline checks (~10-100 ms of RDKit work)
_COMMON_ELEMENTS = (1 << 6) | (1 << 7) | (1 << 8)  # C, N, O: nearly every polymer, not worth a prefilter
_LIB, _ARRAYS = "substructure.lib", "arrays.npz"
_CHUNK = 5000
_PARAMS = Chem.SubstructMatchParameters()
_PARAMS.useChirality = False  # type: ignore[assignment]  # keys carry no stereo
_THREADS = 1  # measured: per-call thread start-up costs more than it saves on a limit-20 search
_ELEMENT_QUERY = re.compile(r"^\[?(?:\d*)(?:#(\d+)|([A-Z][a-z]?|se|as|[cnopsb]))")


@dataclass
class StructureIndex:
    """The library and, aligned with it, polymer ids, heavy atoms, rank groups and class codes."""

    library: rdSubstructLibrary.SubstructLibrary
    ids: np.ndarray
    heavy: np.ndarray
    group: np.ndarray
    class_code: np.ndarray
    class_names: tuple[str, ...]
    elements: np.ndarray  # uint64 per row: bit min(Z, 63) set for every element present
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._by_id = np.argsort(self.ids, kind="stable")
        starts = np.searchsorted(self.group, np.arange(UNMEASURED + 2))
        self.bounds = {g: (int(starts[g]), int(starts[g + 1])) for g in range(UNMEASURED + 1)}
        self._class_table: pa.Table | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def rows_of(self, polymer_ids: Sequence[int]) -> np.ndarray:
        """Library rows of the given polymer ids (ids not indexed are dropped)."""
        wanted = np.asarray(polymer_ids, dtype=np.int64)
        pos = np.searchsorted(self.ids, wanted, sorter=self._by_id)
        pos = np.minimum(pos, len(self.ids) - 1)
        rows = self._by_id[pos]
        return rows[self.ids[rows] == wanted] if len(self.ids) else rows[:0]

    def class_of(self, polymer_ids: Sequence[int]) -> dict[int, str]:
        """Backbone class per polymer id (only ids that are indexed and got a class)."""
        rows = self.rows_of(polymer_ids)
        return {int(self.ids[r]): self.class_names[self.class_code[r]] for r in rows
                if self.class_code[r] >= 0}

    def ids_of_class(self, name: str) -> np.ndarray:
        """Polymer ids whose backbone class is `name`."""
        if name not in self.class_names:
            return np.empty(0, dtype=np.int64)
        return self.ids[self.class_code == self.class_names.index(name)]

    def class_table(self) -> pa.Table:
        """(polymer_id, polymer_class) of every indexed polymer, for joins in SQL (built once)."""
        if self._class_table is None:
            names = [self.class_names[c] if c >= 0 else None for c in self.class_code]
            self._class_table = pa.table({"polymer_id": pa.array(self.ids, pa.int64()),
                                          "polymer_class": pa.array(names, pa.string())})
        return self._class_table

    def search(self, query: Chem.Mol, limit: int, first: Sequence[int], rest: Sequence[int],
               candidates: np.ndarray | None = None, deadline: float | None = None) -> SearchResult:
        """Rows matching the query, best first, at most `limit`, whether more exist, and whether the
        search stopped at `deadline` (a time.monotonic() value) before it had looked everywhere.

        Groups `first` (merged by size) rank before groups `rest`. With candidate rows only those are
        searched; so are the rows holding every element the query requires, when they are few.
        """
        required = required_elements(query)
        if required & ~_COMMON_ELEMENTS:
            subset = np.flatnonzero((self.elements & np.uint64(required)) == np.uint64(required))
            if candidates is not None:
                candidates = np.intersect1d(candidates, subset)
            elif len(subset) < ORDERED_BELOW:
                candidates = subset
        with self.lock:  # a search order is library state: one search at a time
            if candidates is not None:
                return self._search_order(query, limit, candidates, first, deadline)
            found: list[int] = []
            for tier in (first, rest):
                need = limit - len(found)
                if need < 0:
                    break
                hits: list[int] = []
                for g in tier:  # the best need + 1 of every group, merged by size below
                    start, end = self.bounds[g]
                    own: list[int] = []
                    for lo in range(start, end, SLICE):
                        if _past(deadline):
                            return _cut(found + sorted(hits + own, key=self._rank), limit, stopped=True)
                        own += self.library.GetMatches(query, lo, min(lo + SLICE, end), _PARAMS, _THREADS,
                                                       need + 1 - len(own))
                        if len(own) > need:
                            break
                    hits += own
                hits.sort(key=self._rank)
                found += hits[: need + 1]
        return _cut(found, limit, stopped=False)

    def _rank(self, row: int) -> tuple[int, int]:
        return int(self.heavy[row]), int(self.ids[row])

    def _search_order(self, query: Chem.Mol, limit: int, candidates: np.ndarray, first: Sequence[int],
                      deadline: float | None) -> SearchResult:
        """Search only the candidate rows in rank order, slice by slice (caller holds the lock)."""
        later = ~np.isin(self.group[candidates], np.asarray(first, dtype=np.int8))
        order = candidates[np.lexsort((self.ids[candidates], self.heavy[candidates], later))]
        rows: list[int] = []
        try:
            for lo in range(0, len(order), SLICE):
                if _past(deadline):
                    return _cut(rows, limit, stopped=True)
                self.library.SetSearchOrder([int(r) for r in order[lo : lo + SLICE]])
                rows += self.library.GetMatches(query, _PARAMS, _THREADS, limit + 1 - len(rows))
                if len(rows) > limit:
                    break
        finally:
            self.library.SetSearchOrder([])
        return _cut(rows, limit, stopped=False)


@dataclass(frozen=True)
class SearchResult:
    """Matching rows in rank order, whether more matched, and whether the deadline cut the search."""

    rows: list[int]
    more: bool
    stopped: bool


def _cut(rows: list[int], limit: int, stopped: bool) -> SearchResult:
    return SearchResult(rows[:limit], len(rows) > limit, stopped)


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def index_folder(current: Path) -> Path:
    """Where a KB release (``current/`` or ``staging/``) keeps its structure index of this code version."""
    return Path(current) / "structure_index" / f"v{SCHEMA_VERSION}.{RULE_VERSION}"


def load_structure_index(folder: Path) -> StructureIndex:
    """Read an index written by build_structure_index; refuse a foreign schema version."""
    arrays = np.load(folder / _ARRAYS, allow_pickle=False)
    if int(arrays["schema_version"]) != SCHEMA_VERSION:
        raise PolyBenchError(f"{folder} holds a structure index of another schema version; rebuild the KB")
    library = rdSubstructLibrary.SubstructLibrary((folder / _LIB).read_bytes())  # type: ignore[call-overload]
    return StructureIndex(library, arrays["ids"], arrays["heavy"], arrays["group"], arrays["class_code"],
                          tuple(str(n) for n in arrays["class_names"]), arrays["elements"])


def rank_groups(split: pd.Series, n_measurements: pd.Series) -> np.ndarray:
    """The rank group of each polymer: measured ones by split (train, dev, test), then UNMEASURED."""
    group = split.map(MEASURED_GROUPS).fillna(UNMEASURED).to_numpy(dtype=np.int8)
    return np.where(n_measurements.to_numpy() > 0, group, UNMEASURED).astype(np.int8)


def build_structure_index(polymers: pd.DataFrame, folder: Path, cache_file: Path | None = None,
                          n_jobs: int = 1, progress: Callable[[int], None] | None = None) -> int:
    """Index polymers (polymer_id, key, status, group, heavy) into `folder`; returns how many were indexed.

    Per-key entries (search SMILES, pattern fingerprint, class, elements) come from `cache_file` when it
    has them, so a rebuild indexes only new structures. Written to a temp folder, then renamed.
    """
    start = time.perf_counter()
    rows = polymers.sort_values(["group", "heavy", "polymer_id"], kind="stable").reset_index(drop=True)
    cache = caches.FrameCache(cache_file, "key") if cache_file is not None else None
    known, missing = cache.lookup(rows["key"].drop_duplicates().tolist()) if cache else (None, rows["key"].tolist())
    status = dict(zip(rows["key"], rows["status"]))
    items = [(key, status[key]) for key in missing]
    chunks = [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]
    workers = n_jobs if len(items) > PARALLEL_ABOVE else 1
    fresh = []
    if workers > 1 and len(chunks) > 1:
        with process_pool(min(workers, len(chunks))) as pool:
            for chunk, result in zip(chunks, pool.map(_index_chunk, chunks)):
                fresh.append(_entries(chunk, result))
                if progress:
                    progress(len(chunk))
    else:
        for chunk in chunks:
            fresh.append(_entries(chunk, _index_chunk(chunk)))
            if progress:
                progress(len(chunk))
    new = pd.concat(fresh, ignore_index=True) if fresh else _entries([], [])
    if cache is not None:
        cache.add(new)
    entries = pd.concat([f for f in (known, new) if f is not None and len(f)] or [new], ignore_index=True)
    table = rows.merge(entries.drop_duplicates("key"), on="key", how="left", sort=False)
    table = table[table["smiles"].notna()]
    holder, fps = rdSubstructLibrary.CachedTrustedSmilesMolHolder(), rdSubstructLibrary.PatternHolder()
    for smiles, fp in zip(table["smiles"], table["fp"]):
        holder.AddSmiles(smiles)
        fps.AddFingerprint(DataStructs.ExplicitBitVect(fp))  # type: ignore[call-overload]
    classes = table["polymer_class"].tolist()
    names = tuple(sorted({c for c in classes if isinstance(c, str) and c}))
    codes = np.array([names.index(c) if isinstance(c, str) and c else -1 for c in classes], dtype=np.int8)
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / _LIB).write_bytes(rdSubstructLibrary.SubstructLibrary(holder, fps).Serialize())
    np.savez(tmp / _ARRAYS, ids=table["polymer_id"].to_numpy(np.int64), heavy=table["heavy"].to_numpy(np.int32),
             group=table["group"].to_numpy(np.int8), class_code=codes, class_names=np.array(names),
             elements=table["elements"].to_numpy(np.uint64), schema_version=np.array(SCHEMA_VERSION))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    logger.info("structure index: %d of %d polymers (%d new) in %.1f s (%d workers)", len(table), len(rows),
                len(items), time.perf_counter() - start, workers)
    return len(table)


def _entries(items: list[tuple[str, str]], results: list[tuple[str | None, bytes, str | None, int]]) -> pd.DataFrame:
    """A cache frame (key, smiles, fp, polymer_class, elements) of indexed items."""
    return pd.DataFrame({"key": [k for k, _ in items], "smiles": [r[0] for r in results],
                         "fp": [r[1] for r in results], "polymer_class": [r[2] for r in results],
                         "elements": np.array([r[3] for r in results], dtype=np.uint64)})


def search_mol(unit: Chem.Mol, status: str) -> Chem.Mol:
    """The molecule a polymer is searched as: the dimer of a linear unit, other units as written."""
    return repeat_unit_power(unit, 2) if status == "linear" else unit


def required_elements(query: Chem.Mol) -> int:
    """Element bits (as in StructureIndex.elements) every match of a query must contain.

    Only atoms whose SMARTS starts with one element (``[#34]``, ``[Se]``, ``[C&X3]``) count; OR lists,
    negated or recursive atoms require nothing, so the prefilter never drops a true match.
    """
    mask = 0
    for atom in query.GetAtoms():
        smarts = atom.GetSmarts()
        if "," in smarts:  # an OR of atoms requires no single element
            continue
        match = _ELEMENT_QUERY.match(smarts)
        if match is None:
            continue
        number = int(match.group(1)) if match.group(1) else _atomic_number(match.group(2))
        if number > 0:
            mask |= 1 << min(number, 63)
    return mask


def _atomic_number(symbol: str) -> int:
    """Atomic number of an element symbol (aromatic lower case too), 0 if it is not one."""
    if symbol in ("R", "D", "X", "H", "A", "a", "r", "v", "x", "h"):
        return 0
    try:
        return Chem.GetPeriodicTable().GetAtomicNumber(symbol[0].upper() + symbol[1:])
    except RuntimeError:
        return 0


def _element_mask(mol: Chem.Mol) -> int:
    mask = 0
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() > 0:
            mask |= 1 << min(atom.GetAtomicNum(), 63)
    return mask


def _index_chunk(items: list[tuple[str, str]]) -> list[tuple[str | None, bytes, str | None, int]]:
    """(search SMILES, pattern fingerprint, class, element bits) per (key, status); None SMILES if unusable."""
    maker = rdSubstructLibrary.PatternHolder()
    out: list[tuple[str | None, bytes, str | None, int]] = []
    for key, status in items:
        try:
            unit = to_mol(key)
            mol = search_mol(unit, status)
            polymer_class = backbone_class(unit, status)
        except (InvalidPolymerError, RuntimeError, ValueError) as exc:
            logger.debug("not indexed %s: %s", key, exc)
            out.append((None, b"", None, 0))
            continue
        out.append((Chem.MolToSmiles(mol), maker.MakeFingerprint(mol).ToBinary(), polymer_class,
                    _element_mask(unit)))
    return out
