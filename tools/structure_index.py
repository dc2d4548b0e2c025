"""A per-KB structure index for fragment search and class filters, built once and cached on disk.

One pass over every KB polymer gives (1) an RDKit SubstructLibrary with pattern fingerprints and (2) each
polymer's backbone class (tools.backbone_class; its RULE_VERSION is part of the cache folder name). A linear
unit is stored as its dimer (two units joined head to tail) so that a fragment cut by the frame of the key
(PET's ethylene glycol O-C-C-O in ``*COC(=O)c1ccc(C(=O)OC*)cc1``) is still found; other units as written.

Library order is the ranking: measured polymers first, grouped by split (train, dev, test), then the
unmeasured ones; each group by heavy-atom count, then id. A search therefore stops at its limit instead of
scanning everything; a view that hides a split ranks that split's polymers as unmeasured. Pattern
fingerprints cannot screen single atoms, so each row also records its elements: a query needing a rare
element ([Se], [B], Si) searches only the rows that hold it (17 s -> 10 ms for [Se] on the full KB).
Files: ``<kb_dir>/cache/tools/<kb_version>/structure_index_v<schema>.<rule>/`` (library + arrays, ~265 MB
for 432k polymers). Building takes ~1-2 ms per polymer in worker processes (about 14 min on the full KB
on 2 busy cores), loading 3-10 s; both happen once per KB version (per process for loading).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyarrow as pa
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import rdSubstructLibrary

from kb.errors import InvalidPolymerError, PolyBenchError
from kb.repeat_unit import repeat_unit_power, to_mol
from tools.backbone_class import RULE_VERSION, backbone_class
from tools.connections import cache_dir, connection, kb_version
from tools.kb_view import KBView

RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]
logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
MEASURED_GROUPS = {"train": 0, "dev": 1, "test": 2}
UNMEASURED = 3
PARALLEL_ABOVE = 20_000  # polymers; fewer are indexed in-process
ORDERED_BELOW = 20_000  # an element prefilter leaving fewer rows searches just those, in rank order
_COMMON_ELEMENTS = (1 << 6) | (1 << 7) | (1 << 8)  # C, N, O: nearly every polymer, not worth a prefilter
_LIB, _ARRAYS = "substructure.lib", "arrays.npz"
_LOADED: dict[tuple[str, str], StructureIndex] = {}
_BUILD_LOCK = threading.Lock()
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
               candidates: np.ndarray | None = None) -> tuple[list[int], bool]:
        """Rows matching the query, best first, at most `limit`, and whether more exist.

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
                return self._search_order(query, limit, candidates, first)
            found: list[int] = []
            for tier in (first, rest):
                need = limit - len(found)
                if need < 0:
                    break
                hits: list[int] = []
                for g in tier:
                    start, end = self.bounds[g]
                    if end > start:
                        hits += self.library.GetMatches(query, start, end, _PARAMS, _THREADS, need + 1)
                hits.sort(key=lambda r: (self.heavy[r], self.ids[r]))
                found += hits[: need + 1]
        return found[:limit], len(found) > limit

    def _search_order(self, query: Chem.Mol, limit: int, candidates: np.ndarray,
                      first: Sequence[int]) -> tuple[list[int], bool]:
        """Search only the candidate rows in rank order (caller holds the lock)."""
        later = ~np.isin(self.group[candidates], np.asarray(first, dtype=np.int8))
        order = candidates[np.lexsort((self.ids[candidates], self.heavy[candidates], later))]
        if not len(order):
            return [], False
        self.library.SetSearchOrder([int(r) for r in order])
        try:
            rows = list(self.library.GetMatches(query, _PARAMS, _THREADS, limit + 1))
        finally:
            self.library.SetSearchOrder([])
        return rows[:limit], len(rows) > limit


def structure_index(view: KBView) -> StructureIndex:
    """The view's KB index: from this process's memory, the disk cache, or built now (then cached)."""
    version = kb_version(view)
    key = (str(view.paths.db.resolve()), version)
    index = _LOADED.get(key)
    if index is not None:
        return index
    with _BUILD_LOCK:
        index = _LOADED.get(key)
        if index is None:
            folder = cache_dir(view) / f"structure_index_v{SCHEMA_VERSION}.{RULE_VERSION}"
            if not (folder / _ARRAYS).exists():
                build_structure_index(view, folder)
            index = load_structure_index(folder)
            _LOADED[key] = index
    return index


def load_structure_index(folder: Path) -> StructureIndex:
    """Read an index written by build_structure_index; refuse a foreign schema version."""
    arrays = np.load(folder / _ARRAYS, allow_pickle=False)
    if int(arrays["schema_version"]) != SCHEMA_VERSION:
        raise PolyBenchError(f"{folder} holds a structure index of another schema version; delete it")
    library = rdSubstructLibrary.SubstructLibrary((folder / _LIB).read_bytes())  # type: ignore[call-overload]
    return StructureIndex(library, arrays["ids"], arrays["heavy"], arrays["group"], arrays["class_code"],
                          tuple(str(n) for n in arrays["class_names"]), arrays["elements"])


def build_structure_index(view: KBView, folder: Path, n_jobs: int | None = None) -> None:
    """Index every polymer of the view's KB into `folder` (written to a temp folder, then renamed)."""
    start = time.perf_counter()
    con = connection(view)
    rows = con.execute("""
        SELECT p.polymer_id, p.key, p.status,
               CASE WHEN p.n_measurements > 0 AND p.split = 'train' THEN 0
                    WHEN p.n_measurements > 0 AND p.split = 'dev' THEN 1
                    WHEN p.n_measurements > 0 AND p.split = 'test' THEN 2 ELSE 3 END AS grp,
               coalesce(f.heavy_atoms, length(p.key)) AS heavy
        FROM polymers p LEFT JOIN features f USING (polymer_id)
        ORDER BY grp, heavy, p.polymer_id""").fetchall()
    items = [(key, status) for _, key, status, _, _ in rows]
    workers = n_jobs or (min(os.cpu_count() or 1, 4) if len(items) > PARALLEL_ABOVE else 1)
    chunks = [items[i : i + 5000] for i in range(0, len(items), 5000)]
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(_index_chunk, chunks))
    else:
        results = [_index_chunk(chunk) for chunk in chunks]
    holder, fps = rdSubstructLibrary.CachedTrustedSmilesMolHolder(), rdSubstructLibrary.PatternHolder()
    keep, classes, elements = [], [], []
    for i, (smiles, fp, polymer_class, mask) in enumerate(item for chunk in results for item in chunk):
        if smiles is None:
            continue
        holder.AddSmiles(smiles)
        fps.AddFingerprint(DataStructs.ExplicitBitVect(fp))  # type: ignore[call-overload]
        keep.append(i)
        classes.append(polymer_class)
        elements.append(mask)
    names = tuple(sorted({c for c in classes if c}))
    codes = np.array([names.index(c) if c else -1 for c in classes], dtype=np.int8)
    table = np.array([r[0] for r in rows], dtype=np.int64), np.array([r[4] for r in rows], dtype=np.int32), \
        np.array([r[3] for r in rows], dtype=np.int8)
    ids, heavy, group = (column[keep] for column in table)
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / _LIB).write_bytes(rdSubstructLibrary.SubstructLibrary(holder, fps).Serialize())
    np.savez(tmp / _ARRAYS, ids=ids, heavy=heavy, group=group, class_code=codes, class_names=np.array(names),
             elements=np.array(elements, dtype=np.uint64), schema_version=np.array(SCHEMA_VERSION))
    try:
        tmp.rename(folder)
    except OSError:  # another process finished first: keep its index
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("structure index: %d of %d polymers in %.1f s (%d workers)", len(keep), len(rows),
                time.perf_counter() - start, workers)


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
