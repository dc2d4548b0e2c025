"""Category 6, synthesis and design: propose a polymer meeting constraints, pick a route, judge a route.

Design golds are measured KB polymers of the split, but any polymer meeting every constraint is right:
`check_design_answer` verifies an answer against a split's Pools or against the KB (a KBView). Routes come
from the split's SMiPoly links (agents.taskgen.links).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial

import numpy as np

from agents.schema import Answer, Constraint, SubQuestion, Task, TaskParams
from agents.taskgen.base import (
    Draw,
    Rejected,
    TemplateContext,
    TemplateDefaults,
    labelled_ids,
    make_task,
    one_correct,
    polymer_refs,
    shuffled_choice,
)
from agents.taskgen.links import SMIPOLY_SOURCE, group_count, link_table
from agents.taskgen.lookup import measured
from agents.taskgen.pools import Pools
from agents.taskgen.registry import register
from agents.taskgen.wording import constraint_text
from kb.assemble import polymer_id_of
from kb.errors import InvalidPolymerError, UnknownPropertyError
from kb.features import GROUP_COLUMNS, features_of
from kb.properties import get_property
from kb.repeat_unit import to_mol, to_repeat_unit
from kb.units import UnitError, convert
from tools.backbone_class import backbone_class
from tools.connections import connection
from tools.constraint_sql import group_column
from tools.errors import ToolError
from tools.kb_view import KBView
from tools.synthesis import POLYMER_CLASSES

DESIGN_GROUPS = ("ester", "amide", "imide", "ether", "carbonate", "urethane", "sulfone", "siloxane", "ketone",
                 "nitrile", "hydroxyl", "carboxylic_acid", "fluoro", "chloro", "phenyl", "alkene", "thioether")
MIN_POLYMERS = 20     # a (property, kind) needs this many polymers in the split to be constrained
MIN_SOLUTIONS = 3     # at least this many split polymers must meet all constraints
MAX_SHARE = 0.5       # ... but at most this share of the polymers that have the constrained values


@dataclass
class DesignIndex:
    """Measured values of the split's linear polymers, ranked per (property, kind), and their groups.

    Constraint filters are boolean masks over `ids` (the polymers a design gold may be).
    """

    ids: np.ndarray                                   # sorted polymer ids
    keys_of: dict[int, list[tuple[str, str]]]         # polymer -> its constrainable (property, kind)
    values: dict[int, dict[tuple[str, str], float]]   # polymer -> (property, kind) -> median (all properties)
    sources: dict[tuple[int, str, str], str]
    ranked: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]  # positions in ids, values (ascending)
    present: np.ndarray                               # ids x DESIGN_GROUPS: the group is in the unit
    link_class: np.ndarray                            # SMiPoly class per id ('' when none)
    common: tuple[str, ...]                           # groups at least 10 % of the ids have


def design_index(pools: Pools) -> DesignIndex:
    """Built once per Pools object (cached on it)."""
    index = pools.__dict__.get("_design_index")
    if index is None:
        index = pools.__dict__["_design_index"] = _build_index(pools)
    return index


def _build_index(pools: Pools) -> DesignIndex:
    rows = pools.values
    pid = rows["polymer_id"].to_numpy(dtype=np.int64)
    values: dict[int, dict[tuple[str, str], float]] = {}
    sources = {}
    for p, prop, kind, v, src in zip(pid.tolist(), rows["property"], rows["kind"], rows["value"], rows["sources"]):
        values.setdefault(p, {})[(prop, kind)] = float(v)
        sources[(p, prop, kind)] = str(src)
    look = measured(pools)  # golds and ranges come from the polymers whose values questions may ask about
    constrainable = {k: m for k, m in look.by_pk.items() if len(m) >= MIN_POLYMERS}
    ids = np.unique(np.concatenate(list(constrainable.values()))) if constrainable else np.zeros(0, np.int64)
    ranked, keys_of = {}, {}
    for key in sorted(constrainable):
        members = constrainable[key]
        order = np.argsort([look.value[(int(m), *key)] for m in members], kind="stable")
        members = members[order]
        ranked[key] = np.searchsorted(ids, members), np.array([look.value[(int(m), *key)] for m in members])
        for p in members.tolist():
            keys_of.setdefault(p, []).append(key)
    present = pools.polymers.loc[ids, [GROUP_COLUMNS[g] for g in DESIGN_GROUPS]].to_numpy() > 0
    classes = link_table(pools).class_of
    link_class = np.array([classes.get(p, "") for p in ids.tolist()], dtype=object)
    common = tuple(g for g, share in zip(DESIGN_GROUPS, present.mean(axis=0) if len(ids) else []) if share >= 0.1)
    return DesignIndex(ids, keys_of, values, sources, ranked, present, link_class, common)


def _nice(x: float, down: bool) -> float:
    """x rounded outward to two significant digits (down for a lower bound, up for an upper bound)."""
    if x == 0 or not math.isfinite(x):
        return x
    step = 10 ** (math.floor(math.log10(abs(x))) - 1)
    y = float(f"{(math.floor if down else math.ceil)(x / step) * step:.3g}")
    return y if (y <= x if down else y >= x) else float(f"{y + (-step if down else step):.3g}")


@register
class DesignPolymer:
    """Propose a polymer meeting 2-4 constraints (property ranges around real values, groups, class)."""

    name = "design_polymer"
    category = "synthesis_design"
    version = "1"

    def sample(self, ctx, rng):
        index = design_index(ctx.pools)
        if not len(index.ids):
            return Rejected("no linear polymer with enough measured values")
        at = int(rng.integers(len(index.ids)))
        gold, n = int(index.ids[at]), int(rng.integers(2, 5))
        keys = [index.keys_of[gold][i] for i in rng.permutation(len(index.keys_of[gold]))]
        keys = [k for i, k in enumerate(keys) if k[0] not in {p for p, _ in keys[:i]}]  # one kind per property
        keys = keys[: 1 if n == 2 else int(rng.integers(1, 3))]
        constraints, allowed, have = [], np.ones(len(index.ids), bool), np.ones(len(index.ids), bool)
        for prop, kind in keys:
            c, ok, has = self._range(index, gold, prop, kind, rng)
            constraints.append(c)
            allowed &= ok
            have &= has
        extra = ["require", "forbid"] + (["class"] if index.link_class[at] else [])
        for what in [extra[i] for i in rng.choice(len(extra), size=min(len(extra), n - len(keys)), replace=False)]:
            if what == "class":
                constraints.append(Constraint(type="polymer_class", value=index.link_class[at]))
                allowed &= index.link_class == index.link_class[at]
                continue
            groups = [i for i, g in enumerate(DESIGN_GROUPS) if index.present[at, i] == (what == "require")
                      and (what == "require" or g in index.common)]
            if groups:
                g = groups[rng.integers(len(groups))]
                constraints.append(Constraint(type=f"{what}_group", group=DESIGN_GROUPS[g]))
                allowed &= index.present[:, g] == (what == "require")
        n_ok = int(allowed.sum())
        if len(constraints) < 2:
            return Rejected("fewer than 2 constraints")
        if n_ok < MIN_SOLUTIONS:
            return Rejected("fewer than 3 split polymers meet the constraints")
        if n_ok > MAX_SHARE * have.sum():
            return Rejected("most polymers with these values meet the constraints")
        return Draw([gold], {"constraints": constraints, "n_solutions": n_ok})

    @staticmethod
    def _range(index: DesignIndex, gold: int, prop: str, kind: str,
               rng: np.random.Generator) -> tuple[Constraint, np.ndarray, np.ndarray]:
        """A range around the gold's value holding 10-30 % of the polymers (one-sided toward the gold's end),
        the mask of polymers inside it and the mask of polymers with a value at all."""
        positions, vals = index.ranked[(prop, kind)]
        n, v = len(vals), index.values[gold][(prop, kind)]
        r = int(np.searchsorted(vals, v))
        width = max(MIN_SOLUTIONS + 2, int(n * rng.uniform(0.1, 0.3)))
        left = int(rng.integers(0, width + 1))
        low = _nice(min(v, vals[max(0, r - left)]), True)
        high = _nice(max(v, vals[min(n - 1, r + width - left)]), False)
        if rng.random() < 0.4:
            low, high = (low, None) if r >= n / 2 else (None, high)
        inside = (vals >= (low if low is not None else -math.inf)) & (vals <= (high if high is not None else math.inf))
        ok, has = np.zeros(len(index.ids), bool), np.zeros(len(index.ids), bool)
        ok[positions[inside]] = True
        has[positions] = True
        c = Constraint(type="property_range", property=prop, kind=kind, min=low, max=high, unit=get_property(prop).unit)
        return c, ok, has

    def compose(self, ctx, draw):
        gold, constraints = draw.polymer_ids[0], draw.params["constraints"]
        key = ctx.pools.key_of(gold)
        texts = [constraint_text(c) for c in constraints]
        subs = [SubQuestion(id=f"check_{i + 1}", skill="check-constraint", gold=Answer(type="yes_no", yes=True),
                            question=f"Does your candidate polymer meet requirement ({i + 1}): {text}?")
                for i, text in enumerate(texts)]
        subs.append(SubQuestion(id="compose", skill="compose", gold=Answer(type="polymer", polymer=key),
                                question="Which polymer meets every requirement?",
                                depends_on=[s.id for s in subs]))
        question = ("Propose a polymer that meets all of these requirements: "
                    + "; ".join(f"({i + 1}) {t}" for i, t in enumerate(texts))
                    + ". Property requirements refer to the median of the knowledge base's measured values of the "
                      "stated kind. Answer with the repeat unit as SMILES with two * ends.")
        sources = [index_sources for c in constraints if c.type == "property_range"
                   for index_sources in design_index(ctx.pools).sources[(gold, c.property, c.kind)].split("; ")]
        return make_task(self, ctx, difficulty=4 if len(constraints) <= 3 else 5, question=question,
                         gold=Answer(type="polymer", polymer=key), sub_questions=subs, constraints=constraints,
                         composition="a polymer that passes every check is an answer", polymer_ids=[gold],
                         source_ids=sources, params=TaskParams(asked="design"))

    def check(self, ctx, task):
        ok, reasons = check_design_answer(ctx.pools, task, task.gold.polymer or "")
        return None if ok else "gold fails: " + "; ".join(reasons)

    def compose_from_subs(self, task):
        checks, last = task.sub_questions[:-1], task.sub_questions[-1]
        return last.gold if checks and all(s.gold.yes for s in checks) else None


# --- checking a design answer ---------------------------------------------------------------------------

@dataclass
class _Facts:
    key: str
    in_kb: bool
    values: dict[tuple[str, str], float]
    count: Callable[[str], int]     # features column -> value (group counts)
    classes: set[str]


def check_design_answer(source: Pools | KBView, task: Task, psmiles: str) -> tuple[bool, list[str]]:
    """Whether a proposed polymer meets every constraint of a design task, with a reason per failed one.

    The answer is canonicalised (kb.repeat_unit); property ranges use the polymer's measured medians in
    the split's Pools or in the KB view, so a polymer the KB does not hold cannot be verified for them.
    """
    facts = _facts(source, psmiles)
    if isinstance(facts, str):
        return False, [facts]
    reasons = [r for c in task.constraints if (r := _unmet(c, facts)) is not None]
    return not reasons, reasons


def _facts(source: Pools | KBView, text: str) -> _Facts | str:
    """What the constraints are checked against; a str is why the answer is not a usable polymer."""
    pid = polymer_id_of(text)
    if isinstance(source, Pools) and pid in source.polymers.index and source.key_of(pid) == text:
        key = text  # already a canonical KB key: skip the canonicalisation (a few ms)
    else:
        try:
            unit = to_repeat_unit(text)
        except InvalidPolymerError as exc:
            return f"invalid polymer {text!r}: {exc.reason}"
        if unit.status != "linear":
            return f"{text!r} is not a linear repeat unit with two * ends ({unit.status})"
        key, pid = unit.key, polymer_id_of(unit.key)
    if isinstance(source, Pools):
        in_kb = pid in source.polymers.index and source.key_of(pid) == key
        values = design_index(source).values.get(pid, {}) if in_kb else {}
        count = partial(group_count, source, pid) if in_kb else _counter(key)
        link_class = link_table(source).class_of.get(pid)
        return _Facts(key, in_kb, values, count, {link_class} if link_class else set())
    con = connection(source)
    in_kb = con.execute("SELECT count(*) FROM polymers WHERE polymer_id = ? AND key = ?", [pid, key]).fetchone()[0] > 0
    values = {(p, k): v for p, k, v in con.execute(
        "SELECT property, kind, value FROM property_summary WHERE polymer_id = ?", [pid]).fetchall()} if in_kb else {}
    classes = {r[0] for r in con.execute(
        "SELECT DISTINCT polymer_class FROM polymer_monomers WHERE polymer_id = ?", [pid]).fetchall()}
    return _Facts(key, in_kb, values, _counter(key), classes)


def _counter(key: str) -> Callable[[str], int]:
    """Feature look-up of a unit computed with kb.features (once, on first use)."""
    features = cache(lambda: features_of(key))
    return lambda column: int(features().get(column) or 0)


def _unmet(c: Constraint, facts: _Facts) -> str | None:
    """Why the polymer fails one constraint, or None when it meets it."""
    if c.type == "property_range":
        try:
            prop = get_property(c.property or "")
            low, high = (convert(b, c.unit, prop.unit) if b is not None and c.unit else b for b in (c.min, c.max))
        except (UnknownPropertyError, UnitError) as exc:
            return f"bad constraint {c.describe()}: {exc}"
        if not facts.in_kb:
            return f"{facts.key} is not in the KB: its {prop.name} cannot be verified (no measured value)"
        found = {k: v for (p, k), v in facts.values.items() if p == prop.name and c.kind in (None, k)}
        if not found:
            what = f"{c.kind} {prop.name}" if c.kind else prop.name
            return f"no measured {what} value for {facts.key}: cannot be verified"
        if any((low is None or v >= low) and (high is None or v <= high) for v in found.values()):
            return None
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(found.items()))
        return f"{prop.name} ({shown} {prop.unit}) is outside {c.describe()}"
    if c.type in ("require_group", "forbid_group"):
        try:
            count = facts.count(group_column(c.group or ""))
        except ToolError as exc:
            return str(exc)
        if (count > 0) == (c.type == "require_group"):
            return None
        return f"{c.group}: {count} per repeat unit, but the constraint is '{c.describe()}'"
    if c.type == "polymer_class":
        wanted = (c.value or "").strip().lower()
        if wanted in facts.classes:
            return None
        own = backbone_class(to_mol(facts.key), "linear")
        smipoly = f", SMiPoly class {', '.join(sorted(facts.classes))}" if facts.classes else ""
        return None if own == wanted else f"backbone class {own}{smipoly}, not {wanted}"
    if c.type == "data_kind":
        return None if any(k == c.value for _, k in facts.values) else f"no {c.value} values for {facts.key}"
    return f"{c.type} constraints cannot be checked on a proposed polymer"


# --- routes ----------------------------------------------------------------------------------------------

def _route_text(pair_text: str, pclass: str) -> str:
    return f"{pair_text}, by {pclass} polymerization"


class _Route(TemplateDefaults):
    category = "synthesis_design"

    @staticmethod
    def _row(ctx: TemplateContext, rng: np.random.Generator) -> int | Rejected:
        table = link_table(ctx.pools)
        return table.pick(rng) if table.classes else Rejected("no SMiPoly links in the split")


@register
class RouteForPolymer(_Route):
    """Which monomer pair and polymerization class make this polymer? (wrong class or wrong pair otherwise)."""

    name = "route_for_polymer"

    def sample(self, ctx, rng):
        r = self._row(ctx, rng)
        if isinstance(r, Rejected):
            return r
        table = link_table(ctx.pools)
        pid, pclass = int(table.pid[r]), table.pclass[r]
        own = table.pairs_of[pid]
        others = table.others(r, rng, 2, lambda c: None if table.pair[c] in own else table.pair[c])
        if len(others) < 2:
            return Rejected("too few other monomer pairs")
        wrong = [c for c in POLYMER_CLASSES if c not in table.achievable(pid)]  # cannot combine these monomers
        distractors = [(r, wrong[rng.integers(len(wrong))])] + [(c, pclass) for c in others]
        return Draw([pid], {"row": r, "distractors": distractors, "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx, draw):
        table, r = link_table(ctx.pools), draw.params["row"]
        options, letter = shuffled_choice(
            np.random.default_rng(draw.params["seed"]), _route_text(table.pair_text(table.mons[r]), table.pclass[r]),
            [_route_text(table.pair_text(table.mons[c]), cls) for c, cls in draw.params["distractors"]])
        polymer = ctx.pools.display_name(draw.polymer_ids[0])
        question = (f"Which route makes the polymer {polymer}, by SMiPoly's reaction rules? "
                    f"Exactly one option gives this repeat unit.")
        return make_task(self, ctx, difficulty=2, question=question, gold=Answer(type="choice", choice=letter),
                         options=options, polymer_ids=draw.polymer_ids, source_ids=[SMIPOLY_SOURCE],
                         params=TaskParams(polymers=polymer_refs(ctx.pools, draw.polymer_ids, ["polymer"]),
                                           asked="route"))

    def check(self, ctx, task):
        table, pid = link_table(ctx.pools), labelled_ids(task)["polymer"]
        right = {_route_text(text, table.class_of[pid]) for text in table.pair_texts_of(pid)}
        return one_correct(task, lambda text: text in right)


@register
class RouteFeasibility(_Route):
    """Can monomers A (+ B) by class X give polymer P? Yes for a SMiPoly link; no for a wrong pair or class."""

    name = "route_feasibility"

    def sample(self, ctx, rng):
        r = self._row(ctx, rng)
        if isinstance(r, Rejected):
            return r
        table = link_table(ctx.pools)
        pid, pclass = int(table.pid[r]), table.pclass[r]
        case = ("yes", "pair", "class")[int(rng.choice(3, p=[0.5, 0.25, 0.25]))]
        shown, cls = r, pclass
        if case == "pair":
            own = table.pairs_of[pid]
            others = table.others(r, rng, 1, lambda c: None if table.pair[c] in own else table.pair[c])
            if not others:
                return Rejected("no other monomer pair")
            shown = others[0]
        elif case == "class":
            wrong = [c for c in POLYMER_CLASSES if c not in table.achievable(pid)]  # cannot combine these monomers
            cls = wrong[rng.integers(len(wrong))]
        return Draw([pid], {"shown": shown, "class": cls})

    def compose(self, ctx, draw):
        table, pid = link_table(ctx.pools), draw.polymer_ids[0]
        mons, cls, polymer = table.mons[draw.params["shown"]], draw.params["class"], ctx.pools.display_name(pid)
        pair_ok, class_ok = frozenset(mons) in table.pairs_of[pid], cls == table.class_of[pid]
        route = f"{table.pair_text(mons)} by {cls} polymerization"
        subs = [
            SubQuestion(id="monomers", skill="select-monomers", gold=Answer(type="yes_no", yes=pair_ok),
                        question=f"Are these monomers ({table.pair_text(mons)}) a monomer set that builds the repeat "
                                 f"unit of {polymer}?"),
            SubQuestion(id="class", skill="classify-polymer", gold=Answer(type="yes_no", yes=class_ok),
                        question=f"Is {polymer} a product of {cls} polymerization (judge by its backbone linkage)?"),
            SubQuestion(id="feasible", skill="judge-feasibility", gold=Answer(type="yes_no", yes=pair_ok and class_ok),
                        question="Is the route feasible, i.e. are both answers yes?", depends_on=["monomers", "class"]),
        ]
        question = (f"Can the route {route} give the polymer {polymer}, by SMiPoly's reaction rules? "
                    f"Answer yes or no.")
        return make_task(self, ctx, difficulty=3, question=question, sub_questions=subs,
                         gold=Answer(type="yes_no", yes=pair_ok and class_ok), polymer_ids=[pid],
                         source_ids=[SMIPOLY_SOURCE], composition="feasible when the monomers and the class both fit",
                         params=TaskParams(polymers=polymer_refs(ctx.pools, [pid], ["polymer"]), monomers=list(mons),
                                           polymer_class=cls, asked="route_feasible"))

    def check(self, ctx, task):
        table, pid, p = link_table(ctx.pools), labelled_ids(task)["polymer"], task.params
        feasible = frozenset(p.monomers) in table.pairs_of[pid] and p.polymer_class == table.class_of[pid]
        return None if feasible == task.gold.yes else f"route feasibility is {feasible}, gold says {task.gold.yes}"

    def compose_from_subs(self, task):
        pair_ok, class_ok = (s.gold.yes for s in task.sub_questions[:2])
        return Answer(type="yes_no", yes=bool(pair_ok and class_ok))
