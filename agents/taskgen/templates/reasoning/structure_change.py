"""Structure-change effects from matched pairs: two measured polymers that differ by one clean group change."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from rdkit import Chem

from agents.schema import Answer, SubQuestion, Task, TaskParams
from agents.taskgen.base import (
    LETTERS,
    Draw,
    Rejected,
    TemplateContext,
    labelled_ids,
    lettered,
    make_task,
    polymer_refs,
)
from agents.taskgen.lookup import measured
from agents.taskgen.pools import Pools
from agents.taskgen.registry import register
from agents.taskgen.templates.reasoning.common import (
    ReasoningTemplate,
    cached_lookup,
)
from agents.taskgen.tolerances import clearly_different, tolerance_for
from agents.taskgen.wording import group_words, in_unit, property_phrase
from kb.features import GROUP_COLUMNS, chain_of, fingerprint_of, star_atoms
from kb.properties import get_property

HALOGENS = {"fluoro": "fluorine atom", "chloro": "chlorine atom", "bromo": "bromine atom"}
SIMILARITY_MIN = 0.5       # Morgan Tanimoto of a matched pair ("a close analogue")
MAX_HEAVY_DELTA = 7        # heavy-atom difference of a matched pair ("a small change")
MAX_CH2 = 3                # at most this many CH2 units more or fewer besides the group change
# the atoms one more of each group brings (H -> F, an inserted -O-, H -> phenyl or an inserted phenylene, ...)
CLEAN_CHANGES: dict[str, dict[str, int]] = {
    "fluoro": {"F": 1, "H": -1}, "chloro": {"Cl": 1, "H": -1}, "bromo": {"Br": 1, "H": -1},
    "phenyl": {"C": 6, "H": 4}, "ether": {"O": 1}, "thioether": {"S": 1}, "sulfone": {"S": 1, "O": 2},
    "ketone": {"C": 1, "O": 1}, "ester": {"C": 1, "O": 2}, "amide": {"C": 1, "O": 1, "N": 1, "H": 1},
    "hydroxyl": {"O": 1}, "nitrile": {"C": 1, "N": 1, "H": -1}, "alkene": {"C": 2, "H": 2},
    "siloxane": {"Si": 1, "O": 1, "C": 2, "H": 6},
}
_CHUNK = 512
_GROUP_OF = {column: group for group, column in GROUP_COLUMNS.items()}
_ELEMENT = re.compile(r"([A-Z][a-z]?)(\d*)")


# --- 3. structural change from matched pairs -----------------------------------------------------------

@dataclass(frozen=True)
class _Pair:
    """Polymer b is polymer a plus a small change (labels such as 'phenyl +1', 'CH2 -2'); both have the value."""

    a: int
    b: int
    change: tuple[str, ...]
    prop: str
    kind: str


def _elements(formula: str) -> Counter:
    return Counter({el: int(n or 1) for el, n in _ELEMENT.findall(formula)})


def _change(delta: np.ndarray, ca: Counter, cb: Counter, columns: list[str]) -> tuple[str, ...] | None:
    """What b has more of than a, when that is all: one group (phenyl counted with its aromatic ring) added
    k times with its own atoms (CLEAN_CHANGES), plus or minus up to MAX_CH2 CH2 units; or only CH2 units."""
    changed = {columns[i]: int(delta[i]) for i in np.flatnonzero(delta)}
    if set(changed) == {"n_phenyl", "aromatic_rings"} and changed["n_phenyl"] == changed["aromatic_rings"]:
        changed = {"n_phenyl": changed["n_phenyl"]}
    rest = Counter(cb)
    rest.subtract(ca)
    labels: tuple[str, ...] = ()
    if len(changed) == 1:
        (column, k), = changed.items()
        group = _GROUP_OF[column]
        if k <= 0 or group not in CLEAN_CHANGES:
            return None
        rest.subtract({el: n * k for el, n in CLEAN_CHANGES[group].items()})
        labels = (f"{group} +{k}",)
    elif changed:
        return None
    rest = {el: n for el, n in rest.items() if n}
    if rest and (set(rest) != {"C", "H"} or rest["H"] != 2 * rest["C"] or abs(rest["C"]) > MAX_CH2):
        return None
    ch2 = rest.get("C", 0)
    if not labels:
        return (f"CH2 +{ch2}",) if ch2 > 0 else None
    return (*labels, f"CH2 {ch2:+d}") if ch2 else labels


def _similar(bits: np.ndarray, heavy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs i < j with Tanimoto >= SIMILARITY_MIN and at most MAX_HEAVY_DELTA heavy atoms apart.

    `bits` holds 0/1 float32 fingerprint rows sorted by `heavy`, so each chunk of rows is compared only
    with the band of later rows close enough in size.
    """
    counts = bits.sum(axis=1)
    found_i, found_j = [], []
    for start in range(0, len(bits), _CHUNK):
        end = min(start + _CHUNK, len(bits))
        stop = int(np.searchsorted(heavy, heavy[end - 1] + MAX_HEAVY_DELTA, side="right"))
        inter = bits[start:end] @ bits[start:stop].T
        tanimoto = inter / (counts[start:end, None] + counts[None, start:stop] - inter)
        i, j = np.nonzero(tanimoto >= SIMILARITY_MIN)
        i, j = i + start, j + start
        keep = (j > i) & (heavy[j] - heavy[i] <= MAX_HEAVY_DELTA)
        found_i.append(i[keep])
        found_j.append(j[keep])
    return np.concatenate(found_i), np.concatenate(found_j)


def _build_pairs(pools: Pools) -> list[_Pair]:
    """Matched pairs of measured polymers (Tanimoto >= SIMILARITY_MIN, one small change), one per clearly
    different shared value; orientated so that b has more of the change than a."""
    look = measured(pools)
    if len(look.pks_of) < 2:
        return []
    rows = pools.polymers.loc[sorted(look.pks_of)].sort_values("heavy_atoms", kind="stable")
    ids = rows.index.tolist()
    bits = np.stack([np.unpackbits(np.frombuffer(fingerprint_of(k), dtype=np.uint8)) for k in rows["key"]])
    columns = list(GROUP_COLUMNS.values())
    groups = rows[columns].fillna(0).to_numpy(dtype=np.int64)
    heavy = rows["heavy_atoms"].to_numpy(dtype=np.int64)
    formulas = [_elements(f) for f in rows["formula"]]
    carbons, hydrogens = (np.array([f[el] for f in formulas]) for el in ("C", "H"))
    others = np.array([hash(tuple(sorted((el, n) for el, n in f.items() if el not in "CH"))) for f in formulas])
    first, second = _similar(bits.astype(np.float32), heavy)
    # cheap vectorised screens before the exact check: small size change, <= 2 group counts differ
    # (phenyl + its aromatic ring) or none and a CH2 homologue
    delta = groups[second] - groups[first]
    n_changed = np.count_nonzero(delta, axis=1)
    phenyl, aromatic = columns.index("n_phenyl"), columns.index("aromatic_rings")
    ring_added = (n_changed == 2) & (delta[:, phenyl] == delta[:, aromatic])
    dc, dh = carbons[second] - carbons[first], hydrogens[second] - hydrogens[first]
    homologue = ((n_changed == 0) & (others[first] == others[second]) & (dh == 2 * dc) & (dc != 0)
                 & (np.abs(dc) <= MAX_CH2))
    keep = (n_changed == 1) | ring_added | homologue
    flip = np.where(homologue, dc < 0, delta.sum(axis=1) < 0)  # orient: b has more of the change
    measured_pks = {pid: set(pks) for pid, pks in look.pks_of.items()}
    pairs = []
    for i, j, swap in zip(first[keep].tolist(), second[keep].tolist(), flip[keep].tolist()):
        a, b = (j, i) if swap else (i, j)
        found = _change(groups[b] - groups[a], formulas[a], formulas[b], columns)
        if found is None:
            continue
        pa, pb = ids[a], ids[b]
        if found[0].startswith("CH2") and not inserted_only(pools.key_of(pa), pools.key_of(pb)):
            continue  # the CH2 units moved (a rearranged unit), not a homologue
        for prop, kind in sorted(measured_pks[pa] & measured_pks[pb]):
            if clearly_different(prop, look.value[(pa, prop, kind)], look.value[(pb, prop, kind)]):
                pairs.append(_Pair(pa, pb, found, prop, kind))
    return sorted(pairs, key=lambda p: (p.a, p.b, p.prop, p.kind))


def inserted_only(smaller: str, larger: str) -> bool:
    """Whether the larger unit's chain holds the smaller unit exactly (its * as any atom, every other atom's
    degree kept): CH2 units were inserted into the chain, not moved between its runs (a rearranged ester)."""
    params = Chem.AdjustQueryParameters.NoAdjustments()
    params.makeDummiesQueries = True
    params.adjustDegree = True
    params.adjustDegreeFlags = Chem.AdjustQueryWhichFlags.ADJUST_IGNOREDUMMIES
    query = Chem.AdjustQueryProperties(Chem.MolFromSmiles(smaller), params)
    target = Chem.MolFromSmiles(larger)
    return chain_of(target, star_atoms(target), 3).HasSubstructMatch(query)


def _change_words(change: tuple[str, ...]) -> str:
    """('phenyl +1', 'CH2 -2') -> '1 more phenyl (benzene ring ...) and 2 fewer CH2 units'."""
    words = []
    for label in change:
        group, count = label.rsplit(" ", 1)
        n = int(count)
        if group in HALOGENS or group == "CH2":
            what = (HALOGENS.get(group) or "CH2 unit") + ("s" if abs(n) > 1 else "")
        else:
            what = group_words(group)
        words.append(f"{abs(n)} {'more' if n > 0 else 'fewer'} {what}")
    return " and ".join(words)


INCREASES, DECREASES = "It increases: B's value is higher than A's", "It decreases: B's value is lower than A's"


@register
class StructureChangeEffect(ReasoningTemplate):
    """A matched pair from the split: does the small structural change from A to B raise or lower a property?"""

    name = "structure_change_effect"

    def sample(self, ctx: TemplateContext, rng: np.random.Generator) -> Draw | Rejected:
        pairs = cached_lookup(ctx.pools, "pairs", _build_pairs)
        if not pairs:
            return Rejected("no matched pairs in the split")
        pair = pairs[int(rng.integers(len(pairs)))]
        return Draw([pair.a, pair.b], {"pair": pair, "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx: TemplateContext, draw: Draw) -> Task | Rejected:
        look, pair = measured(ctx.pools), draw.params["pair"]
        va, vb = look.value[(pair.a, pair.prop, pair.kind)], look.value[(pair.b, pair.prop, pair.kind)]
        unit, what = get_property(pair.prop).unit, property_phrase(pair.prop, pair.kind)
        options = [INCREASES, DECREASES]
        if np.random.default_rng(draw.params["seed"]).random() < 0.5:
            options.reverse()
        gold = Answer(type="choice", choice=LETTERS[options.index(INCREASES if vb > va else DECREASES)])
        subs = [
            SubQuestion(id="change", skill="identify-linkage", gold=Answer(type="set", items=list(pair.change)),
                        question="How does the repeat unit of B differ from A's? List each functional group, linkage "
                                 "or halogen whose count per repeat unit differs as '<group> +<n>' (B minus A, the "
                                 "knowledge base's group names) and any remaining difference in CH2 units as "
                                 "'CH2 +<n>' or 'CH2 -<n>'."),
            SubQuestion(id="value_a", skill="look-up-property", question=f"What is the {what} of A{in_unit(unit)}?",
                        gold=Answer(type="number", number=va, unit=unit, **tolerance_for(pair.prop, va))),
            SubQuestion(id="value_b", skill="look-up-property", question=f"What is the {what} of B{in_unit(unit)}?",
                        gold=Answer(type="number", number=vb, unit=unit, **tolerance_for(pair.prop, vb))),
            SubQuestion(id="compare", skill="compare", question="Is B's value higher than A's?",
                        gold=Answer(type="yes_no", yes=vb > va), depends_on=["value_a", "value_b"]),
            SubQuestion(id="effect", skill="structure-effect", gold=gold, depends_on=["change", "compare"],
                        question=f"So what does this change (B has {_change_words(pair.change)} than A) do "
                                 f"to the {what}?"),
        ]
        question = (f"Polymer A is {ctx.pools.display_name(pair.a)}. Polymer B, a close structural analogue, is "
                    f"{ctx.pools.display_name(pair.b)}. Judging by the knowledge base's {what} values, does the "
                    f"structural change from A to B increase or decrease this property?")
        return make_task(self, ctx, difficulty=3, question=question, gold=gold, options=lettered(options),
                         sub_questions=subs, polymer_ids=[pair.a, pair.b],
                         composition="increases when B's value is higher than A's",
                         source_ids=look.sources_of([(pair.a, pair.prop, pair.kind), (pair.b, pair.prop, pair.kind)]),
                         params=TaskParams(polymers=polymer_refs(ctx.pools, [pair.a, pair.b], ["A", "B"]),
                                           property=pair.prop, kind=pair.kind, unit=unit, asked="effect"))

    def compose_from_subs(self, task: Task) -> Answer:
        higher = next(s.gold.yes for s in task.sub_questions if s.id == "compare")
        texts = [o.split(") ", 1)[1] for o in task.options or []]
        return Answer(type="choice", choice=LETTERS[texts.index(INCREASES if higher else DECREASES)])

    def check(self, ctx: TemplateContext, task: Task) -> str | None:
        pools, look, ids = ctx.pools, measured(ctx.pools), labelled_ids(task)
        a, b, prop, kind = ids["A"], ids["B"], task.params.property, task.params.kind
        change = next(s.gold.items for s in task.sub_questions if s.id == "change")
        found = _change(look.groups[b] - look.groups[a], _elements(pools.polymers.at[a, "formula"]),
                        _elements(pools.polymers.at[b, "formula"]), list(GROUP_COLUMNS.values()))
        if found is None or list(found) != change:
            return "the structural change does not match the pair"
        va, vb = look.value.get((a, prop, kind)), look.value.get((b, prop, kind))
        if va is None or vb is None or not clearly_different(prop, va, vb):
            return "the pair has no clearly different values of the property"
        expected = INCREASES if vb > va else DECREASES
        texts = [o.split(") ", 1)[1] for o in task.options or []]
        return None if texts.index(expected) == LETTERS.index(task.gold.choice) else "gold differs from the pools"

