"""The backbone-class rule: a polymer's likely class from the linkages on its backbone path.

A linkage counts only when its core atoms lie on the star-to-star path of the chain: PMMA's ester hangs off
an all-carbon backbone, so PMMA is a polyolefin, not a polyester. Linkages are looked for in the dimer
(trimer for a 1-2 atom backbone), so a linkage cut by the frame of the key is still whole. The first
linkage of LINKAGES found on the backbone names the class (imide outranks ether: a polyetherimide is a
polyimide; sulfone outranks ether; ether outranks ketone, as SMiPoly calls PEEK a polyether). Units with
three or more stars are judged on the paths between every pair of stars.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from rdkit import Chem, RDLogger

from kb.repeat_unit import attachment_path, repeat_unit_power

RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]

RULE_VERSION = "2"  # bump when LINKAGES or the rule changes: cached class tables are keyed by it


@dataclass(frozen=True)
class Linkage:
    """A backbone linkage: the class it makes and the SMARTS atoms that must lie on the backbone path."""

    name: str
    polymer_class: str
    text: str
    pattern: Chem.Mol
    core: tuple[int, ...]


_ACYL = "#6X3;!$([#6](~[#7])~[#7])"  # a carbonyl C bonded to one N only: isocyanurate rings are not imides
_L = [  # priority order: the first linkage found on the backbone names the class
    ("oxazolidone", "polyoxazolidone", "oxazolidone ring N", "[CX3]1(=[OX1])[OX2][#6][#6][NX3]1", (5,)),
    ("imide", "polyimide", "imide C(=O)-N-C(=O)", f"[{_ACYL}](=[OX1])[#7X3][{_ACYL}]=[OX1]", (2,)),
    ("urethane", "polyurethane", "urethane O-C(=O)-N", "[OX2,SX2][CX3](=[OX1,SX1])[NX3]", (0, 1, 3)),
    ("urea", "polyurea", "urea N-C(=O)-N", "[NX3][CX3](=[OX1])[NX3]", (0, 1, 3)),
    ("carbonate", "polycarbonate", "carbonate O-C(=O)-O", "[OX2][CX3](=[OX1])[OX2]", (0, 1, 3)),
    ("anhydride", "polyanhydride", "anhydride C(=O)-O-C(=O)", "[CX3](=[OX1])[OX2][CX3]=[OX1]", (0, 2, 3)),
    ("ester", "polyester", "ester C(=O)-O (or thioester)", "[#6][CX3](=[OX1])[OX2,SX2][#6]", (1, 3)),
    ("amide", "polyamide", "amide C(=O)-N", "[#6][CX3](=[OX1])[NX3]", (1, 3)),
    ("sulfone", "polysulfone", "sulfone S(=O)(=O)", "[#6][SX4](=[OX1])(=[OX1])[#6]", (1,)),
    ("siloxane", "polysiloxane", "siloxane Si-O-Si", "[Si][OX2][Si]", (0, 1, 2)),
    ("ether", "polyether", "ether C-O-C", "[OX2;!$(O[#6]=[O,S,N])]([#6])[#6]", (0,)),
    ("ketone", "polyketone", "ketone C-C(=O)-C", "[#6][CX3](=[OX1])[#6]", (1,)),
    ("thioether", "polysulfide", "thioether C-S-C", "[SX2;!$(S[#6]=[O,S,N])]([#6])[#6]", (0,)),
    ("imine", "polyimine", "imine C=N", "[CX3]=[NX2]", (0, 1)),
    ("phosphazene", "polyphosphazene", "phosphazene P=N", "[P]=[NX2]", (0, 1)),
    ("amine", "polyamine", "amine C-N(-)-C", "[NX3;!$(N~[#6,#15,#16]=[O,S,N])]([#6])[#6]", (0,)),
]
LINKAGES: tuple[Linkage, ...] = tuple(Linkage(n, c, t, Chem.MolFromSmarts(s), core) for n, c, t, s, core in _L)
POLYMER_CLASSES: tuple[str, ...] = (*dict.fromkeys(lk.polymer_class for lk in LINKAGES), "polyolefin",
                                    "polyarylene", "other")
_KETO = Chem.MolFromSmarts("[#6]=[O,S]")


@dataclass(frozen=True)
class ClassVerdict:
    """A likely polymer class, the rule that decided it and every linkage found on the backbone."""

    polymer_class: str | None
    rule: str
    linkages: tuple[str, ...] = ()


def classify_backbone(unit: Chem.Mol, status: str) -> ClassVerdict:
    """The class a repeat unit's backbone linkages imply (see LINKAGES for the priority)."""
    stars = [a.GetIdx() for a in unit.GetAtoms() if a.GetAtomicNum() == 0]
    if len(stars) < 2:
        return ClassVerdict(None, "fewer than two attachment points: not a chain, no class")
    keto = {a for match in unit.GetSubstructMatches(_KETO) for a in match}
    if status == "linear":
        path = attachment_path(unit)
        if _all_carbon(unit, path, keto):
            return _carbon_verdict(unit, path)
        chain = repeat_unit_power(unit, 3 if len(path) <= 2 else 2)
        ends = [a.GetIdx() for a in chain.GetAtoms() if a.GetAtomicNum() == 0]
        backbone = set(Chem.GetShortestPath(chain, *ends)[1:-1])
    else:
        paths = [Chem.GetShortestPath(unit, a, b)[1:-1] for a, b in combinations(stars, 2)]
        if any(_all_carbon(unit, p, keto) for p in paths):
            return ClassVerdict("polyolefin", "an all-carbon chain joins two attachment points (vinyl-type "
                                "network or copolymer entry) -> polyolefin; other linkages are cross-links or side groups")
        chain, backbone = unit, {a for p in paths for a in p}
    found: list[Linkage] = []
    claimed: set[int] = set()  # atoms of higher-priority linkages: an imide's C(=O)N is not also an amide
    for lk in LINKAGES:
        hits = [m for m in chain.GetSubstructMatches(lk.pattern)
                if all(m[i] in backbone and m[i] not in claimed for i in lk.core)]
        if hits:
            found.append(lk)
            claimed.update(a for m in hits for a in m)
    if found:
        top, rest = found[0], [lk.name for lk in found[1:]]
        rule = f"backbone {top.text} -> {top.polymer_class}"
        return ClassVerdict(top.polymer_class, rule + (f" (outranks {', '.join(rest)})" if rest else ""),
                            tuple(lk.name for lk in found))
    hetero = sorted({chain.GetAtomWithIdx(i).GetSymbol() for i in backbone} - {"C"})
    if not hetero:
        return _carbon_verdict(chain, list(backbone))
    if all(chain.GetAtomWithIdx(i).GetIsAromatic() for i in backbone if chain.GetAtomWithIdx(i).GetAtomicNum() != 6):
        return ClassVerdict("polyarylene", f"backbone of carbon and aromatic rings (with {', '.join(hetero)} "
                            "only inside aromatic rings) -> polyarylene")
    return ClassVerdict("other", f"backbone holds {', '.join(hetero)} but no known linkage -> other")


def backbone_class(unit: Chem.Mol, status: str) -> str | None:
    """Only the class of classify_backbone (the structure index stores it for every KB polymer)."""
    return classify_backbone(unit, status).polymer_class


def _all_carbon(mol: Chem.Mol, path: Sequence[int], keto: set[int]) -> bool:
    return all(mol.GetAtomWithIdx(i).GetAtomicNum() == 6 and i not in keto for i in path)


def _carbon_verdict(mol: Chem.Mol, path: Sequence[int]) -> ClassVerdict:
    if any(mol.GetAtomWithIdx(i).GetIsAromatic() for i in path):
        return ClassVerdict("polyarylene", "all-carbon backbone running through aromatic rings -> polyarylene")
    return ClassVerdict("polyolefin", "all-carbon backbone (vinyl / olefin type) -> polyolefin; side groups do not count")
