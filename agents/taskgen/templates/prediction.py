"""Category 3, property prediction: the measured value of a polymer of the split (numeric or 4-way choice).

The task's split is the held-out set: a solver evaluated on dev / test cannot see these values and has to
estimate them from structure. Golds are KB medians per polymer, property and kind (agents.taskgen.lookup).
A property is asked as a number only where a constant guess would rarely pass (tolerances.numeric_groups);
the 4-way choice asks every property whose values separate clearly.
"""

from __future__ import annotations

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
from agents.taskgen.lookup import GROUP_INDEX, Measured, measured, pick_separated
from agents.taskgen.registry import register
from agents.taskgen.tolerances import (
    MAX_CONSTANT_PASS,
    MIN_NUMERIC_POLYMERS,
    constant_pass_rate,
    value_answer,
)
from agents.taskgen.wording import property_phrase, unit_text, value_text
from kb.features import FUNCTIONAL_GROUPS
from kb.properties import get_property


def numeric_groups(look: Measured) -> frozenset[tuple[str, str]]:
    """(property, kind)s asked as numbers: enough polymers, and a constant guess passes few of them."""
    return frozenset((g.prop, g.kind) for g in look.value_groups
                     if len(g.ids) >= MIN_NUMERIC_POLYMERS and constant_pass_rate(g.prop, g.values) <= MAX_CONSTANT_PASS)


def one_polymer_params(ctx: TemplateContext, pid: int, prop: str, kind: str, asked: str) -> TaskParams:
    """Params of a question about one property (one kind) of one polymer (labelled 'polymer')."""
    return TaskParams(polymers=polymer_refs(ctx.pools, [pid], ["polymer"]), property=prop, kind=kind,
                      unit=get_property(prop).unit, asked=asked)


def _numeric(ctx: TemplateContext) -> frozenset[tuple[str, str]]:
    if "numeric_groups" not in ctx.pools.cache:
        ctx.pools.cache["numeric_groups"] = numeric_groups(measured(ctx.pools))
    return ctx.pools.cache["numeric_groups"]


def _draw_one(ctx: TemplateContext, rng: np.random.Generator) -> Draw | Rejected:
    group = measured(ctx.pools).pick_group(rng, MIN_NUMERIC_POLYMERS, only=_numeric(ctx))
    if group is None:
        return Rejected("no property asked as a number in the split")
    pid, _ = group.row(int(rng.integers(len(group.ids))))
    return Draw([pid], {"prop": group.prop, "kind": group.kind})


class _Base(TemplateDefaults):
    category = "property_prediction"


@register
class PropertyValue(_Base):
    """The value of one property (one kind) of a polymer of the split, within the property's tolerance."""

    name = "property_value"

    def sample(self, ctx, rng):
        return _draw_one(ctx, rng)

    def compose(self, ctx, draw):
        pid, prop, kind = draw.polymer_ids[0], draw.params["prop"], draw.params["kind"]
        look = measured(ctx.pools)
        question = (f"What is the {property_phrase(prop, kind)} of {ctx.pools.display_name(pid)}? "
                    f"Give the value in {unit_text(get_property(prop).unit)}.")
        return make_task(self, ctx, difficulty=2, question=question,
                         gold=value_answer(prop, look.value[(pid, prop, kind)]), polymer_ids=[pid],
                         source_ids=look.sources_of([(pid, prop, kind)]),
                         params=one_polymer_params(ctx, pid, prop, kind, "value"))


@register
class PropertyValueChoice(_Base):
    """Pick the polymer's value among 4: the distractors are values of other polymers of the split."""

    name = "property_value_choice"

    def sample(self, ctx, rng):
        group = measured(ctx.pools).pick_group(rng, 4)
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
        look = measured(ctx.pools)
        unit = get_property(prop).unit
        options, letter = shuffled_choice(np.random.default_rng(draw.params["seed"]),
                                          value_text(look.value[(pid, prop, kind)], unit),
                                          [value_text(v, unit) for v in draw.params["distractors"]])
        question = (f"Which value is the {property_phrase(prop, kind)} of {ctx.pools.display_name(pid)}? "
                    f"Exactly one option is right.")
        return make_task(self, ctx, difficulty=2, question=question, gold=Answer(type="choice", choice=letter),
                         options=options, polymer_ids=[pid], source_ids=look.sources_of([(pid, prop, kind)]),
                         params=one_polymer_params(ctx, pid, prop, kind, "value"))

    def check(self, ctx, task):
        prop, kind, pid = task.params.property, task.params.kind, ids_in_question_order(task)[0]
        gold = value_answer(prop, measured(ctx.pools).value[(pid, prop, kind)])
        right = [LETTERS[i] for i, o in enumerate(task.options or [])
                 if numbers_match(gold, float(o.split(") ", 1)[1].split(" ")[0]))]
        if right != [task.gold.choice]:
            return f"options matching the measured value: {right}"
        return None


def _structure(ctx: TemplateContext, pid: int) -> tuple[list[str], int]:
    """Functional groups present and aromatic rings of a polymer (for the stepwise sub-questions)."""
    counts = measured(ctx.pools).groups[pid]
    return sorted(g for g in FUNCTIONAL_GROUPS if counts[GROUP_INDEX[g]] > 0), int(counts[GROUP_INDEX["aromatic_ring"]])


@register
class PropertyValueStepwise(_Base):
    """Estimate a property from structure: identify the groups, count aromatic rings, then give the value."""

    name = "property_value_stepwise"

    def sample(self, ctx, rng):
        draw = _draw_one(ctx, rng)
        if isinstance(draw, Rejected):
            return draw
        if not _structure(ctx, draw.polymer_ids[0])[0]:
            return Rejected("no functional group to identify")
        return draw

    def compose(self, ctx, draw):
        pid, prop, kind = draw.polymer_ids[0], draw.params["prop"], draw.params["kind"]
        look = measured(ctx.pools)
        groups, rings = _structure(ctx, pid)
        phrase, unit = property_phrase(prop, kind), unit_text(get_property(prop).unit)
        gold = value_answer(prop, look.value[(pid, prop, kind)])
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
                         source_ids=look.sources_of([(pid, prop, kind)]),
                         params=one_polymer_params(ctx, pid, prop, kind, "value"))

    def compose_from_subs(self, task):
        return task.sub_questions[-1].gold


