"""RDKit features of a polymer repeat unit: descriptors, functional-group counts and a Morgan fingerprint.

Each key is parsed once; everything comes from that one Mol. How the ``*`` ends are treated, per feature:

- formula, mw, heavy_atoms, heteroatoms, halogens, n_f/n_cl/n_br: the real atoms only (stars dropped, no H
  added), i.e. the composition of one repeat unit: PE ``*CC*`` -> C2H4, 28.05 g/mol.
- tpsa, hbd, fraction_sp3, rings, aromatic_rings: the unit with the stars kept as opaque heavy neighbours
  (aromatic as RDKit perceives it: a pyromellitic diimide core counts 3 rings, so Kapton has 5).
  These look only at an atom's own element, H count, bonds and number of heavy neighbours, which the star
  keeps exactly as in the chain; an H cap would turn PEO's backbone ether O into an OH (TPSA 9.2 -> 20.2).
- logp, mr: Crippen contributions (implicit H included) of the real atoms, each star capped by a methyl
  that is itself left out; Crippen types depend on the neighbour's element, and a carbon cap types the
  ends as in a carbon-linked chain (PE: 2 x CH2 = 0.7802, the per-CH2 increment of long alkanes; an H cap
  gives ethane's 1.03, a bare star 0.92). Where the link is not plain C-C, the capped dimer minus the
  capped unit (see below), so a link through O or C(=O) is typed as in the chain. They are computed for
  every unit (AddHs + ~110 SMARTS, what MolLogP does; ~430 us a SMiPoly unit). A cache per radius-2 Morgan
  environment was ~4x cheaper but not exact: a Crippen type can depend on the aromaticity of an atom two
  bonds away, which that environment does not encode (an aliphatic and an aromatic-ring carbonyl O share
  it), so values depended on which units a worker process had seen first. No-attachment molecules get
  exactly MolLogP / MolMR.
- rotatable_bonds, hba (RDKit's NumHBA SMARTS) and every linkage group: counted per repeat unit *in the
  chain*, as count(dimer) - count(unit) (trimer - dimer when a 1-2 atom backbone holds a heteroatom or a
  multiple bond), the dimer being two copies joined head to tail. So the link bond and a linkage cut by
  the frame (PET's ester, whose C(=O) and O sit at opposite ends of the key) count exactly once, whatever
  frame the key is written in. When both ends are plain sp3 carbons nothing reaches across the link and
  the unit is counted directly (+1 rotatable bond for the link); tests and bench check this shortcut.
  rotatable_bonds uses RDKit's NonStrict rule (acyclic single bond, both ends non-terminal, no triple bond):
  PE 2, PS 3 per unit. Local groups (rings, halogens, C#N, C=C, OH...) are counted on the unit directly.
- backbone_atoms: the atoms that lie on some star-to-star path visiting no atom twice (the block of the
  graph that holds both stars once they are joined): every atom of a ring the chain runs through counts,
  pendant atoms (C=O / S=O oxygens, side groups) and rings hanging off one backbone atom (cardo, spiro side
  rings) do not: PET 12 of 14 heavy atoms, nylon-6 7 of 8; sidechain_atoms: the rest.
  Multi-attachment (> 2 or 1 star) and no-attachment units have no chain: their backbone columns are None
  and their counts are taken on the unit as written.

Linkages are counted once, by the most specific group that owns the carbonyl (or O/N): imide > urea >
oxazolidone > urethane > carbonate > anhydride > ester > amide > ketone; acid > hydroxyl; epoxide and acetal
oxygens are not ethers; carbonyl, carbonate, anhydride and urethane oxygens are not ethers either.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from operator import itemgetter
from typing import TYPE_CHECKING

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import rdFingerprintGenerator, rdMolDescriptors

from kb.errors import InvalidPolymerError

if TYPE_CHECKING:  # pandas is imported where the frame is built, keeping spawned workers light
    import pandas as pd

RDLogger.DisableLog("rdApp.*")
logger = logging.getLogger(__name__)

FP_BITS = 2048


@dataclass(frozen=True)
class FunctionalGroup:
    """A functional group or linkage: its SMARTS (counted as unique matches) and a one-line description."""

    name: str
    smarts: str
    description: str


_NOT_ACYL = "!$([#6]=[O,S,N])"
# name, SMARTS, description, what must be present (elements or _SCREENS), needs chain context (can span the link)
_GROUP_TABLE: tuple[tuple[str, str, str, tuple[str, ...], bool], ...] = (
    ("ester", "[#6][#6X3](=[OX1])[OX2][#6;!$([#6]=[OX1])]", "carboxylic ester C(=O)O-C", ("C=O", "-O-"), True),
    ("amide", "[#6][#6X3](=[OX1])[#7X3;!$([#7]([#6X3]=[OX1])[#6X3]=[OX1])]", "amide C-C(=O)-N (not imide/urea/urethane)",
     ("C=O", ">N-"), True),
    ("imide", "[#6X3](=[OX1])[#7X3][#6X3]=[OX1]", "imide C(=O)-N-C(=O), one per N", ("C=O", ">N-"), True),
    ("ether", "[OX2;!$(O1[#6][#6]1);!$(O[#6]=[O,S,N]);!$(O[CX4][OX2][#6])]([#6])[#6]",
     "aliphatic or aromatic C-O-C (not ester, carbonate, acetal or epoxide O)", ("-O-",), True),
    ("carbonate", "[#6][OX2][#6X3](=[OX1])[OX2][#6]", "carbonate O-C(=O)-O", ("C=O", "-O-"), True),
    ("urethane", "[#6][OX2][#6X3;!$([#6]1(=[OX1])[OX2][#6][#6][#7]1)](=[OX1])[#7X3]",
     "urethane (carbamate) O-C(=O)-N, not in an oxazolidone ring", ("C=O", "-O-", ">N-"), True),
    ("urea", "[#7X3][#6X3](=[OX1])[#7X3]", "urea N-C(=O)-N", ("C=O", ">N-"), True),
    ("sulfone", "[#6][SX4](=[OX1])(=[OX1])[#6]", "sulfone C-S(=O)(=O)-C", ("O", "S"), True),
    ("siloxane", "[Si][OX2][Si]", "siloxane Si-O-Si, one per O", ("-O-", "Si"), True),
    ("ketone", "[#6][#6X3](=[OX1])[#6]", "ketone C-C(=O)-C", ("C=O",), True),
    ("nitrile", "[CX2]#[NX1]", "nitrile C#N", ("N",), False),
    ("carboxylic_acid", "[#6X3](=[OX1])[OX2H1,OX1-]", "carboxylic acid or carboxylate", ("C=O", "-O-"), False),
    ("hydroxyl", "[OX2H1][#6;!$([#6]=[OX1,SX1])]", "alcohol or phenol OH (not acid OH)", ("-O-",), False),
    ("primary_amine", f"[NX3H2;+0][#6;{_NOT_ACYL}]", "primary amine C-NH2 (not amide)", (">N-",), False),
    ("secondary_amine", f"[NX3H1;+0]([#6;{_NOT_ACYL}])[#6;{_NOT_ACYL}]", "secondary amine C-NH-C (not amide)",
     (">N-",), True),
    ("aromatic_ring", "[a]", "aromatic ring of any size, counted by RDKit ring perception", (), False),
    ("alkene", "[CX3]=[CX3]", "non-aromatic C=C", ("C",), False),
    ("anhydride", "[#6X3](=[OX1])[OX2][#6X3]=[OX1]", "carboxylic anhydride C(=O)-O-C(=O)", ("C=O", "-O-"), True),
    ("acetal", "[CX4]([OX2][#6])[OX2][#6]", "acetal or ketal carbon C(OC)(OC)", ("-O-",), True),
    ("thioether", "[#6][SX2;+0][#6]", "thioether (sulfide) C-S-C, not aromatic S", ("S",), True),
    ("sulfonamide", "[SX4](=[OX1])(=[OX1])[#7X3]", "sulfonamide S(=O)(=O)-N", (">N-", "S"), True),
    ("imine", "[CX3;!$([CX3](=[NX2])[#7,#8,#16])]=[NX2;+0]", "imine / azomethine C=N (not amidine)", ("N",), True),
    ("nitro", "[NX3;$([NX3+](=[OX1])[OX1-]),$([NX3](=[OX1])=[OX1])]", "nitro group", (">N-", "O"), False),
    ("epoxide", "[OX2]1[#6][#6]1", "epoxide (oxirane) ring", ("-O-",), False),
    ("oxazolidone", "[#6X3]1(=[OX1])[OX2][#6][#6][#7X3]1", "2-oxazolidinone ring", ("C=O", "-O-", ">N-"), False),
    ("fluoro", "[F]", "fluorine atom", ("F",), False),
    ("chloro", "[Cl]", "chlorine atom", ("Cl",), False),
    ("bromo", "[Br]", "bromine atom", ("Br",), False),
    ("phenyl", "c1ccccc1", "benzene ring (phenyl, phenylene, benzo)", ("C",), False),
    ("pyridine_n", "[nX2]", "pyridine-like aromatic N (no H)", ("N",), False),
)
FUNCTIONAL_GROUPS: dict[str, FunctionalGroup] = {n: FunctionalGroup(n, s, d) for n, s, d, _, _ in _GROUP_TABLE}
_SPECIAL_COLUMNS = {"fluoro": "n_f", "chloro": "n_cl", "bromo": "n_br", "aromatic_ring": "aromatic_rings"}
GROUP_COLUMNS: dict[str, str] = {name: _SPECIAL_COLUMNS.get(name, f"n_{name}") for name in FUNCTIONAL_GROUPS}

FEATURE_COLUMNS: dict[str, str] = {
    "formula": "VARCHAR", "mw": "DOUBLE", "heavy_atoms": "INTEGER", "tpsa": "DOUBLE", "logp": "DOUBLE",
    "mr": "DOUBLE", "hbd": "INTEGER", "hba": "INTEGER", "rotatable_bonds": "INTEGER", "rings": "INTEGER",
    "aromatic_rings": "INTEGER", "fraction_sp3": "DOUBLE", "heteroatoms": "INTEGER", "halogens": "INTEGER",
    "n_f": "INTEGER", "n_cl": "INTEGER", "n_br": "INTEGER", "backbone_atoms": "INTEGER",
    "sidechain_atoms": "INTEGER", "backbone_aromatic": "BOOLEAN", "n_attachments": "INTEGER",
    **{col: "INTEGER" for col in GROUP_COLUMNS.values() if col not in ("n_f", "n_cl", "n_br", "aromatic_rings")},
}

_PATTERNS = {name: Chem.MolFromSmarts(smarts) for name, smarts, *_ in _GROUP_TABLE}
_NEEDS = {name: needs for name, _, _, needs, _ in _GROUP_TABLE}
_CHAIN_GROUPS = [name for name, *_, chain in _GROUP_TABLE if chain]
_LOCAL_GROUPS = [name for name, *_, chain in _GROUP_TABLE if not chain and name != "aromatic_ring"]
# RDKit's own NonStrict rotatable-bond and (v2.0.2) H-bond acceptor SMARTS, counted in chain context
_ROTATABLE = Chem.MolFromSmarts("[!$(*#*)&!D1]-&!@[!$(*#*)&!D1]")
_HBA = Chem.MolFromSmarts("[$([O,S;H1;v2]-[!$(*=[O,N,P,S])]),$([O,S;H0;v2]),$([O,S;-]),"
                          "$([N;v3;!$(N-*=!@[O,N,P,S])]),$([nH0X2,o,s;+0])]")
# cheap local screens: a group whose screen finds nothing in the unit is absent from its chain too
_SCREENS = {screen: (element, Chem.MolFromSmarts(smarts)) for screen, element, smarts in
            (("C=O", "O", "[#6]=[OX1]"), ("-O-", "O", "[OX2,OX1-]"), (">N-", "N", "[#7X3]"))}
_STAR = Chem.MolFromSmarts("[#0]")
# a star on an sp3 carbon with only carbon neighbours: no group reaches across such a link, so a unit
# whose two ends are both plain counts the same as in the chain (checked against the dimer in the tests)
_PLAIN_END = Chem.MolFromSmarts("[#0]-[CX4;!$(*~[!#6;!#0])]")
_ELEMENT = re.compile(r"([A-Z][a-z]?|\*)(\d*)")
_STAR_COUNT = re.compile(r"\*\d*")
_ELEMENT_GROUPS = {"fluoro": "F", "chloro": "Cl", "bromo": "Br"}
_MAX_MATCHES = 1_000_000
_FP_GEN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=FP_BITS)
_NULL_ROW = (None,) * len(FEATURE_COLUMNS)


def _to_mol(key: str) -> Chem.Mol:
    """Molecule of a repeat-unit key (stars as dummy atoms); raises InvalidPolymerError naming why not."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidPolymerError(str(key), "empty or not a string")
    mol = Chem.MolFromSmiles(key)
    if mol is None:
        raw = Chem.MolFromSmiles(key, sanitize=False)
        if raw is None:
            raise InvalidPolymerError(key, "RDKit could not parse it as SMILES")
        try:
            Chem.SanitizeMol(raw)
        except Chem.MolSanitizeException as exc:
            raise InvalidPolymerError(key, f"RDKit could not sanitise it: {exc}") from exc
        raise InvalidPolymerError(key, "RDKit could not parse it")
    if mol.GetNumAtoms() == 0:
        raise InvalidPolymerError(key, "no atoms")
    return mol


def fingerprint_of_mol(mol: Chem.Mol) -> bytes:
    """Morgan radius-2 bits of the unit as written (stars included), np.packbits-packed to FP_BITS/8 bytes."""
    return np.packbits(_FP_GEN.GetFingerprintAsNumPy(mol)).tobytes()


def fingerprint_of(key: str) -> bytes:
    """Packed Morgan fingerprint of a repeat-unit key (see fingerprint_of_mol)."""
    return fingerprint_of_mol(_to_mol(key))


def groups_present(mol_or_key: Chem.Mol | str) -> dict[str, int]:
    """Functional groups found in a unit (name -> count per repeat unit, only counts > 0), in table order."""
    mol = _to_mol(mol_or_key) if isinstance(mol_or_key, str) else mol_or_key
    stars = _stars(mol, mol_or_key if isinstance(mol_or_key, str) else None)
    elements = _element_counts(rdMolDescriptors.CalcMolFormula(mol))
    counts = _group_counts(mol, stars, elements, _chain_pair(mol, stars))
    return {name: counts[name] for name in FUNCTIONAL_GROUPS if counts[name] > 0}


def features_of(key: str) -> dict[str, object]:
    """Every FEATURE_COLUMNS value of one unit; raises InvalidPolymerError(key, reason) if unusable."""
    values, _ = _features_and_fp(key)
    return dict(zip(FEATURE_COLUMNS, values))


def batch_featurize(
    keys: Sequence[str],
    n_jobs: int = 1,
    chunk_size: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, list[bytes | None], list[str | None]]:
    """Features, packed fingerprints and failure reasons of many keys, rows aligned with keys.

    A failed unit gets an all-null row, fingerprint None and its reason. n_jobs > 1 runs chunks in a
    spawned process pool (n_jobs <= 0: one per CPU; a script must call it under ``if __name__ ==
    "__main__":``); progress(n) is called with each finished chunk's size.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    items = list(keys)
    workers = (os.cpu_count() or 1) if n_jobs <= 0 else n_jobs
    if workers > 1:  # >= 8 chunks per worker, so a small batch still spreads evenly over the workers
        chunk_size = min(chunk_size, max(1, -(-len(items) // (8 * workers))))
    chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
    parts: list[dict[str, np.ndarray]] = []
    fps: list[bytes | None] = []
    reasons: list[str | None] = []
    results: Iterator[tuple[dict[str, np.ndarray], list[bytes | None], list[str | None]]]
    if workers == 1 or len(chunks) <= 1:
        results = map(_featurize_chunk, chunks)
        pool = None
    else:  # spawn: a parent holding threads (torch, FAISS) must not be forked
        pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=get_context("spawn"))
        results = pool.map(_featurize_chunk, chunks)
    try:
        for columns, chunk_fps, chunk_reasons in results:
            parts.append(columns)
            fps += chunk_fps
            reasons += chunk_reasons
            if progress is not None:
                progress(len(chunk_fps))
    finally:
        if pool is not None:
            pool.shutdown()
    logger.debug("featurised %d units, %d failed", len(fps), sum(r is not None for r in reasons))
    return _frame_of(parts), fps, reasons


def _featurize_chunk(keys: list[str]) -> tuple[dict[str, np.ndarray], list[bytes | None], list[str | None]]:
    """Column arrays, fingerprints and reasons of one chunk (top level so a process pool can pickle it).

    Columns are float64 (NaN for null; integers and booleans too, exact) or object for text, so workers do
    the transposing and the parent only concatenates.
    """
    rows: list[tuple] = []
    fps: list[bytes | None] = []
    reasons: list[str | None] = []
    for key in keys:
        try:
            values, fp, reason = *_features_and_fp(key), None
        except InvalidPolymerError as exc:
            values, fp, reason = _NULL_ROW, None, exc.reason
        rows.append(values)
        fps.append(fp)
        reasons.append(reason)
    columns = zip(*rows) if rows else [()] * len(FEATURE_COLUMNS)
    return {name: np.array(values, dtype=object if duck_type == "VARCHAR" else np.float64)
            for (name, duck_type), values in zip(FEATURE_COLUMNS.items(), columns)}, fps, reasons


def _features_and_fp(key: str, shortcut: bool = True) -> tuple[tuple, bytes]:
    """FEATURE_COLUMNS values (in order) and the packed fingerprint, both from one parse of the key."""
    mol = _to_mol(key)
    stars = _stars(mol, key)
    try:
        fp = fingerprint_of_mol(mol)
        formula = rdMolDescriptors.CalcMolFormula(mol)
        elements = _element_counts(formula)
        pair = _chain_pair(mol, stars, shortcut)
        groups = _group_counts(mol, stars, elements, pair)
        logp, mr = _crippen(mol, stars, pair)
        backbone, backbone_aromatic = _backbone(mol, stars) if len(stars) == 2 else (None, None)
        heavy = mol.GetNumHeavyAtoms()
        out: dict[str, object] = {
            "formula": _STAR_COUNT.sub("", formula),
            "mw": round(rdMolDescriptors._CalcMolWt(mol), 4), "heavy_atoms": heavy,
            "tpsa": round(rdMolDescriptors.CalcTPSA(mol), 4), "logp": logp, "mr": mr,
            "hbd": rdMolDescriptors.CalcNumHBD(mol), "hba": groups["hba"],
            "rotatable_bonds": groups["rotatable_bonds"], "rings": rdMolDescriptors.CalcNumRings(mol),
            "fraction_sp3": round(rdMolDescriptors.CalcFractionCSP3(mol), 4),
            "heteroatoms": sum(n for el, n in elements.items() if el not in ("C", "H", "*")),
            "halogens": sum(elements.get(el, 0) for el in ("F", "Cl", "Br", "I")),
            "backbone_atoms": backbone, "sidechain_atoms": None if backbone is None else heavy - backbone,
            "backbone_aromatic": backbone_aromatic, "n_attachments": len(stars),
        }
    except RuntimeError as exc:  # RDKit failing on an odd but parseable unit
        raise InvalidPolymerError(key, f"RDKit failed on it: {exc}") from exc
    for name, column in GROUP_COLUMNS.items():
        out[column] = groups[name]
    return tuple(out[column] for column in FEATURE_COLUMNS), fp


def _stars(mol: Chem.Mol, text: str | None) -> list[int]:
    """Indices of the `*` atoms, checked: one neighbour each, two stars connected but not bonded."""
    stars = star_atoms(mol)
    problem = None
    if any(mol.GetAtomWithIdx(i).GetDegree() != 1 for i in stars):
        problem = "every '*' must have exactly one neighbour"
    elif len(stars) == 2 and mol.GetBondBetweenAtoms(*stars) is not None:
        problem = "the two '*' are bonded to each other"
    elif len(stars) == 2 and not Chem.GetShortestPath(mol, *stars):
        problem = "the two '*' are in different fragments"
    if problem is not None:
        raise InvalidPolymerError(text if text is not None else Chem.MolToSmiles(mol), problem)
    return stars


def _element_counts(formula: str) -> dict[str, int]:
    """Atom counts by element symbol ('*' for stars) from an RDKit Hill formula."""
    return {el: int(n or 1) for el, n in _ELEMENT.findall(formula)}


def _chain_pair(mol: Chem.Mol, stars: list[int], shortcut: bool = True) -> tuple[Chem.Mol, Chem.Mol] | None:
    """(dimer, unit), or (trimer, dimer) when a 1-2 atom backbone is not all sp3 carbon, for chain counts.

    None when the unit is not linear, or (shortcut) when both ends are plain sp3 carbons: no group, no
    Crippen type and no rotatable bond other than the link itself reaches across such a link.
    """
    if len(stars) != 2 or (shortcut and len(mol.GetSubstructMatches(_PLAIN_END)) == 2):
        return None
    path = Chem.GetShortestPath(mol, stars[0], stars[1])[1:-1]
    if len(path) < 3 and any(mol.GetAtomWithIdx(i).GetAtomicNum() != 6
                             or mol.GetAtomWithIdx(i).GetHybridization() != Chem.HybridizationType.SP3
                             for i in path):
        return chain_of(mol, stars, 3), chain_of(mol, stars, 2)
    return chain_of(mol, stars, 2), mol


def chain_of(mol: Chem.Mol, stars: list[int], copies: int) -> Chem.Mol:
    """Linear unit of `copies` copies, the second star's neighbour of each bonded to the first's of the next."""
    s1, s2 = stars
    a = mol.GetAtomWithIdx(s1).GetNeighbors()[0].GetIdx()
    b = mol.GetAtomWithIdx(s2).GetNeighbors()[0].GetIdx()
    bond_type = mol.GetBondBetweenAtoms(s1, a).GetBondType()
    n = mol.GetNumAtoms()
    chain = Chem.RWMol(mol)
    for _ in range(copies - 1):
        chain.InsertMol(mol)
    chain.BeginBatchEdit()
    for k in range(copies - 1):
        chain.AddBond(k * n + b, (k + 1) * n + a, bond_type)
        chain.RemoveAtom(k * n + s2)
        chain.RemoveAtom((k + 1) * n + s1)
    chain.CommitBatchEdit()
    chain.UpdatePropertyCache(strict=False)
    Chem.FastFindRings(chain)
    return chain


def _group_counts(
    mol: Chem.Mol, stars: list[int], elements: dict[str, int], pair: tuple[Chem.Mol, Chem.Mol] | None
) -> dict[str, int]:
    """Per-unit counts of every functional group plus 'hba' and 'rotatable_bonds' (chain context if linear)."""
    counts = dict.fromkeys(FUNCTIONAL_GROUPS, 0)
    counts["aromatic_ring"] = rdMolDescriptors.CalcNumAromaticRings(mol)
    if pair is None:
        chain_names: list[str] = []
    elif all(mol.GetAtomWithIdx(s).GetBonds()[0].GetBondType() == Chem.BondType.SINGLE for s in stars):
        chain_names = _CHAIN_GROUPS
    else:  # a double-bonded link can split any group, even C=C
        chain_names = _CHAIN_GROUPS + _LOCAL_GROUPS
    present = set(elements)
    present.update(screen for screen, (element, pattern) in _SCREENS.items()
                   if element in elements and mol.HasSubstructMatch(pattern))
    for name in _CHAIN_GROUPS + _LOCAL_GROUPS:
        if not present.issuperset(_NEEDS[name]):
            continue
        pattern = _PATTERNS[name]
        if pair is not None and name in chain_names:
            counts[name] = _chain_count(pattern, *pair)
        elif name in _ELEMENT_GROUPS:  # a halogen count is its element count
            counts[name] = elements[_ELEMENT_GROUPS[name]]
        else:
            counts[name] = len(mol.GetSubstructMatches(pattern, maxMatches=_MAX_MATCHES))
    for name, pattern in (("hba", _HBA), ("rotatable_bonds", _ROTATABLE)):
        if pair is not None:
            counts[name] = _chain_count(pattern, *pair)
        else:
            counts[name] = len(mol.GetSubstructMatches(pattern, maxMatches=_MAX_MATCHES))
    if pair is None and len(stars) == 2:
        counts["rotatable_bonds"] += 1  # the link bond between two plain sp3 carbons
    return counts


def _chain_count(pattern: Chem.Mol, longer: Chem.Mol, shorter: Chem.Mol) -> int:
    """Matches one more repeat unit adds: count(n copies) - count(n - 1 copies)."""
    n_longer = len(longer.GetSubstructMatches(pattern, maxMatches=_MAX_MATCHES))
    if n_longer == 0:
        return 0
    return max(0, n_longer - len(shorter.GetSubstructMatches(pattern, maxMatches=_MAX_MATCHES)))


def _backbone(mol: Chem.Mol, stars: list[int]) -> tuple[int, bool]:
    """Backbone size (atoms on some simple star-to-star path) and whether any of them is aromatic."""
    atoms = backbone_atoms_of(mol, stars)
    return len(atoms), any(mol.GetAtomWithIdx(i).GetIsAromatic() for i in atoms)


def backbone_atoms_of(mol: Chem.Mol, stars: list[int]) -> set[int]:
    """Indices of the real atoms on some path between the two stars that visits no atom twice.

    With a virtual bond joining the two stars, these are the atoms of the one biconnected block that holds
    that bond (Menger): the ring atoms the chain runs through, not pendant atoms or side rings.
    """
    s, t = stars
    adjacency = [[n.GetIdx() for n in atom.GetNeighbors()] for atom in mol.GetAtoms()]
    adjacency[s].append(t)
    adjacency[t].append(s)
    block = next(b for b in _blocks(adjacency) if s in b and t in b)
    return block - {s, t}


def _blocks(adjacency: list[list[int]]) -> list[set[int]]:
    """Biconnected blocks (as atom sets) of a simple graph: Tarjan's edge-stack algorithm, iterative."""
    n = len(adjacency)
    disc, low = [-1] * n, [0] * n
    blocks: list[set[int]] = []
    edges: list[tuple[int, int]] = []
    clock = 0
    for root in range(n):
        if disc[root] != -1:
            continue
        disc[root] = low[root] = clock
        clock += 1
        stack = [(root, -1, iter(adjacency[root]))]
        while stack:
            u, parent, neighbours = stack[-1]
            for v in neighbours:
                if disc[v] == -1:
                    edges.append((u, v))
                    disc[v] = low[v] = clock
                    clock += 1
                    stack.append((v, u, iter(adjacency[v])))
                    break
                if v != parent and disc[v] < disc[u]:
                    edges.append((u, v))
                    low[u] = min(low[u], disc[v])
            else:
                stack.pop()
                if stack:
                    p = stack[-1][0]
                    low[p] = min(low[p], low[u])
                    if low[u] >= disc[p]:
                        block: set[int] = set()
                        while True:
                            edge = edges.pop()
                            block.update(edge)
                            if edge == (p, u):
                                break
                        blocks.append(block)
    return blocks


def _crippen(mol: Chem.Mol, stars: list[int], pair: tuple[Chem.Mol, Chem.Mol] | None) -> tuple[float, float]:
    """Crippen logP and MR per repeat unit: capped unit, or capped longer minus shorter chain when given."""
    if pair is None:
        logp, mr = _crippen_sums(mol, stars)
    else:
        (logp_long, mr_long), (logp_short, mr_short) = (_crippen_sums(m, star_atoms(m)) for m in pair)
        logp, mr = logp_long - logp_short, mr_long - mr_short
    return round(logp, 5), round(mr, 5)


def _crippen_sums(mol: Chem.Mol, stars: list[int]) -> tuple[float, float]:
    """Summed Crippen (logP, MR) of the real atoms, each with its H folded in; stars methyl-capped, counted 0."""
    capped = Chem.RWMol(mol)
    for i in stars:
        atom = capped.GetAtomWithIdx(i)
        atom.SetAtomicNum(6)
        atom.SetIsotope(0)
        atom.SetNoImplicit(False)
        atom.SetNumExplicitHs(0)
    capped.UpdatePropertyCache(strict=False)
    with_h = Chem.AddHs(capped)
    contribs = rdMolDescriptors._CalcCrippenContribs(with_h)
    n = mol.GetNumAtoms()
    totals = [list(c) for c in contribs[:n]]
    for h in range(n, with_h.GetNumAtoms()):
        parent = totals[with_h.GetAtomWithIdx(h).GetNeighbors()[0].GetIdx()]
        parent[0] += contribs[h][0]
        parent[1] += contribs[h][1]
    for i in stars:
        totals[i] = [0.0, 0.0]
    return sum(map(itemgetter(0), totals)), sum(map(itemgetter(1), totals))


def star_atoms(mol: Chem.Mol) -> list[int]:
    """Indices of the dummy (star) atoms of a molecule."""
    return [i for (i,) in mol.GetSubstructMatches(_STAR, maxMatches=_MAX_MATCHES)]


def _frame_of(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """DataFrame of the chunks' columns in FEATURE_COLUMNS order and DuckDB-friendly nullable dtypes."""
    import pandas as pd

    data: dict[str, object] = {}
    for name, duck_type in FEATURE_COLUMNS.items():
        empty = np.array([], dtype=object if duck_type == "VARCHAR" else np.float64)
        values = np.concatenate([part[name] for part in parts]) if parts else empty
        if duck_type == "INTEGER":
            data[name] = pd.array(values, dtype="Int32")
        elif duck_type == "BOOLEAN":
            data[name] = pd.arrays.BooleanArray(values == 1.0, np.isnan(values))
        else:
            data[name] = values
    return pd.DataFrame(data)
