"""Category 3, property prediction: the measured value of a polymer of the split (numeric or 4-way choice).

The task's split is the held-out set: a solver evaluated on dev / test cannot see these values and has to
estimate them from structure. Golds are KB medians per polymer, property and kind (pools.values). The value
index and property phrases at the top are shared with comparison.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from agents.answers import numbers_match
from agents.schema import Answer, SubQuestion, TaskParams
from agents.taskgen.base import (
    LETTERS,
    Draw,
    Rejected,
    TemplateContext,
    TemplateDefaults,
    ids_in_question_order,
    make_task,
    polymer_refs,
    shuffled_choice,
)
from agents.taskgen.pools import Pools
from agents.taskgen.registry import register
from agents.taskgen.tolerances import clearly_different, tolerance_for
from kb.features import FUNCTIONAL_GROUPS, GROUP_COLUMNS
from kb.properties import get_property

# Values that depend on a condition the summary does not keep (solvent, dopant, humidity, shear, chain length).
EXCLUDED_PROPERTIES = frozenset({"chi", "solvent_diffusivity", "solvent_uptake", "melt_viscosity",
                                 "electrical_conductivity", "rop_enthalpy", "perm_h2o", "diff_h2o", "sol_h2o"})
KIND_WORDS = {"experimental": "experimental", "md_simulated": "MD-simulated", "dft": "DFT-computed"}
_PHRASE = re.compile(r"(experimental|MD-simulated|DFT-computed) [^\[\]]*\[(\w+)\]")

Row = tuple[float, float, float, str]  # median, min, max, sources


@dataclass(frozen=True)
class ValueGroup:
    """The medians of one property and kind in a split, with their measured ranges and sources."""

    prop: str
    kind: str
    ids: np.ndarray
    values: np.ndarray
    lows: np.ndarray
    highs: np.ndarray

    def row(self, i: int) -> tuple[int, float]:
        return int(self.ids[i]), float(self.values[i])


@dataclass
class ValueIndex:
    """Per-split lookups built once: value groups by (property, kind) and one row per (polymer, prop, kind)."""

    groups: list[ValueGroup]
    rows: dict[tuple[int, str, str], Row]
    structure: dict[int, tuple[list[str], int]]  # functional groups present, aromatic rings
    _weights: dict[tuple[int, tuple[str, ...] | None], tuple[list[ValueGroup], np.ndarray]] = field(
        default_factory=dict)

    def pick_group(self, rng: np.random.Generator, min_size: int,
                   units: tuple[str, ...] | None = None) -> ValueGroup | None:
        """A group with >= min_size polymers (canonical unit in `units` when given), weighted by sqrt(size)."""
        key = (min_size, units)
        if key not in self._weights:
            fit = [g for g in self.groups
                   if len(g.ids) >= min_size and (units is None or get_property(g.prop).unit in units)]
            weights = np.sqrt([len(g.ids) for g in fit]) if fit else np.zeros(0)
            self._weights[key] = (fit, weights / weights.sum() if fit else weights)
        fit, p = self._weights[key]
        return fit[int(rng.choice(len(fit), p=p))] if fit else None


def value_index(pools: Pools) -> ValueIndex:
    """The value index of one split's pools (built on first use, kept in the pools' own cache)."""
    if "value_index" not in pools.cache:
        pools.cache["value_index"] = _build_value_index(pools)
    return pools.cache["value_index"]


def _build_value_index(pools: Pools) -> ValueIndex:
    v = pools.values
    keep = (~v["property"].isin(EXCLUDED_PROPERTIES) & v["kind"].isin(list(KIND_WORDS))
            & v["polymer_id"].isin(pools.polymers.index) & np.isfinite(v["value"].to_numpy(dtype=float)))
    log_props = [p for p in v["property"].unique() if get_property(p).log_scale]
    keep &= ~(v["property"].isin(log_props) & (v["min_value"] <= 0))
    v = v[keep].sort_values(["property", "kind", "polymer_id"])
    groups = [ValueGroup(prop, kind, g["polymer_id"].to_numpy(dtype=np.int64), g["value"].to_numpy(dtype=float),
                         g["min_value"].to_numpy(dtype=float), g["max_value"].to_numpy(dtype=float))
              for (prop, kind), g in v.groupby(["property", "kind"], sort=True)]
    rows = {(int(pid), prop, kind): (float(val), float(lo), float(hi), str(src))
            for pid, prop, kind, val, lo, hi, src in zip(v["polymer_id"], v["property"], v["kind"], v["value"],
                                                         v["min_value"], v["max_value"], v["sources"])}
    ids = v["polymer_id"].unique()
    table = pools.polymers.loc[ids, [GROUP_COLUMNS[g] for g in FUNCTIONAL_GROUPS]].to_numpy() > 0
    rings = pools.polymers.loc[ids, "aromatic_rings"].to_numpy()
    names = list(FUNCTIONAL_GROUPS)
    structure = {int(pid): (sorted(names[j] for j in np.flatnonzero(present)), int(n))
                 for pid, present, n in zip(ids, table, rings)}
    return ValueIndex(groups, rows, structure)


def separated(prop: str, a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    """Medians clearly different and measured ranges disjoint, so the order holds for every measurement."""
    (va, lo_a, hi_a), (vb, lo_b, hi_b) = a, b
    return clearly_different(prop, va, vb) and (hi_a < lo_b if va < vb else hi_b < lo_a)


def pick_separated(group: ValueGroup, rng: np.random.Generator, k: int, first: int | None = None,
                   tries: int = 60) -> list[int] | None:
    """k indices of the group whose values are pairwise `separated` (starting with `first`), or None."""
    chosen = [] if first is None else [first]
    n = len(group.ids)
    for _ in range(tries):
        if len(chosen) == k:
            break
        i = int(rng.integers(n))
        row = (group.values[i], group.lows[i], group.highs[i])
        if all(separated(group.prop, row, (group.values[j], group.lows[j], group.highs[j])) for j in chosen):
            chosen.append(i)
    return chosen if len(chosen) == k else None


def property_phrase(prop: str, kind: str) -> str:
    """'experimental glass transition temperature [tg]': kind, meaning and registry name of a property."""
    description = get_property(prop).description.removesuffix(" (DFT)")
    return f"{KIND_WORDS[kind]} {description} [{prop}]"


def parse_phrase(text: str) -> tuple[str, str] | None:
    """(property, kind) named by a property_phrase inside a question, or None."""
    match = _PHRASE.search(text)
    if match is None:
        return None
    kind = next(k for k, word in KIND_WORDS.items() if word == match.group(1))
    return match.group(2), kind


def unit_text(prop: str) -> str:
    """How a question names a property's canonical unit."""
    unit = get_property(prop).unit
    return "dimensionless units" if unit == "-" else unit


def value_text(value: float, unit: str) -> str:
    """A value as options and questions show it (4 significant digits)."""
    return f"{value:.4g}" if unit == "-" else f"{value:.4g} {unit}"


def value_answer(prop: str, value: float) -> Answer:
    """A numeric gold in the canonical unit with the property's tolerance."""
    value = float(f"{value:.6g}")  # drop float noise of unit conversions (far below any tolerance)
    return Answer(type="number", number=value, unit=get_property(prop).unit, **tolerance_for(prop, value))


def sources_of(index: ValueIndex, keys: list[tuple[int, str, str]]) -> list[str]:
    """Source ids behind these (polymer, property, kind) rows."""
    return sorted({s for key in keys for s in index.rows[key][3].split("; ") if s})


def one_polymer_params(ctx: TemplateContext, pid: int, prop: str, kind: str, asked: str) -> TaskParams:
    """Params of a question about one property (one kind) of one polymer (labelled 'polymer')."""
    return TaskParams(polymers=polymer_refs(ctx.pools, [pid], ["polymer"]), property=prop, kind=kind,
                      unit=get_property(prop).unit, asked=asked)


def _draw_one(ctx: TemplateContext, rng: np.random.Generator, min_size: int) -> Draw | Rejected:
    group = value_index(ctx.pools).pick_group(rng, min_size)
    if group is None:
        return Rejected("no property with enough values in the split")
    pid, _ = group.row(int(rng.integers(len(group.ids))))
    return Draw([pid], {"prop": group.prop, "kind": group.kind})


class _Base(TemplateDefaults):
    category = "property_prediction"


@register
class PropertyValue(_Base):
    """The value of one property (one kind) of a polymer of the split, within the property's tolerance."""

    name = "property_value"

    def sample(self, ctx, rng):
        return _draw_one(ctx, rng, 1)

    def compose(self, ctx, draw):
        pid, prop, kind = draw.polymer_ids[0], draw.params["prop"], draw.params["kind"]
        index = value_index(ctx.pools)
        question = (f"What is the {property_phrase(prop, kind)} of {ctx.pools.display_name(pid)}? "
                    f"Give the value in {unit_text(prop)}.")
        return make_task(self, ctx, difficulty=2, question=question,
                         gold=value_answer(prop, index.rows[(pid, prop, kind)][0]), polymer_ids=[pid],
                         source_ids=sources_of(index, [(pid, prop, kind)]),
                         params=one_polymer_params(ctx, pid, prop, kind, "value"))


@register
class PropertyValueChoice(_Base):
    """Pick the polymer's value among 4: the distractors are values of other polymers of the split."""

    name = "property_value_choice"

    def sample(self, ctx, rng):
        group = value_index(ctx.pools).pick_group(rng, 4)
        if group is None:
            return Rejected("no property with 4 values in the split")
        i = int(rng.integers(len(group.ids)))
        picked = pick_separated(group, rng, 4, first=i)
        if picked is None:
            return Rejected("no 3 clearly different distractor values")
        return Draw([group.row(i)[0]], {"prop": group.prop, "kind": group.kind, "seed": int(rng.integers(1 << 30)),
                                        "distractors": [group.row(j)[1] for j in picked[1:]]})

    def compose(self, ctx, draw):
        pid, prop, kind = draw.polymer_ids[0], draw.params["prop"], draw.params["kind"]
        index = value_index(ctx.pools)
        unit = get_property(prop).unit
        options, letter = shuffled_choice(np.random.default_rng(draw.params["seed"]),
                                          value_text(index.rows[(pid, prop, kind)][0], unit),
                                          [value_text(v, unit) for v in draw.params["distractors"]])
        question = (f"Which value is the {property_phrase(prop, kind)} of {ctx.pools.display_name(pid)}? "
                    f"Exactly one option is right.")
        return make_task(self, ctx, difficulty=2, question=question, gold=Answer(type="choice", choice=letter),
                         options=options, polymer_ids=[pid], source_ids=sources_of(index, [(pid, prop, kind)]),
                         params=one_polymer_params(ctx, pid, prop, kind, "value"))

    def check(self, ctx, task):
        prop, kind, pid = task.params.property, task.params.kind, ids_in_question_order(task)[0]
        gold = value_answer(prop, value_index(ctx.pools).rows[(pid, prop, kind)][0])
        right = [LETTERS[i] for i, o in enumerate(task.options or [])
                 if numbers_match(gold, float(o.split(") ", 1)[1].split(" ")[0]))]
        if right != [task.gold.choice]:
            return f"options matching the measured value: {right}"
        return None


@register
class PropertyValueStepwise(_Base):
    """Estimate a property from structure: identify the groups, count aromatic rings, then give the value."""

    name = "property_value_stepwise"

    def sample(self, ctx, rng):
        draw = _draw_one(ctx, rng, 1)
        if isinstance(draw, Rejected):
            return draw
        if not value_index(ctx.pools).structure[draw.polymer_ids[0]][0]:
            return Rejected("no functional group to identify")
        return draw

    def compose(self, ctx, draw):
        pid, prop, kind = draw.polymer_ids[0], draw.params["prop"], draw.params["kind"]
        index = value_index(ctx.pools)
        groups, rings = index.structure[pid]
        phrase, unit = property_phrase(prop, kind), unit_text(prop)
        gold = value_answer(prop, index.rows[(pid, prop, kind)][0])
        subs = [
            SubQuestion(id="groups", question="Which linkages and functional groups does the repeat unit contain?",
                        skill="identify-linkage", gold=Answer(type="set", items=groups)),
            SubQuestion(id="rings", question="How many aromatic rings are in one repeat unit?",
                        skill="count-features",
                        gold=Answer(type="number", number=float(rings), tolerance=0.0)),
            SubQuestion(id="estimate", question=f"From the structure, estimate the {phrase} in {unit}.",
                        skill="estimate-property", gold=gold, depends_on=["groups", "rings"]),
        ]
        question = (f"Estimate the {phrase} of {ctx.pools.display_name(pid)} in {unit}. Work from its "
                    f"structure: identify its linkages and functional groups, count its aromatic rings, then "
                    f"estimate the value.")
        return make_task(self, ctx, difficulty=3, question=question, gold=gold, sub_questions=subs,
                         composition="the answer is the estimate of the last step", polymer_ids=[pid],
                         source_ids=sources_of(index, [(pid, prop, kind)]),
                         params=one_polymer_params(ctx, pid, prop, kind, "value"))

    def compose_from_subs(self, task):
        return task.sub_questions[-1].gold
