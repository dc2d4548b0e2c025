"""SMiPoly's links of a split as lookups: which monomer pair makes which polymer by which class, and how.

Shared by the conceptual and synthesis-design templates. Rows whose SMiPoly product is not what the
chemistry gives are left out: an ortho (1,2-) or peri (1,8-) dicarboxylic acid and a diamine close a cyclic
imide (phthalimide, naphthalimide), not the polyamide SMiPoly's polyamide rule writes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations

import numpy as np
import pandas as pd
from rdkit import Chem
from smipoly.smip import polg

from agents.taskgen.pools import Pools
from kb.features import GROUP_COLUMNS
from tools.synthesis import POLYMER_CLASSES

SMIPOLY_SOURCE = "smipoly/SMiPoly_001_generatedPolymer.csv.gz"
CARBON_MONOXIDE = "[C-]#[O+]"
# SMiPoly's pairing table: the (first, second) monomer classes each class combines; 'none' = one monomer alone
PAIRINGS: dict[str, tuple[tuple[str, str], ...]] = {
    c: tuple((e[0], e[1]) for e in polg.Ps_GenL[c]) for c in POLYMER_CLASSES}
CLASS_LINKAGE = {"polyolefin": "C-C", "polyester": "ester", "polyether": "ether", "polyamide": "amide",
                 "polyimide": "imide", "polyurethane": "urethane", "polyoxazolidone": "oxazolidone"}
PAIR_LINKAGE = {("diol", "CO"): "carbonate"}  # SMiPoly's polyester from a diol and CO is a polycarbonate
LINKAGE_TEXT = {
    "C-C": "C-C single bonds only (no heteroatom linkage)", "ester": "ester -C(=O)-O-",
    "carbonate": "carbonate -O-C(=O)-O-", "ether": "ether -O-", "amide": "amide -C(=O)-N<",
    "imide": "cyclic imide -C(=O)-N(-)-C(=O)-", "urethane": "urethane -NH-C(=O)-O-",
    "oxazolidone": "2-oxazolidone ring", "urea": "urea -NH-C(=O)-NH-", "anhydride": "anhydride -C(=O)-O-C(=O)-",
}
LINKAGE_OF_TEXT = {text: name for name, text in LINKAGE_TEXT.items()}
ROLE_WORDS = {
    "vinyl": "vinyl monomer through its C=C bond", "cOle": "cyclic olefin through its ring C=C bond",
    "diCOOH": "dicarboxylic acid", "diol": "diol", "diol_b": "diol", "hydCOOH": "hydroxy acid",
    "lactone": "lactone, ring-opening", "epo": "epoxide, ring-opening", "cAnhyd": "cyclic anhydride",
    "dicAnhyd": "tetracarboxylic dianhydride", "diamin": "diamine", "lactam": "lactam, ring-opening",
    "aminCOOH": "amino acid", "diNCO": "diisocyanate", "diepo": "diepoxide",
    "sfonediX": "bis(4-halophenyl) sulfone", "BzodiF": "4,4'-difluorobenzophenone",
    "hindPhenol": "2,6-disubstituted phenol, oxidative coupling", "CO": "carbon monoxide",
}


@dataclass
class LinkTable:
    """The split's distinct SMiPoly rows as arrays (row = one monomer pair -> polymer) plus lookups."""

    pid: np.ndarray          # polymer id per row
    pclass: np.ndarray       # polymerization class per row
    mons: list[tuple[str, ...]]   # (mon1,) or (mon1, mon2)
    roles: list[tuple[str, ...] | None]  # the monomer class each monomer reacts as (None: not in the table)
    linkage: list[str | None]     # the linkage the reaction forms, confirmed in the polymer's groups
    pair: np.ndarray         # frozenset of the monomers per row
    by_class: dict[str, np.ndarray]
    classes: list[str]
    weights: np.ndarray      # class sampling weights (row counts ** 0.25: rare classes show up too)
    rows_with: dict[str, np.ndarray]     # monomer -> rows using it
    pairs_of: dict[int, set]             # polymer -> its monomer pairs (any of them makes it)
    class_of: dict[int, str]
    linkage_of: dict[int, str | None]
    name_of: dict[str, str]
    classes_of: dict[str, tuple[str, ...]]  # monomer -> its SMiPoly monomer classes

    def pick(self, rng: np.random.Generator) -> int:
        """A row: a class by weight, then a row of that class."""
        rows = self.by_class[self.classes[int(rng.choice(len(self.classes), p=self.weights))]]
        return int(rows[rng.integers(len(rows))])

    def monomer_text(self, smiles: str) -> str:
        name = self.name_of.get(smiles)
        return f"{name} ({smiles})" if name else smiles

    def pair_text(self, mons: tuple[str, ...]) -> str:
        return " + ".join(map(self.monomer_text, mons)) if len(mons) == 2 else f"{self.monomer_text(mons[0])} alone"

    def pair_texts_of(self, polymer_id: int) -> set[str]:
        """Every way pair_text may show a true monomer pair of a polymer (either order)."""
        return {self.pair_text(tuple(order)) for pair in self.pairs_of.get(polymer_id, ())
                for order in permutations(sorted(pair))}

    def achievable(self, polymer_id: int) -> set[str]:
        """Classes any monomer pair of the polymer can undergo (its own class included)."""
        found = {self.class_of[polymer_id]}
        for pair in self.pairs_of[polymer_id]:
            ms = sorted(pair)
            found |= achievable_classes(self.classes_of[ms[0]], self.classes_of[ms[1]] if len(ms) == 2 else None)
        return found

    def others(self, r: int, rng: np.random.Generator, n: int, key: Callable[[int], Hashable | None]) -> list[int]:
        """n rows with distinct non-None keys, half from rows sharing a monomer with row r (harder)."""
        share = np.concatenate([self.rows_with[m] for m in self.mons[r]])
        same = self.by_class[self.pclass[r]]
        chosen, seen = [], set()
        for attempt in range(8 * n):
            rows = share if attempt % 2 == 0 else same
            c = int(rows[rng.integers(len(rows))])
            k = key(c)
            if k is not None and k not in seen:
                seen.add(k)
                chosen.append(c)
                if len(chosen) == n:
                    break
        return chosen


def reaction_roles(pclass: str, c1: tuple[str, ...], c2: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The monomer classes the monomers react as under SMiPoly's table for `pclass` (None: no entry fits)."""
    for first, second in PAIRINGS[pclass]:
        if c2 is None and second == "none" and first in c1:
            return (first,)
        if c2 is not None and second != "none":
            if first in c1 and second in c2:
                return first, second
            if first in c2 and second in c1:
                return second, first
    return None


def achievable_classes(c1: tuple[str, ...], c2: tuple[str, ...] | None) -> set[str]:
    """Every polymerization class whose table combines monomers of these classes."""
    return {c for c in POLYMER_CLASSES if reaction_roles(c, c1, c2) is not None}


def _classes(value) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, (list, tuple, np.ndarray)) else ()


def _monomer_classes(links: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Monomer -> SMiPoly monomer classes (carbon monoxide, missing from the monomer set, is class 'CO')."""
    found = {CARBON_MONOXIDE: ("CO",)}
    for mon, cls in (("mon1", "mon1_classes"), ("mon2", "mon2_classes")):
        rows = links[[mon, cls]].dropna(subset=[mon]).drop_duplicates(mon)
        found |= {m: _classes(c) for m, c in zip(rows[mon], rows[cls]) if m not in found}
    return found


def _build_links(pools: Pools) -> LinkTable:
    links = pools.links.drop_duplicates(["polymer_id", "mon1", "mon2"])
    links = links[links["polymer_id"].isin(pools.polymers.index) & links["polymer_class"].isin(POLYMER_CLASSES)
                  & (links["mon1"] != links["mon2"])].reset_index(drop=True)
    classes_of = _monomer_classes(links)
    mon1, mon2 = (links[c].to_numpy(dtype=object) for c in ("mon1", "mon2"))
    mons = [(a,) if not isinstance(b, str) or not b else (a, b) for a, b in zip(mon1, mon2)]
    pclass = links["polymer_class"].to_numpy(dtype=object)
    memo: dict = {}
    roles, linkage = [], np.empty(len(mons), dtype=object)
    for i, (p, m) in enumerate(zip(pclass, mons)):
        key = (p, classes_of[m[0]], classes_of[m[1]] if len(m) == 2 else None)
        if key not in memo:
            role = reaction_roles(*key)
            memo[key] = role, None if role is None else PAIR_LINKAGE.get(tuple(role), CLASS_LINKAGE[p])
        roles.append(memo[key][0])
        linkage[i] = memo[key][1]
    pid = links["polymer_id"].to_numpy(dtype=np.int64)
    wrong = {int(p) for p, c, m, r in zip(pid, pclass, mons, roles) if _imide_forming(c, m, r)}
    if wrong:  # a product that the chemistry does not give: every route to it goes
        keep = ~np.isin(pid, list(wrong))
        links, pid, pclass, linkage = links[keep].reset_index(drop=True), pid[keep], pclass[keep], linkage[keep]
        mons = [m for m, k in zip(mons, keep) if k]
        roles = [r for r, k in zip(roles, keep) if k]
    for name in set(linkage) - {None, "C-C"}:  # confirm the linkage in the product's group counts
        rows = np.flatnonzero(linkage == name)
        linkage[rows[pools.polymers[GROUP_COLUMNS[name]].reindex(pid[rows]).fillna(0).to_numpy() == 0]] = None
    pair = np.empty(len(mons), dtype=object)
    pair[:] = [frozenset(m) for m in mons]
    pairs_of: dict[int, set] = {}
    linkage_of: dict[int, str | None] = {}
    for p, k, lk in zip(pid.tolist(), pair, linkage):
        pairs_of.setdefault(p, set()).add(k)
        linkage_of.setdefault(p, lk)
    flat = pd.Series(np.concatenate([np.arange(len(mons)), np.arange(len(mons))]),
                     index=[m[0] for m in mons] + [m[-1] for m in mons])
    rows_with = {k: np.unique(flat.to_numpy()[v]) for k, v in flat.groupby(level=0).indices.items()}
    by_class = {c: np.flatnonzero(pclass == c) for c in POLYMER_CLASSES if (pclass == c).any()}
    classes = sorted(by_class)
    weights = np.array([len(by_class[c]) for c in classes], dtype=float) ** 0.25
    names = pd.concat([links[["mon1", "mon1_name"]].set_axis(["s", "n"], axis=1),
                       links[["mon2", "mon2_name"]].set_axis(["s", "n"], axis=1)]).dropna().drop_duplicates("s")
    return LinkTable(pid, pclass, mons, roles, list(linkage), pair, by_class, classes, weights / weights.sum(),
                     rows_with, pairs_of, dict(zip(pid.tolist(), pclass)), linkage_of,
                     dict(zip(names["s"], names["n"])), classes_of)


def link_table(pools: Pools) -> LinkTable:
    """The split's link lookups, built once per Pools object (cached on it)."""
    table = pools.__dict__.get("_conceptual_links")
    if table is None:
        table = _build_links(pools)
        pools.__dict__["_conceptual_links"] = table
    return table


def group_count(pools: Pools, polymer_id: int, column: str) -> int:
    """One feature count of a polymer of the split (a numpy look-up, not a row)."""
    return int(pools.polymers[column].to_numpy()[pools.polymers.index.get_loc(polymer_id)])


_CARBOXYL = Chem.MolFromSmarts("[CX3](=O)[OX2H1,OX1-]")


@lru_cache(maxsize=4096)
def closes_imide_ring(diacid: str) -> bool:
    """Whether two carboxyl groups of a diacid sit 1,2 (ortho, succinic, maleic) or peri (1,8 on fused aromatic
    rings): with an amine they close a 5- or 6-membered cyclic imide instead of a chain amide."""
    mol = Chem.MolFromSmiles(diacid)
    if mol is None:
        return False
    carbons = [m[0] for m in mol.GetSubstructMatches(_CARBOXYL)]
    for i, a in enumerate(carbons):
        for b in carbons[i + 1:]:
            path = Chem.GetShortestPath(mol, a, b)
            if len(path) == 4:  # C(=O)-X-X-C(=O): a 5-membered imide
                return True
            if len(path) == 5 and _peri(mol, path[1], path[2], path[3]):
                return True     # peri on a naphthalene: a 6-membered imide
    return False


def _peri(mol: Chem.Mol, a: int, fusion: int, b: int) -> bool:
    """a and b on two fused aromatic rings, both next to the fusion atom (naphthalene 1 and 8), not meta."""
    rings = mol.GetRingInfo()
    aromatic = all(mol.GetAtomWithIdx(i).GetIsAromatic() for i in (a, fusion, b))
    return aromatic and rings.NumAtomRings(fusion) >= 2 and not any(
        a in ring and b in ring for ring in rings.AtomRings())


def _imide_forming(pclass: str, mons: tuple[str, ...], roles: tuple[str, ...] | None) -> bool:
    """A polyamide row whose diacid closes an imide ring with the diamine."""
    if pclass != "polyamide" or roles is None or "diamin" not in roles:
        return False
    return any(role == "diCOOH" and closes_imide_ring(m) for m, role in zip(mons, roles))
