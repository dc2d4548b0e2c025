"""Category 2, conceptual knowledge: polymerization classes, reaction linkages, monomers, property definitions.

Grounded in the split's SMiPoly links (which monomer pair makes which polymer by which class), SMiPoly's
pairing table (which monomer classes each class combines) and the property registry; never free text.
The link lookups (`link_table`) are shared with the synthesis-design templates.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from itertools import permutations

import numpy as np
import pandas as pd
from smipoly.smip import polg

from agents.schema import Answer, SubQuestion, Task, TaskParams
from agents.taskgen.base import (
    LETTERS,
    Draw,
    Rejected,
    TemplateContext,
    TemplateDefaults,
    labelled_ids,
    lettered,
    make_task,
    polymer_refs,
    shuffled_choice,
)
from agents.taskgen.pools import Pools
from agents.taskgen.registry import register
from kb.features import GROUP_COLUMNS
from kb.properties import PROPERTIES
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
_LINKAGE_OF_TEXT = {text: name for name, text in LINKAGE_TEXT.items()}
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


def key_of(pools: Pools, polymer_id: int) -> str:
    """A polymer's key from an array cached on the Pools (a .loc / .at look-up costs ~100 us)."""
    keys = pools.__dict__.get("_key_column")
    if keys is None:
        keys = pools.__dict__["_key_column"] = pools.polymers["key"].to_numpy(dtype=object)
    return keys[pools.polymers.index.get_loc(polymer_id)]


def group_count(pools: Pools, polymer_id: int, column: str) -> int:
    """One feature count of a polymer of the split (a numpy look-up, not a row)."""
    return int(pools.polymers[column].to_numpy()[pools.polymers.index.get_loc(polymer_id)])


def option_texts(task: Task) -> list[str]:
    return [o.split(") ", 1)[1] for o in task.options or []]


def one_correct(task: Task, correct: Callable[[str], bool]) -> str | None:
    """None when exactly one option is correct and it is the gold letter, else the problem."""
    hits = [LETTERS[i] for i, text in enumerate(option_texts(task)) if correct(text)]
    return None if hits == [task.gold.choice] else f"correct options {hits} != gold {task.gold.choice}"


class _Base(TemplateDefaults):
    category = "conceptual_knowledge"

    def compose_from_subs(self, task: Task) -> Answer | None:
        return task.sub_questions[-1].gold if task.sub_questions else None


def _linked_row(ctx: TemplateContext, rng: np.random.Generator) -> tuple[LinkTable, int] | Rejected:
    table = link_table(ctx.pools)
    if not table.classes:
        return Rejected("no SMiPoly links in the split")
    r = table.pick(rng)
    return (table, r) if table.roles[r] is not None else Rejected("monomer classes fit no pairing of the class")


@register
class PolymerizationClass(_Base):
    """Which polymerization class can join these monomers? Distractors: classes their classes cannot give."""

    name = "polymerization_class"

    def sample(self, ctx, rng):
        picked = _linked_row(ctx, rng)
        if isinstance(picked, Rejected):
            return picked
        table, r = picked
        wrong = sorted(set(POLYMER_CLASSES) - table.achievable(int(table.pid[r])))
        if len(wrong) < 3:
            return Rejected("fewer than 3 impossible classes")
        distractors = [wrong[i] for i in rng.choice(len(wrong), size=3, replace=False)]
        return Draw([int(table.pid[r])], {"row": r, "distractors": distractors, "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx, draw):
        table, r = link_table(ctx.pools), draw.params["row"]
        options, letter = shuffled_choice(np.random.default_rng(draw.params["seed"]), table.pclass[r],
                                          draw.params["distractors"])
        what = (f"join {table.pair_text(table.mons[r])} into one polymer chain" if len(table.mons[r]) == 2
                else f"turn {table.pair_text(table.mons[r])} into a polymer")
        question = (f"Which polymerization class can {what}, by SMiPoly's reaction rules? "
                    f"Exactly one option is possible.")
        return make_task(self, ctx, difficulty=2, question=question, gold=Answer(type="choice", choice=letter),
                         options=options, polymer_ids=draw.polymer_ids, source_ids=[SMIPOLY_SOURCE],
                         params=TaskParams(monomers=list(table.mons[r]), asked="polymerization_class"))

    def check(self, ctx, task):
        possible = link_table(ctx.pools).achievable(task.polymer_ids[0])
        return one_correct(task, lambda text: text in possible)


@register
class ReactionLinkage(_Base):
    """Which linkage does the reaction of these monomers form? Distractors are absent from the product."""

    name = "reaction_linkage"

    def sample(self, ctx, rng):
        picked = _linked_row(ctx, rng)
        if isinstance(picked, Rejected):
            return picked
        table, r = picked
        if table.linkage[r] is None:
            return Rejected("linkage not found in the product's groups")
        pid = int(table.pid[r])
        wrong = [g for g in LINKAGE_TEXT if self._wrong(ctx, pid, g)]
        distractors = [wrong[i] for i in rng.choice(len(wrong), size=3, replace=False)]
        return Draw([pid], {"row": r, "distractors": distractors, "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx, draw):
        table, r = link_table(ctx.pools), draw.params["row"]
        options, letter = shuffled_choice(np.random.default_rng(draw.params["seed"]), LINKAGE_TEXT[table.linkage[r]],
                                          [LINKAGE_TEXT[g] for g in draw.params["distractors"]])
        parts = [f"{table.monomer_text(m)}, reacting as a {ROLE_WORDS.get(role, role)},"
                 for m, role in zip(table.mons[r], table.roles[r])]
        what = " is polymerized with ".join(parts) if len(parts) == 2 else f"{parts[0]} is polymerized on its own"
        question = (f"{what[0].upper()}{what[1:].rstrip(',')}. Which linkage joins the monomer units in the "
                    f"polymer formed?")
        return make_task(self, ctx, difficulty=2, question=question, gold=Answer(type="choice", choice=letter),
                         options=options, polymer_ids=draw.polymer_ids, source_ids=[SMIPOLY_SOURCE],
                         params=TaskParams(monomers=list(table.mons[r]), monomer_roles=list(table.roles[r]),
                                           asked="linkage"))

    def _wrong(self, ctx: TemplateContext, pid: int, linkage: str) -> bool:
        """A linkage is surely wrong when it is not the reaction's and the product does not contain it."""
        if linkage == link_table(ctx.pools).linkage_of[pid]:
            return False
        return linkage == "C-C" or group_count(ctx.pools, pid, GROUP_COLUMNS[linkage]) == 0

    def check(self, ctx, task):
        pid = task.polymer_ids[0]
        return one_correct(task, lambda text: not self._wrong(ctx, pid, _LINKAGE_OF_TEXT[text]))


def property_split(prop: str) -> str:
    """Properties are dealt to splits by a hash (1 in 10 dev, 1 in 10 test): no question repeats across splits."""
    h = zlib.crc32(prop.encode()) % 10
    return "dev" if h == 0 else "test" if h == 1 else "train"


def _unit_text(unit: str) -> str:
    return "dimensionless (-)" if unit == "-" else unit


@register
class PropertyDefinition(_Base):
    """The canonical unit of a property, or what a property name means (registry facts; few distinct tasks)."""

    name = "property_definition"

    def sample(self, ctx, rng):
        mine = [p for p in PROPERTIES if property_split(p) == ctx.split]
        prop = PROPERTIES[mine[rng.integers(len(mine))]]
        mode = "unit" if rng.random() < 0.5 else "definition"
        if mode == "unit":
            wrong = sorted({p.unit for p in PROPERTIES.values()} - {prop.unit})
        else:
            wrong = sorted({p.description for p in PROPERTIES.values() if p.unit != prop.unit})
        picked = [wrong[i] for i in rng.choice(len(wrong), size=3, replace=False)]
        return Draw([], {"prop": prop.name, "mode": mode, "distractors": picked, "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx, draw):
        prop, mode = PROPERTIES[draw.params["prop"]], draw.params["mode"]
        rng = np.random.default_rng(draw.params["seed"])
        if mode == "unit":
            options, letter = shuffled_choice(rng, _unit_text(prop.unit),
                                              [_unit_text(u) for u in draw.params["distractors"]])
            question = f"In which unit does the PolyBench knowledge base store `{prop.name}` ({prop.description})?"
        else:
            options, letter = shuffled_choice(rng, prop.description, draw.params["distractors"])
            question = (f"What does the property `{prop.name}` of the PolyBench knowledge base denote? "
                        f"Its values are stored in {_unit_text(prop.unit)}.")
        return make_task(self, ctx, difficulty=1, question=question, gold=Answer(type="choice", choice=letter),
                         options=options, params=TaskParams(property=prop.name, asked=mode))

    def check(self, ctx, task):
        prop = PROPERTIES[task.params.property]
        if task.params.asked == "unit":
            return one_correct(task, lambda text: text == _unit_text(prop.unit))
        return one_correct(task, lambda text: text == prop.description)


@register
class MonomersForPolymer(_Base):
    """Which monomer pair gives this polymer? linkage -> class -> monomers (difficulty 3)."""

    name = "monomers_for_polymer"

    def sample(self, ctx, rng):
        picked = _linked_row(ctx, rng)
        if isinstance(picked, Rejected):
            return picked
        table, r = picked
        pid = int(table.pid[r])
        if table.linkage[r] is None:
            return Rejected("linkage not found in the product's groups")
        own = table.pairs_of[pid]
        others = table.others(r, rng, 3, lambda c: None if table.pair[c] in own else table.pair[c])
        if len(others) < 3:
            return Rejected("too few other monomer pairs")
        return Draw([pid], {"row": r, "others": others, "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx, draw):
        table, r = link_table(ctx.pools), draw.params["row"]
        pid, pclass, linkage = draw.polymer_ids[0], table.pclass[r], table.linkage[r]
        options, letter = shuffled_choice(np.random.default_rng(draw.params["seed"]), table.pair_text(table.mons[r]),
                                          [table.pair_text(table.mons[c]) for c in draw.params["others"]])
        polymer = ctx.pools.display_name(pid)
        subs = [
            SubQuestion(id="linkage", skill="identify-linkage", gold=Answer(type="set", items=[linkage]),
                        question=f"Which linkage joins the monomer units along the backbone of {polymer}?"),
            SubQuestion(id="class", skill="classify-polymer", gold=Answer(type="set", items=[pclass]),
                        question="Which polymerization class forms that linkage?", depends_on=["linkage"]),
            SubQuestion(id="monomers", skill="select-monomers", gold=Answer(type="choice", choice=letter),
                        question=f"Which option is a monomer pair that gives the polymer by {pclass} polymerization?",
                        depends_on=["class"]),
        ]
        question = (f"Which monomers can be polymerized into {polymer}, by SMiPoly's reaction rules? "
                    f"Exactly one option gives this repeat unit.")
        return make_task(self, ctx, difficulty=3, question=question, gold=Answer(type="choice", choice=letter),
                         options=options, sub_questions=subs, polymer_ids=[pid], source_ids=[SMIPOLY_SOURCE],
                         params=TaskParams(polymers=polymer_refs(ctx.pools, [pid], ["polymer"]), asked="monomers"),
                         composition="the backbone linkage names the class; the class says which monomer classes "
                                     "react; the option with such a pair that builds the unit is the answer")

    def check(self, ctx, task):
        right = link_table(ctx.pools).pair_texts_of(labelled_ids(task)["polymer"])
        return one_correct(task, lambda text: text in right)


@register
class PolymerFromMonomers(_Base):
    """Which repeat unit do these monomers form together? class -> linkage -> product (difficulty 3)."""

    name = "polymer_from_monomers"

    def sample(self, ctx, rng):
        picked = _linked_row(ctx, rng)
        if isinstance(picked, Rejected):
            return picked
        table, r = picked
        pid = int(table.pid[r])
        if table.linkage[r] is None:
            return Rejected("linkage not found in the product's groups")
        if len(table.achievable(pid)) > 1:
            return Rejected("monomers fit several classes")
        own = table.pairs_of[pid]
        others = table.others(r, rng, 3, lambda c: None if table.pairs_of[int(table.pid[c])] & own
                              else int(table.pid[c]))
        if len(others) < 3:
            return Rejected("too few other products")
        return Draw([pid] + [int(table.pid[c]) for c in others], {"row": r, "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx, draw):
        table, r = link_table(ctx.pools), draw.params["row"]
        pid, pclass, linkage = draw.polymer_ids[0], table.pclass[r], table.linkage[r]
        show = ctx.pools.display_name
        shuffle = np.random.default_rng(draw.params["seed"])
        order = [draw.polymer_ids[i] for i in shuffle.permutation(len(draw.polymer_ids))]
        options, letter = lettered([show(q) for q in order]), LETTERS[order.index(pid)]
        monomers = table.pair_text(table.mons[r])
        subs = [
            SubQuestion(id="class", skill="classify-polymer", gold=Answer(type="set", items=[pclass]),
                        question=f"Which polymerization class can polymerize {monomers}?"),
            SubQuestion(id="linkage", skill="identify-linkage", gold=Answer(type="set", items=[linkage]),
                        question="Which linkage does that polymerization form between the monomer units?",
                        depends_on=["class"]),
            SubQuestion(id="product", skill="parse-structure", gold=Answer(type="choice", choice=letter),
                        question="Which option's repeat unit holds that linkage and is built from these monomers?",
                        depends_on=["linkage"]),
        ]
        question = (f"Which repeat unit is formed when {monomers} polymerize{'s' if len(table.mons[r]) == 1 else ''}, "
                    f"by SMiPoly's reaction rules? "
                    f"Exactly one option is the product.")
        return make_task(self, ctx, difficulty=3, question=question, gold=Answer(type="choice", choice=letter),
                         options=options, sub_questions=subs, polymer_ids=draw.polymer_ids,
                         source_ids=[SMIPOLY_SOURCE],
                         params=TaskParams(polymers=polymer_refs(ctx.pools, order, list(LETTERS[: len(order)])),
                                           monomers=list(table.mons[r]), asked="product"),
                         composition="the monomer classes give the class, the class the linkage; the product is "
                                     "the option built from both monomers through that linkage")

    def check(self, ctx, task):
        table, asked = link_table(ctx.pools), frozenset(task.params.monomers)
        makers = {label for label, p in labelled_ids(task).items() if asked in table.pairs_of[p]}
        hits = sorted(makers)
        return None if hits == [task.gold.choice] else f"options made from the monomers {hits} != gold {task.gold.choice}"

