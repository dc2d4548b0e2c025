"""Monomers <-> polymer for agents: SMiPoly forward generation, linkage-based retro rules, monomer classes.

forward_polymer runs SMiPoly's own rdChemReactions and pairing table (the smipoly 1.1.2 package), so it
reproduces the published SMiPoly library row by row. retro_monomers disconnects a repeat unit with the
RETRO_RULES table (reaction SMARTS run with rdChemReactions) and keeps a disconnection only when the
monomers it yields belong to the SMiPoly monomer classes the rule expects. For two-star units the rules see
the unit with its ends joined (a ring) and every re-opening of it, so the result does not depend on where
the unit was cut. Units with more than two stars (SMiPoly's products of tri- and tetrafunctional monomers)
only get the star-based vinyl rules; monomers given as salts or acid halides come back as the parent
amine / acid, and mixed-halogen sulfones as their dichloro and difluoro forms.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rdkit import Chem, RDLogger
from rdkit.Chem import rdChemReactions
from smipoly.smip import funclib, polg

from kb.errors import InvalidPolymerError, PolyBenchError
from tools.limits import MAX_RING_ATOMS

RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]
logger = logging.getLogger(__name__)

POLYMER_CLASSES: tuple[str, ...] = (
    "polyolefin", "polyester", "polyether", "polyamide", "polyimide", "polyurethane", "polyoxazolidone",
)
_MAX_STEPS = 64  # reaction applications per rule and molecule: a guard, real units need far fewer
_SMALL_RING = 6  # rules may close rings up to this size (epoxide, cyclic anhydride, lactide), not larger
_SKIPPED = (Chem.rdchem.MolSanitizeException, IndexError, RuntimeError, ValueError)


@dataclass(frozen=True)
class RetroResult:
    """One disconnection: the polymerization class, its monomers (SMILES) and the rule, for people."""

    polymer_class: str
    monomers: tuple[str, ...]
    rule: str


@dataclass(frozen=True)
class RetroRule:
    """A named linkage disconnection; ``yields`` lists (monomer classes in order, description)."""

    name: str
    polymer_class: str
    form: str  # "open": the starred unit (every frame); "joined": ends joined; "ring": joined unit = monomer
    smarts: str  # reaction SMARTS ("open", "joined") or the cyclic monomer's pattern ("ring")
    yields: tuple[tuple[tuple[str, ...], str], ...]
    anchor: tuple[int, int] = (0, 0)  # "joined": map numbers of a bond that must lie on the backbone


RETRO_RULES: tuple[RetroRule, ...] = (
    RetroRule("vinyl", "polyolefin", "open", "[#0]-[CX4:1]-[CX4:2]-[#0]>>[C:1]=[C:2]",
              ((("vinyl",), "vinyl backbone -> vinyl monomer"),
               (("cOle",), "cycloolefin backbone -> cyclic olefin"))),
    RetroRule("vinyl_pair", "polyolefin", "open",
              "[#0]-[CX4:1]-[CX4:2]-[CX4:3]-[CX4:4]-[#0]>>([C:1]=[C:2].[C:3]=[C:4])",
              ((("vinyl", "vinyl"), "vinyl backbone -> two vinyl monomers"),
               (("vinyl", "cOle"), "vinyl backbone -> vinyl monomer + cyclic olefin"),
               (("vinyl",), "vinyl backbone -> vinyl monomer"))),
    RetroRule("diene", "polyolefin", "open",
              "[#0]-[CX4:1]-[CX3:2]=[CX3:3]-[CX4:4]-[#0]>>[C:1]=[C:2]-[C:3]=[C:4]",
              ((("conjdiene",), "1,4-diene backbone -> conjugated diene"),)),
    RetroRule("ester", "polyester", "joined",
              "[#6:5][CX3:1](=[O:2])-[O,S;X2:3]-[#6:4]>>([*:5][C:1](=[O:2])O.[*:3][*:4])",
              ((("diCOOH", "diol"), "ester -> diacid + diol"),
               (("hydCOOH", "hydCOOH"), "ester -> two hydroxy acids"),
               (("hydCOOH",), "ester -> hydroxy acid")), anchor=(1, 3)),
    RetroRule("anhydride_epoxide", "polyester", "joined",
              "[CX3:1](=[O:7])-[OX2:6]-[CX4:3]-[CX4:5]-[OX2:4]-[CX3:2]=[O:8]"
              ">>([C:1](=[O:7])[O:6][C:2]=[O:8].[C:3]1[C:5][O:4]1)",
              ((("cAnhyd", "epo"), "ester -> cyclic anhydride + epoxide (ring-opening copolymerization)"),),
              anchor=(6, 3)),
    RetroRule("carbonate", "polyester", "joined",
              "[#6:3]-[OX2:1]-[CX3](=O)-[OX2:2]-[#6:4]>>([*:3][O:1].[O:2][*:4].[C-]#[O+])",
              ((("diol", "CO"), "carbonate -> diol + CO"),), anchor=(3, 1)),
    RetroRule("lactone", "polyester", "ring", "[CX3;R](=O)[OX2;R]",
              ((("lactone",), "ester -> lactone (ring-opening)"),)),
    RetroRule("epoxide", "polyether", "ring", "[CX4;R]1[OX2;R][CX4;R]1",
              ((("epo",), "ether -> epoxide (ring-opening)"),)),
    RetroRule("ether_diol", "polyether", "joined", "[CX4:1]-[OX2:2]-[CX4:3]>>([C:1][O:2].O[C:3])",
              ((("diol",), "ether -> diol (dehydration)"),), anchor=(1, 2)),
    RetroRule("phenylene_oxide", "polyether", "open",
              "[#0]-[OX2:1]-[c:2]1[c:3][c:4][c:5](-[#0])[c:6][c:7]1>>[O:1][c:2]1[c:3][c:4][c:5][c:6][c:7]1",
              ((("hindPhenol",), "aryl ether -> 2,6-disubstituted phenol (oxidative coupling)"),)),
    RetroRule("sulfone_ether_Cl", "polyether", "joined",
              "[c;$(c1ccc(cc1)S(=O)(=O)c):1]-[OX2:2]-[#6:3]>>([c:1]Cl.[O:2][*:3])",
              ((("sfonediX", "diol_b"), "aryl ether -> bis(4-chlorophenyl) sulfone + diol"),), anchor=(1, 2)),
    RetroRule("sulfone_ether_F", "polyether", "joined",
              "[c;$(c1ccc(cc1)S(=O)(=O)c):1]-[OX2:2]-[#6:3]>>([c:1]F.[O:2][*:3])",
              ((("sfonediX", "diol_b"), "aryl ether -> bis(4-fluorophenyl) sulfone + diol"),), anchor=(1, 2)),
    RetroRule("ketone_ether_F", "polyether", "joined",
              "[c;$(c1ccc(cc1)C(=O)c):1]-[OX2:2]-[#6:3]>>([c:1]F.[O:2][*:3])",
              ((("BzodiF", "diol_b"), "aryl ether -> 4,4'-difluorobenzophenone + diol"),), anchor=(1, 2)),
    RetroRule("amide", "polyamide", "joined",
              "[#6:5][CX3:1](=[O:2])-[NX3;!$(N(C=O)C=O):3]>>([*:5][C:1](=[O:2])O.[*:3])",
              ((("diCOOH", "diamin"), "amide -> diacid + diamine"),
               (("aminCOOH", "aminCOOH"), "amide -> two amino acids"),
               (("aminCOOH",), "amide -> amino acid")), anchor=(1, 3)),
    RetroRule("lactam", "polyamide", "ring", "[CX3;R](=O)[NX3;R]",
              ((("lactam",), "amide -> lactam (ring-opening)"),)),
    RetroRule("imide", "polyimide", "joined",
              "[#6X3:1](=[O:2])~[#7X3:3](-[#6:6])~[#6X3:4]=[O:5]>>([#6:1](=[O:2])O[#6:4]=[O:5].[#7:3][*:6])",
              ((("dicAnhyd", "diamin"), "imide -> dianhydride + diamine"),), anchor=(3, 6)),
    RetroRule("urethane", "polyurethane", "joined",
              "[NX3:1]-[CX3:2](=[O,S:3])-[O,S;X2:4]-[#6:5]>>([N:1]=[C:2]=[*:3].[*:4][*:5])",
              ((("diNCO", "diol"), "urethane -> diisocyanate + diol"),), anchor=(2, 4)),
    RetroRule("oxazolidone", "polyoxazolidone", "joined",
              "[#6:1]1-[OX2:2]-[CX3:3](=[O,S:4])-[NX3:5](-[#6:6])-[#6:7]1"
              ">>([*:1]1[O:2][*:7]1.[*:4]=[C:3]=[N:5][*:6])",
              ((("diepo", "diNCO"), "oxazolidone -> diepoxide + diisocyanate"),), anchor=(5, 6)),
)


def forward_polymer(monomers: Sequence[str], polymer_class: str) -> list[str]:
    """Repeat-unit PSMILES that SMiPoly makes from one or two monomers by one polymerization class."""
    pclass = _checked_class(polymer_class)
    texts = [m.strip() for m in monomers if m and m.strip()]  # SMiPoly writes '' for a homopolymer's mon2
    if not 1 <= len(texts) <= 2:
        raise PolyBenchError(f"forward_polymer takes one or two monomer SMILES, got {len(texts)}")
    smiles = [Chem.MolToSmiles(_monomer_mol(t)) for t in texts]
    units: list[str] = []
    for first, second, rxn in polg.Ps_GenL[pclass]:
        if second == "none" and len(smiles) == 1 and _is_class(smiles[0], first):
            units += _homopolymers(smiles[0], first)
        elif second != "none" and len(smiles) == 2:
            for i, j in ((0, 1), (1, 0)):
                if _is_class(smiles[i], first) and _is_class(smiles[j], second):
                    pair = [Chem.MolFromSmiles(smiles[i]), Chem.MolFromSmiles(smiles[j])]
                    units += funclib.bipolymA(pair, rxn, polg.monLg, polg.Ps_rxnL, pclass)
    units = [u for u in dict.fromkeys(units) if isinstance(u, str) and u]
    if not units:
        have = " + ".join(f"{s} (classes: {', '.join(monomer_classes(s)) or 'none'})" for s in smiles)
        needs = "; ".join(f + (" alone" if s == "none" else f" + {s}") for f, s, _ in polg.Ps_GenL[pclass])
        raise PolyBenchError(f"no {pclass} can be made from {have}: {pclass} needs {needs}")
    return units


def retro_monomers(psmiles: str) -> list[RetroResult]:
    """Linkage-based disconnections of a repeat unit into monomers; [] when no rule applies."""
    unit = _unit_mol(psmiles)
    joined = _joined_form(unit)
    frames = [unit] + (_frames(*joined) if joined else [])
    found: dict[tuple[str, frozenset[str]], RetroResult] = {}
    for rule in RETRO_RULES:
        for fragments in _disconnections(rule, frames, joined):
            result = _validated(rule, fragments)
            if result is not None:
                found.setdefault((result.polymer_class, frozenset(result.monomers)), result)
    logger.debug("retro %s: %d results", psmiles, len(found))
    return list(found.values())


def monomer_classes(smiles: str) -> list[str]:
    """SMiPoly monomer classes of a monomer (vinyl, diol, diCOOH, ... and olefin subclasses)."""
    canonical = Chem.MolToSmiles(_monomer_mol(smiles))
    return [name for name in _class_patterns() if _is_class(canonical, name)]


@functools.lru_cache(maxsize=1 << 16)
def _is_class(canonical: str, name: str) -> bool:
    """SMiPoly's moncls / olecls test of one class (same SMARTS, same counting) on a canonical SMILES."""
    mons, excls, min_fg, max_fg = _class_patterns()[name]
    mol = Chem.MolFromSmiles(canonical)
    if any(mol.HasSubstructMatch(e) for e in excls):
        return False
    if min_fg == 0:
        return any(mol.HasSubstructMatch(p) for p in mons)
    return min_fg <= sum(funclib.count_fg(mol, p) for p in mons) <= max_fg


@functools.cache
def _class_patterns() -> dict[str, tuple[list[Chem.Mol], list[Chem.Mol], int, int]]:
    """Class -> (patterns, exclusions, min FG, max FG) compiled once; min FG 0 means one-FG monomers."""
    specs = [(i, 0, 0) for i in polg.mon_vals[0]] + [(i, 2, 4) for i in polg.mon_vals[1]]
    specs += [(i, 1, 4) for i in polg.mon_vals[3]]  # olefin subclasses, as smipoly's olecls counts them
    return {polg.mon_dic_inv[i]: ([Chem.MolFromSmarts(s) for s in polg.monLg[i]],
                                  [Chem.MolFromSmarts(s) for s in polg.exclLg.get(i, [])], lo, hi)
            for i, lo, hi in specs}


def _homopolymers(smiles: str, mon_class: str) -> list[str]:
    """SMiPoly's homopolymA with a step guard: react while the product is still a monomer of the class."""
    key = polg.mon_dic[mon_class]
    mons, excls, rxn = polg.monLg[key], polg.exclLg[key], polg.Ps_rxnL[key]
    mol, last = Chem.MolFromSmiles(smiles), []
    for _ in range(_MAX_STEPS):
        if not funclib.monomer_sel_mfg(mol, mons, excls)[0]:
            break
        products = []
        for product, *_ in rxn.RunReactants((mol,)):
            try:
                Chem.SanitizeMol(product)
                products.append(funclib.seq_chain(product, mon_class, polg.Ps_rxnL, polg.mon_dic, polg.monLg))
            except _SKIPPED:  # SMiPoly drops products that do not sanitize
                continue
        if not products:
            break
        mol, last = products[-1], products
    return [Chem.MolToSmiles(p) for p in last]


def _checked_class(name: str) -> str:
    """The SMiPoly class named (case-insensitive); PolyBenchError with close names otherwise."""
    key = str(name).strip().lower()
    if key in POLYMER_CLASSES:
        return key
    close = difflib.get_close_matches(key, POLYMER_CLASSES, n=2)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise PolyBenchError(f"unknown polymerization class {name!r}{hint} (known: {', '.join(POLYMER_CLASSES)})")


def _monomer_mol(text: str) -> Chem.Mol:
    """A monomer molecule; PolyBenchError naming the input when RDKit cannot parse it or it has '*'."""
    mol = Chem.MolFromSmiles(text) if text else None
    if mol is None:
        raise PolyBenchError(f"invalid monomer SMILES {text!r}: RDKit cannot parse it")
    if any(a.GetAtomicNum() == 0 for a in mol.GetAtoms()):
        raise PolyBenchError(f"invalid monomer SMILES {text!r}: a monomer has no '*' attachment points")
    return mol


def _unit_mol(text: str) -> Chem.Mol:
    """A repeat unit with plain '*', no stereo and implicit hydrogens; InvalidPolymerError otherwise."""
    mol = Chem.MolFromSmiles(text) if text else None
    if mol is None:
        raise InvalidPolymerError(text, "RDKit cannot parse it")
    stars = [a for a in mol.GetAtoms() if a.GetAtomicNum() == 0]
    if not stars:
        raise InvalidPolymerError(text, "no '*' attachment point: give the repeat unit, e.g. *CC(*)C")
    for star in stars:
        star.SetIsotope(0)
        star.SetAtomMapNum(0)
        bonds = star.GetBonds()
        if len(bonds) != 1 or bonds[0].GetBondType() != Chem.BondType.SINGLE:
            raise InvalidPolymerError(text, "each '*' needs exactly one single bond")
    Chem.RemoveStereochemistry(mol)
    return Chem.MolFromSmiles(Chem.MolToSmiles(mol))  # re-read: bracket atoms lose their fixed H counts


def _joined_form(unit: Chem.Mol) -> tuple[Chem.Mol, frozenset[frozenset[int]], tuple[int, int]] | None:
    """The two-star unit with its end atoms bonded, its backbone bonds and the new bond; None if not."""
    stars = [a.GetIdx() for a in unit.GetAtoms() if a.GetAtomicNum() == 0]
    if len(stars) != 2:
        return None
    a, b = (unit.GetAtomWithIdx(s).GetNeighbors()[0].GetIdx() for s in stars)
    if a == b or unit.GetBondBetweenAtoms(a, b) is not None:
        return None
    path = Chem.GetShortestPath(unit, a, b)
    shift = {i: i - sum(s < i for s in stars) for i in range(unit.GetNumAtoms())}
    bonds = ((u, v, unit.GetBondBetweenAtoms(u, v)) for u, v in itertools.pairwise(path))
    backbone = {frozenset((shift[u], shift[v])) for u, v, bond in bonds
                if not bond.IsInRing() and bond.GetBondType() == Chem.BondType.SINGLE}
    rw = Chem.RWMol(unit)
    rw.AddBond(a, b, Chem.BondType.SINGLE)
    for s in sorted(stars, reverse=True):
        rw.RemoveAtom(s)
    mol = rw.GetMol()
    try:  # keep the unit's aromaticity: a conjugated macrocycle must not turn its amides into [nH]c(=O);
        # no symmetrised SSSR: for a macrocycle through k para-phenylenes it has 2^k rings (16 took 7 s)
        flags = Chem.SanitizeFlags
        Chem.SanitizeMol(mol, flags.SANITIZE_ALL ^ flags.SANITIZE_SETAROMATICITY ^ flags.SANITIZE_KEKULIZE
                         ^ flags.SANITIZE_SYMMRINGS)
        Chem.GetSSSR(mol)  # ring info of the plain SSSR (polynomial), which the rules below read
    except _SKIPPED:
        return None
    join = (shift[a], shift[b])
    return mol, frozenset(backbone | {frozenset(join)}), join


def _frames(mol: Chem.Mol, backbone: frozenset[frozenset[int]], join: tuple[int, int]) -> list[Chem.Mol]:
    """The joined unit re-opened at each other backbone bond: the same polymer cut elsewhere."""
    frames = []
    for u, v in (tuple(pair) for pair in backbone if pair != frozenset(join)):
        rw = Chem.RWMol(mol)
        rw.RemoveBond(u, v)
        for end in (u, v):
            rw.AddBond(end, rw.AddAtom(Chem.Atom(0)), Chem.BondType.SINGLE)
        frame = rw.GetMol()
        try:
            Chem.SanitizeMol(frame)
        except _SKIPPED:
            continue
        frames.append(frame)
    return frames


def _disconnections(rule: RetroRule, frames: list[Chem.Mol], joined: tuple | None) -> Iterator[list[str]]:
    """Fragment SMILES lists the rule produces from the unit's frames or its joined form."""
    if rule.form == "open":
        for frame in frames:
            pieces, steps = _run_to_end(_reaction(rule.smarts), frame)
            if steps and not any(a.GetAtomicNum() == 0 for piece, _ in pieces for a in piece.GetAtoms()):
                yield [_canonical(piece) for piece, _ in pieces]
    elif joined is not None and rule.form == "ring":
        mol, _, join = joined
        bond = mol.GetBondBetweenAtoms(*join).GetIdx()
        size = min(len(r) for r in mol.GetRingInfo().BondRings() if bond in r)
        links = len(mol.GetSubstructMatches(_pattern(rule.smarts)))
        if size > MAX_RING_ATOMS:  # no ring-opening of such macrocycles; reading one back would not end
            return
        if links == 1 or (links > 1 and size <= _SMALL_RING):  # a lactone, or a small cyclic dimer (lactide)
            yield [_canonical(mol)]
    elif joined is not None and rule.form == "joined":
        mol, backbone, _ = joined
        pieces, steps = _run_to_end(_reaction(rule.smarts), mol, backbone, rule.anchor)
        if steps and not any(_in_big_ring(piece, origin, backbone) for piece, origin in pieces):
            yield [_canonical(piece) for piece, _ in pieces]


def _run_to_end(rxn: rdChemReactions.ChemicalReaction, mol: Chem.Mol,
                backbone: frozenset[frozenset[int]] = frozenset(),
                anchor: tuple[int, int] = (0, 0)) -> tuple[list[tuple[Chem.Mol, list[int]]], int]:
    """Apply a one-reactant reaction to every piece until it no longer matches (at backbone anchors if given).

    Returns the final pieces, each with the index its atoms had in ``mol`` (-1: added by a rule), and the
    number of reactions run. Pieces are reacted one by one: RDKit drops the parts of a reactant that are
    not connected to the matched atoms.
    """
    pending, done, steps = [(mol, list(range(mol.GetNumAtoms())))], [], 0
    while pending:
        piece, origin = pending.pop()
        product = _one_step(rxn, piece, origin, backbone, anchor) if steps < _MAX_STEPS else None
        if product is None:
            done.append((piece, origin))
            continue
        steps += 1
        product, source = product
        mapping: list[tuple[int, ...]] = []
        frags = Chem.GetMolFrags(product, asMols=True, fragsMolAtomMapping=mapping)
        pending += [(frag, [source[i] for i in atoms]) for frag, atoms in zip(frags, mapping)]
    return done, steps


def _one_step(rxn: rdChemReactions.ChemicalReaction, mol: Chem.Mol, origin: list[int],
              backbone: frozenset[frozenset[int]],
              anchor: tuple[int, int]) -> tuple[Chem.Mol, list[int]] | None:
    """The first product that sanitizes (and whose anchor bond is on the backbone) with its atom origins."""
    for product, *_ in rxn.RunReactants((mol,)):
        try:
            Chem.SanitizeMol(product)
        except _SKIPPED:
            continue
        source = [origin[a.GetIntProp("react_atom_idx")] if a.HasProp("react_atom_idx") else -1
                  for a in product.GetAtoms()]
        if anchor != (0, 0):
            by_map = {a.GetIntProp("old_mapno"): source[a.GetIdx()]
                      for a in product.GetAtoms() if a.HasProp("old_mapno")}
            if frozenset((by_map.get(anchor[0], -1), by_map.get(anchor[1], -2))) not in backbone:
                continue
        for atom in product.GetAtoms():  # carried atoms keep this tag; a stale one misleads the next step
            atom.ClearProp("old_mapno")
        return product, source
    return None


def _in_big_ring(piece: Chem.Mol, origin: list[int], backbone: frozenset[frozenset[int]]) -> bool:
    """Whether a backbone bond lies in a ring above _SMALL_RING: the rule closed a macrocycle again."""
    rings = piece.GetRingInfo().BondRings()
    for bond in piece.GetBonds():
        pair = frozenset((origin[bond.GetBeginAtomIdx()], origin[bond.GetEndAtomIdx()]))
        if pair in backbone and any(len(r) > _SMALL_RING for r in rings if bond.GetIdx() in r):
            return True
    return False


def _canonical(mol: Chem.Mol) -> str:
    """Canonical SMILES after a fresh read (aromaticity perceived again, hydrogens implicit)."""
    smiles = Chem.MolToSmiles(mol)
    again = Chem.MolFromSmiles(smiles)
    return Chem.MolToSmiles(again) if again is not None else smiles


def _validated(rule: RetroRule, fragments: list[str]) -> RetroResult | None:
    """The rule's result when the distinct fragments are monomers of one of its class combinations."""
    unique = list(dict.fromkeys(fragments))
    for wanted, text in rule.yields:
        if len(unique) != len(wanted):
            continue
        for order in itertools.permutations(unique):
            if all(_is_class(s, c) for s, c in zip(order, wanted)):
                return RetroResult(rule.polymer_class, tuple(order), text)
    return None


@functools.cache
def _reaction(smarts: str) -> rdChemReactions.ChemicalReaction:
    """A compiled, initialised reaction (cached: the rule table is fixed)."""
    rxn = rdChemReactions.ReactionFromSmarts(smarts)
    rxn.Initialize()
    return rxn


@functools.cache
def _pattern(smarts: str) -> Chem.Mol:
    """A compiled SMARTS pattern (cached)."""
    return Chem.MolFromSmarts(smarts)
