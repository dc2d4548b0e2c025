"""Canonical polymer repeat units: one key per linear polymer, whatever frame or multiple it is written in.

A linear unit (two ``*``) can start at any acyclic backbone bond (``*CCO*``, ``*COC*``, ``*OCC*``) or be
written doubled (``*CCOCCO*``); all of these get one key. The key is the canonical SMILES of one real frame
of the primitive unit, picked by symmetry classes of the ring-closed unit M (stars removed, their
neighbours bonded): the frame bonds of every writing are the same bonds of M, so choosing the frames whose
bond has the smallest pair of symmetry ranks is writing-independent and needs only 2-3 canonicalisations
per unit instead of one per backbone bond. Equal keys mean equal polymers because a key is a real frame.
Only single frame bonds are cut when the backbone has one, so keys keep single star bonds where possible
(``*=CCCC=*`` -> ``*C=CCC*``). bench/bench_repeat_unit.py checks the keys against the naive method.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from itertools import pairwise
from multiprocessing import get_context
from typing import Literal

from rdkit import Chem, RDLogger
from rdkit.Chem.rdMolDescriptors import CalcMolFormula

from kb.errors import InvalidPolymerError

RDLogger.DisableLog("rdApp.*")
logger = logging.getLogger(__name__)

Status = Literal["linear", "multi_attachment", "no_attachment"]

ONE_ATTACHMENT = "one attachment point (an end group, not a repeat unit)"
_SINGLE = Chem.BondType.SINGLE
_STAR = Chem.MolFromSmarts("[#0]")
_STAR_OR_H = Chem.MolFromSmarts("[#0,#1]")
_ELEMENT_COUNT = re.compile(r"([A-Z][a-z]?)(\d*)")
BondAtoms = tuple[int, int]  # a bond as (begin, end) atom indices


@dataclass(frozen=True)
class RepeatUnit:
    """A canonical repeat unit: the key the KB deduplicates on, its status and its number of stars."""

    key: str
    status: Status
    n_attachments: int


def parse_polymer(text: str) -> Chem.Mol | None:
    """Molecule of a polymer string with plain ``*`` stars, no stereo, no explicit H; None if unparseable."""
    if not isinstance(text, str) or not text.strip():
        return None
    mol = Chem.MolFromSmiles(text.strip())
    if mol is None:
        return None
    if "[" in text:  # star isotopes / atom maps and explicit H atoms only occur inside brackets
        has_h = False
        for (i,) in mol.GetSubstructMatches(_STAR_OR_H, maxMatches=1_000_000):
            atom = mol.GetAtomWithIdx(i)
            if atom.GetAtomicNum() == 0:
                atom.SetIsotope(0)
                atom.SetAtomMapNum(0)
            else:
                has_h = True
        if has_h:
            mol = Chem.RemoveHs(mol)
    if "@" in text or "/" in text or "\\" in text:
        Chem.RemoveStereochemistry(mol)
    return mol


def to_mol(key: str) -> Chem.Mol:
    """Molecule of a key (stars as dummy atoms), so features and tools can work on the unit."""
    mol = parse_polymer(key)
    if mol is None:
        raise InvalidPolymerError(str(key), _parse_failure(key))
    return mol


def to_repeat_unit(text: str) -> RepeatUnit:
    """Canonical repeat unit of a polymer string; raises InvalidPolymerError naming the input and reason."""
    if not isinstance(text, str):
        raise InvalidPolymerError(repr(text), "not a string")
    if not text.strip():
        raise InvalidPolymerError(text, "empty string")
    mol = parse_polymer(text)
    if mol is None:
        raise InvalidPolymerError(text, _parse_failure(text))
    stars = _checked_stars(text, mol)
    if not stars:
        return RepeatUnit(Chem.MolToSmiles(mol), "no_attachment", 0)
    if len(stars) == 1:
        raise InvalidPolymerError(text, ONE_ATTACHMENT)
    if len(stars) > 2:
        return RepeatUnit(Chem.MolToSmiles(mol), "multi_attachment", len(stars))
    return RepeatUnit(_linear_key(text, mol), "linear", 2)


def batch_to_repeat_units(
    texts: Sequence[str],
    n_jobs: int = 1,
    chunk_size: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> list[RepeatUnit | str]:
    """Repeat units of many strings in input order; a str item is that text's rejection reason.

    n_jobs > 1 runs chunks in a process pool (n_jobs <= 0: one worker per CPU); progress(n) is called
    with the size of each chunk as it completes.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    items = list(texts)
    workers = (os.cpu_count() or 1) if n_jobs <= 0 else n_jobs
    if workers > 1:  # at least one chunk per worker, so a small batch still runs in parallel
        chunk_size = min(chunk_size, max(1, math.ceil(len(items) / workers)))
    chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
    done: list[list[RepeatUnit | str]] = [[] for _ in chunks]
    if workers == 1 or len(chunks) <= 1:
        for i, chunk in enumerate(chunks):
            done[i] = _units_of_chunk(chunk)
            if progress is not None:
                progress(len(chunk))
    else:
        pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=get_context("spawn"))
        with pool:
            futures = {pool.submit(_units_of_chunk, chunk): i for i, chunk in enumerate(chunks)}
            for future in as_completed(futures):
                done[futures[future]] = future.result()
                if progress is not None:
                    progress(len(chunks[futures[future]]))
    results = [unit for chunk in done for unit in chunk]
    n_rejected = sum(isinstance(result, str) for result in results)
    logger.debug("repeat units: %d texts, %d rejected", len(results), n_rejected)
    return results


def repeat_unit_power(mol: Chem.Mol, k: int) -> Chem.Mol:
    """Linear unit of k chained copies, end of copy i bonded to start of i+1: ``*CO*``, 2 -> ``*COCO*``."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    star_a, a, star_z, z = _ends(mol)
    bond_type = mol.GetBondBetweenAtoms(star_z, z).GetBondType()
    n = mol.GetNumAtoms()
    chain = Chem.RWMol()
    for _ in range(k):
        chain.InsertMol(mol)
    chain.BeginBatchEdit()
    for i in range(k - 1):
        chain.AddBond(i * n + z, (i + 1) * n + a, bond_type)
        chain.RemoveAtom(i * n + star_z)
        chain.RemoveAtom((i + 1) * n + star_a)
    chain.CommitBatchEdit()
    try:
        Chem.SanitizeMol(chain)
    except Chem.MolSanitizeException as exc:
        reason = f"{k} chained copies do not sanitise: {exc}"
        raise InvalidPolymerError(Chem.MolToSmiles(mol), reason) from exc
    return chain.GetMol()


def attachment_path(mol: Chem.Mol) -> list[int]:
    """Atom indices on the shortest path between the two star neighbours (the backbone of a linear unit)."""
    _, a, _, z = _ends(mol)
    return [a] if a == z else list(Chem.GetShortestPath(mol, a, z))


def _units_of_chunk(texts: list[str]) -> list[RepeatUnit | str]:
    """Repeat units of one chunk, rejections as reason strings (top level so a process pool can pickle it)."""
    units: list[RepeatUnit | str] = []
    for text in texts:
        try:
            units.append(to_repeat_unit(text))
        except InvalidPolymerError as exc:
            units.append(exc.reason)
    return units


def _parse_failure(text: str) -> str:
    """Why RDKit rejects a string: a SMILES syntax error or a chemistry (sanitisation) error."""
    if not isinstance(text, str) or not text.strip():
        return "empty string"
    raw = Chem.MolFromSmiles(text.strip(), sanitize=False)
    if raw is None:
        return "RDKit could not parse it as SMILES"
    try:
        Chem.SanitizeMol(raw)
    except Chem.MolSanitizeException as exc:
        return f"RDKit could not parse it: {exc}"
    return "RDKit could not parse it"


def _checked_stars(text: str, mol: Chem.Mol) -> list[int]:
    """Star atom indices after checking the molecule is one fragment and every star has one real neighbour."""
    if mol.GetNumAtoms() == 0:
        raise InvalidPolymerError(text, "no atoms")
    n_fragments = len(Chem.GetMolFrags(mol))
    if n_fragments > 1:
        reason = f"{n_fragments} disconnected fragments (a salt or mixture, not one unit)"
        raise InvalidPolymerError(text, reason)
    stars = [i for (i,) in mol.GetSubstructMatches(_STAR, maxMatches=1_000_000)]
    for i in stars:
        star = mol.GetAtomWithIdx(i)
        degree = star.GetDegree()
        if degree == 0:
            raise InvalidPolymerError(text, "the molecule is only an attachment point")
        if degree > 1:
            raise InvalidPolymerError(text, f"an attachment point bonded to {degree} atoms (must be one)")
        if star.GetNeighbors()[0].GetAtomicNum() == 0:
            raise InvalidPolymerError(text, "two attachment points bonded to each other")
    return stars


def _ends(mol: Chem.Mol) -> tuple[int, int, int, int]:
    """(star_a, a, star_z, z) of a linear unit: its two stars (by index) and their neighbours."""
    stars = [mol.GetAtomWithIdx(i) for (i,) in mol.GetSubstructMatches(_STAR, maxMatches=1_000_000)]
    if len(stars) != 2 or any(star.GetDegree() != 1 for star in stars):
        raise InvalidPolymerError(Chem.MolToSmiles(mol), "not a linear unit (two stars, one neighbour each)")
    (a,), (z,) = (star.GetNeighbors() for star in stars)
    return stars[0].GetIdx(), a.GetIdx(), stars[1].GetIdx(), z.GetIdx()


def _frame_bonds(mol: Chem.Mol, a: int, z: int) -> list[BondAtoms]:
    """Acyclic bonds on the shortest a->z path, in path order from a: the bridges that separate a from z."""
    if a == z:
        return []
    path = Chem.GetShortestPath(mol, a, z)
    return [(u, v) for u, v in pairwise(path) if not mol.GetBondBetweenAtoms(u, v).IsInRing()]


def _linear_key(text: str, mol: Chem.Mol) -> str:
    """Frame- and doubling-invariant key of a checked two-star unit (undouble, then pick frames on M)."""
    star_a, a, star_z, z = _ends(mol)
    bond_type = mol.GetBondBetweenAtoms(star_a, a).GetBondType()
    if mol.GetBondBetweenAtoms(star_z, z).GetBondType() != bond_type:
        raise InvalidPolymerError(text, "the two attachment bonds have different bond orders")
    frames = _frame_bonds(mol, a, z)
    primitive = _undoubled(mol, a, frames)
    if primitive is not None:
        mol = primitive
        star_a, a, star_z, z = _ends(mol)
        frames = _frame_bonds(mol, a, z)
    try:
        if a == z or mol.GetBondBetweenAtoms(a, z) is not None:
            return _short_backbone_key(mol, star_a, a, star_z, z, bond_type)
        return _min_frame_smiles(mol, (star_a, star_z), a, z, frames, bond_type)
    except Chem.MolSanitizeException as exc:
        raise InvalidPolymerError(text, f"a frame of the unit does not sanitise: {exc}") from exc
    except RuntimeError as exc:  # an RDKit invariant violation on an exotic unit: reject it, loudly
        logger.warning("RDKit failed on %r: %s", text, exc)
        raise InvalidPolymerError(text, f"RDKit failed on it: {exc}") from exc


def _short_backbone_key(
    mol: Chem.Mol, star_a: int, a: int, star_z: int, z: int, bond_type: Chem.BondType
) -> str:
    """Key of a unit whose backbone is one atom or one bond a-z (M would need a second a-z bond).

    Its frames are the unit itself and, when a-z is acyclic with an order other than the star bonds'
    (``*N=P(*)(C)C`` vs ``*=P(C)(C)N=*``), the unit with the two orders swapped; prefer single star bonds.
    """
    backbone = mol.GetBondBetweenAtoms(a, z) if a != z else None
    if backbone is None or backbone.IsInRing() or backbone.GetBondType() == bond_type:
        return Chem.MolToSmiles(mol)  # every frame is the same graph
    swapped = Chem.RWMol(mol)
    Chem.Kekulize(swapped, clearAromaticFlags=True)
    swapped.GetBondBetweenAtoms(a, z).SetBondType(bond_type)
    for star, end in ((star_a, a), (star_z, z)):
        swapped.GetBondBetweenAtoms(star, end).SetBondType(backbone.GetBondType())
    Chem.SanitizeMol(swapped)
    frames = {bond_type: Chem.MolToSmiles(mol), backbone.GetBondType(): Chem.MolToSmiles(swapped)}
    return frames.get(_SINGLE) or min(frames.values())


def _undoubled(mol: Chem.Mol, a: int, frames: list[BondAtoms]) -> Chem.Mol | None:
    """The smallest unit L with L^k == mol (k >= 2), cut at a frame bond; None when mol is primitive."""
    if not frames:
        return None
    divisor = math.gcd(*(int(n or 1) for _, n in _ELEMENT_COUNT.findall(CalcMolFormula(mol))))
    if divisor < 2:
        return None  # some element count (H included) is not divisible: cannot be a multiple
    n_heavy = mol.GetNumHeavyAtoms()  # stars are not counted
    bonds = [mol.GetBondBetweenAtoms(u, v).GetIdx() for u, v in frames]
    pieces = Chem.GetMolFrags(Chem.FragmentOnBonds(mol, bonds, addDummies=False))
    left = list(next(piece for piece in pieces if a in piece))
    n_left = len(left) - 1  # the left piece holds the first star
    whole, total = "", Counter[tuple[int, int]]()
    for u, v in frames:
        if 2 * n_left > n_heavy:
            break
        k, rest = divmod(n_heavy, n_left)
        if rest == 0 and divisor % k == 0:
            total = total or _atom_signatures(mol, range(mol.GetNumAtoms()))
            part = _atom_signatures(mol, left)
            if len(part) == len(total) and all(total[sig] == k * n for sig, n in part.items()):
                unit = _left_unit(mol, set(left), u, v)
                whole = whole or Chem.MolToSmiles(mol)
                if unit is not None and _power_smiles(unit, k) == whole:
                    return unit
        piece = next(piece for piece in pieces if v in piece)
        left.extend(piece)
        n_left += len(piece)
    return None


def _atom_signatures(mol: Chem.Mol, atoms: Iterable[int]) -> Counter[tuple[int, int]]:
    """Counts of (element, H count) over the non-star atoms given: a cheap necessary test for L^k == P."""
    counts: Counter[tuple[int, int]] = Counter()
    for i in atoms:
        atom = mol.GetAtomWithIdx(i)
        if atom.GetAtomicNum() > 0:
            counts[atom.GetAtomicNum(), atom.GetTotalNumHs()] += 1
    return counts


def _power_smiles(unit: Chem.Mol, k: int) -> str:
    """Canonical SMILES of unit^k, or "" when the chain does not sanitise."""
    try:
        return Chem.MolToSmiles(repeat_unit_power(unit, k))
    except InvalidPolymerError:
        return ""


def _left_unit(mol: Chem.Mol, keep: set[int], u: int, v: int) -> Chem.Mol | None:
    """The atoms in keep with bond u-v replaced by a star on u; None if the piece does not sanitise."""
    unit = Chem.RWMol(mol)
    bond_type = unit.GetBondBetweenAtoms(u, v).GetBondType()
    unit.RemoveBond(u, v)
    unit.AddBond(u, unit.AddAtom(Chem.Atom(0)), bond_type)
    unit.BeginBatchEdit()
    for i in range(mol.GetNumAtoms()):
        if i not in keep:
            unit.RemoveAtom(i)
    unit.CommitBatchEdit()
    try:
        Chem.SanitizeMol(unit)
    except Chem.MolSanitizeException:
        return None
    return unit.GetMol()


def _min_frame_smiles(
    mol: Chem.Mol, stars: tuple[int, int], a: int, z: int, frames: list[BondAtoms], bond_type: Chem.BondType
) -> str:
    """Smallest canonical SMILES over the frames whose bond in M has the minimal pair of symmetry ranks.

    With single attachment bonds the aromatic flags of mol hold in every frame (RDKit counts an exocyclic
    single bond the same whatever its far atom; checked against re-perceived frames on 52k real units),
    so M and the frames are edited without re-perception (fast path). Otherwise a ring next to a star may change aromaticity
    between frames (``C(=*)`` vs ``C(=N...)``): M and each frame are built from the Kekule form and
    sanitised, so flags follow the graph and not the writing.
    """
    exact_flags = bond_type == _SINGLE
    base = mol
    if not exact_flags:
        base = Chem.Mol(mol)
        Chem.Kekulize(base, clearAromaticFlags=True)
    ring = Chem.RWMol(base)
    ring.AddBond(a, z, bond_type)
    for star in sorted(stars, reverse=True):
        ring.RemoveAtom(star)

    def shifted(i: int) -> int:
        return i - (stars[0] < i) - (stars[1] < i)

    joined = (shifted(a), shifted(z))
    cycle = [(shifted(u), shifted(v)) for u, v in frames] + [joined]
    ring.UpdatePropertyCache(strict=False)  # ring info was reset by RemoveAtom; RDKit recomputes it on demand
    # star bonds stay single whenever the backbone allows it (always, on the fast path: the joined bond is)
    candidates = [bond for bond in cycle if ring.GetBondBetweenAtoms(*bond).GetBondType() == _SINGLE] or cycle
    if len(candidates) > 1:
        candidates = _min_sympair_bonds(ring, candidates, exact_flags)
    return min(
        Chem.MolToSmiles(mol) if bond == joined else _cut_smiles(ring, *bond, sanitize=not exact_flags)
        for bond in candidates
    )


def _min_sympair_bonds(ring: Chem.Mol, bonds: list[BondAtoms], exact_flags: bool) -> list[BondAtoms]:
    """The bonds whose sorted pair of isomorphism-invariant atom ranks in M is smallest."""
    ranked: Chem.Mol = ring
    if not exact_flags:
        ranked = Chem.Mol(ring)
        try:
            Chem.SanitizeMol(ranked)
        except Chem.MolSanitizeException:
            logger.debug("ring-closed unit %s does not sanitise; all frames", Chem.MolToSmiles(ring))
            return bonds
    ranks = Chem.CanonicalRankAtoms(ranked, breakTies=False)
    pairs = [(min(ranks[u], ranks[v]), max(ranks[u], ranks[v])) for u, v in bonds]
    best = min(pairs)
    return [bond for bond, pair in zip(bonds, pairs) if pair == best]


def _cut_smiles(ring: Chem.Mol, u: int, v: int, sanitize: bool) -> str:
    """Canonical SMILES of the ring-closed unit cut at bond u-v, with a star on u and on v."""
    frame = Chem.RWMol(ring)
    bond_type = frame.GetBondBetweenAtoms(u, v).GetBondType()
    frame.RemoveBond(u, v)
    for end in (u, v):
        frame.AddBond(end, frame.AddAtom(Chem.Atom(0)), bond_type)
    if sanitize:
        Chem.SanitizeMol(frame)
    else:  # RemoveBond reset the ring info; MolToSmiles perceives rings itself (faster than FastFindRings)
        frame.UpdatePropertyCache(strict=False)
    return Chem.MolToSmiles(frame)
