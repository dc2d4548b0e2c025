"""Which of 4-5 polymers meet all of 2-3 constraints (property ranges with kind, required / forbidden groups)."""

from __future__ import annotations

import numpy as np

from agents.schema import Answer, Constraint, SubQuestion, Task, TaskParams
from agents.taskgen.base import Draw, Rejected, TemplateContext, labelled_ids, make_task, polymer_refs
from agents.taskgen.lookup import GROUP_INDEX, Measured, measured, spread_in_tolerances
from agents.taskgen.pools import Pools
from agents.taskgen.registry import register
from agents.taskgen.templates.reasoning.common import (
    ReasoningTemplate,
    cached_lookup,
    clear_of,
    threshold_cuts,
)
from agents.taskgen.tolerances import LOG_TOLERANCE, tolerance_for
from agents.taskgen.wording import constraint_text, group_words, in_unit, property_phrase
from kb.features import GROUP_COLUMNS
from kb.properties import get_property

FILTER_MIN_POLYMERS = 6    # a (property, kind) needs this many polymers to seed a filter task
FILTER_MIN_SPREAD = 4.0    # ... and its 10-90 % range must span this many tolerances


def _meets(c: Constraint, pools: Pools, look: Measured, pid: int) -> bool:
    """Whether a polymer meets one filter constraint (values in the constraint's, i.e. canonical, unit)."""
    if c.type == "property_range":
        v = look.value[(pid, c.property, c.kind)]
        return (c.min is None or v >= c.min) and (c.max is None or v <= c.max)
    present = bool(look.groups[pid][GROUP_INDEX[c.group]] > 0)
    return present if c.type == "require_group" else not present


# --- 1. multi-constraint filtering ----------------------------------------------------------------------

def _range_constraint(prop: str, kind: str, values: list[float], rng: np.random.Generator) -> Constraint | None:
    cuts = threshold_cuts(prop, values)
    if not cuts:
        return None
    unit = get_property(prop).unit
    if len(cuts) >= 2 and rng.random() < 1 / 3:
        lo, hi = sorted(rng.choice(len(cuts), size=2, replace=False))
        return Constraint(type="property_range", property=prop, kind=kind, unit=unit, min=cuts[lo], max=cuts[hi])
    cut = cuts[int(rng.integers(len(cuts)))]
    side = "min" if rng.random() < 0.5 else "max"
    return Constraint(type="property_range", property=prop, kind=kind, unit=unit, **{side: cut})


def _group_constraint(look: Measured, ids: list[int], rng: np.random.Generator,
                      exclude: str | None = None) -> Constraint | None:
    share = np.sum([look.groups[i] > 0 for i in ids], axis=0)
    mixed = [g for g, n in zip(GROUP_COLUMNS, share) if 0 < n < len(ids) and g != exclude]
    if not mixed:
        return None
    group = mixed[int(rng.integers(len(mixed)))]
    return Constraint(type="require_group" if rng.random() < 0.5 else "forbid_group", group=group)


def _build_filter_seeds(pools: Pools) -> list[tuple[str, str]]:
    """(property, kind)s with enough polymers whose values spread over several tolerances (so they split)."""
    look, seeds = measured(pools), []
    for (prop, kind), ids in sorted(look.by_pk.items()):
        if len(ids) < FILTER_MIN_POLYMERS:
            continue
        values = np.array([look.value[(int(i), prop, kind)] for i in ids])
        log = get_property(prop).log_scale
        tol = LOG_TOLERANCE if log else tolerance_for(prop, float(np.median(values)))["tolerance"]
        if spread_in_tolerances(values, tol, log) >= FILTER_MIN_SPREAD:
            seeds.append((prop, kind))
    return seeds


@register
class ConstraintFilter(ReasoningTemplate):
    """Which of 4-5 polymers meet all of 2-3 constraints (property ranges with kind, required / forbidden groups)?"""

    name = "constraint_filter"

    def sample(self, ctx: TemplateContext, rng: np.random.Generator) -> Draw | Rejected:
        pools, look = ctx.pools, measured(ctx.pools)
        seeds = cached_lookup(pools, "filter_seeds", _build_filter_seeds)
        if not seeds:
            return Rejected("no property with enough spread-out values")
        prop, kind = seeds[int(rng.integers(len(seeds)))]
        ids = [int(i) for i in rng.choice(look.by_pk[(prop, kind)], size=int(rng.integers(4, 6)), replace=False)]
        shape = int(rng.integers(3))  # 0: range + group, 1: range + range, 2: range + range (or group) + group
        picked = [_range_constraint(prop, kind, [look.value[(i, prop, kind)] for i in ids], rng)]
        if shape >= 1:
            common = sorted(set.intersection(*(set(look.pks_of[i]) for i in ids)) & set(seeds) - {(prop, kind)})
            if common:
                p2, k2 = common[int(rng.integers(len(common)))]
                picked.append(_range_constraint(p2, k2, [look.value[(i, p2, k2)] for i in ids], rng))
        if shape != 1 or len(picked) == 1:
            picked.append(_group_constraint(look, ids, rng))
        if shape == 2 and len(picked) == 2:
            picked.append(_group_constraint(look, ids, rng, exclude=picked[1].group if picked[1] else None))
        if any(c is None for c in picked):
            return Rejected("no clear threshold or no group that splits the polymers")
        n_ok = sum(all(_meets(c, pools, look, i) for c in picked) for i in ids)
        if n_ok in (0, len(ids)):
            return Rejected("none or all polymers meet the constraints")
        return Draw(ids, {"constraints": picked})

    def compose(self, ctx: TemplateContext, draw: Draw) -> Task | Rejected:
        pools, look = ctx.pools, measured(ctx.pools)
        constraints: list[Constraint] = draw.params["constraints"]
        labels = [f"P{n + 1}" for n in range(len(draw.polymer_ids))]
        subs, gold, keys = [], [], []
        for label, pid in zip(labels, draw.polymer_ids):
            ok = True
            for j, c in enumerate(constraints, 1):
                base, meets = f"{label}.c{j}", _meets(c, pools, look, pid)
                ok &= meets
                if c.type == "property_range":
                    key = (pid, c.property, c.kind)
                    keys.append(key)
                    value = look.value[key]
                    subs.append(SubQuestion(
                        id=f"{base}.value", skill="look-up-property",
                        question=f"What is the {property_phrase(c.property, c.kind)} of {label}{in_unit(c.unit)}?",
                        gold=Answer(type="number", number=value, unit=c.unit, **tolerance_for(c.property, value))))
                else:
                    present = bool(look.groups[pid][GROUP_INDEX[c.group]] > 0)
                    subs.append(SubQuestion(
                        id=f"{base}.group", skill="identify-linkage",
                        question=f"Does the repeat unit of {label} contain at least one {group_words(c.group)}?",
                        gold=Answer(type="yes_no", yes=present)))
                subs.append(SubQuestion(id=f"{base}.check", skill="check-constraint",
                                        question=f"Does {label} meet constraint {j}?",
                                        gold=Answer(type="yes_no", yes=meets), depends_on=[subs[-1].id]))
            if ok:
                gold.append(label)
        listed = "\n".join(f"{j}. {constraint_text(c)}" for j, c in enumerate(constraints, 1))
        shown = "\n".join(f"{label}: {pools.display_name(pid)}" for label, pid in zip(labels, draw.polymer_ids))
        question = (f"Which of these polymers meet every constraint below? Property values are the knowledge "
                    f"base's medians of the stated kind of data.\nConstraints:\n{listed}\nPolymers:\n{shown}\n"
                    f"Answer with the labels of all polymers that meet every constraint.")
        return make_task(self, ctx, difficulty=1 + len(constraints), question=question,
                         gold=Answer(type="set", items=gold), sub_questions=subs, constraints=constraints,
                         composition="a polymer is in the answer when all of its constraint checks are yes",
                         polymer_ids=draw.polymer_ids, source_ids=look.sources_of(keys),
                         params=TaskParams(polymers=polymer_refs(pools, draw.polymer_ids, labels), asked="filter"))

    def compose_from_subs(self, task: Task) -> Answer:
        verdict: dict[str, bool] = {}
        for sub in task.sub_questions:
            label = sub.id.split(".")[0]
            verdict[label] = verdict.get(label, True) and (not sub.id.endswith(".check") or bool(sub.gold.yes))
        return Answer(type="set", items=[label for label, ok in verdict.items() if ok])

    def check(self, ctx: TemplateContext, task: Task) -> str | None:
        pools, look, ids = ctx.pools, measured(ctx.pools), labelled_ids(task)
        for c in task.constraints:
            if c.type != "property_range":
                continue
            for pid in ids.values():
                v = look.value[(pid, c.property, c.kind)]
                if not all(clear_of(c.property, v, b) for b in (c.min, c.max) if b is not None):
                    return "a value lies within one tolerance of a bound"
        labels = [label for label, pid in ids.items() if all(_meets(c, pools, look, pid) for c in task.constraints)]
        return None if set(labels) == set(task.gold.items or []) else "gold differs from the pools"
