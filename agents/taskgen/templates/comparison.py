"""Category 4, property comparison and ranking: the higher / lower of two polymers, or an order of 3-5.

Values are KB medians of one property and kind in the task's split. Every compared pair is `separated`
(medians clearly different and measured ranges disjoint), so an order is never measurement noise.
"""

from __future__ import annotations

import numpy as np

from agents.schema import Answer, QuotedValue, SubQuestion, Task, TaskParams
from agents.taskgen.base import (
    LETTERS,
    Draw,
    Rejected,
    TemplateContext,
    TemplateDefaults,
    ids_in_question_order,
    lettered,
    make_task,
    polymer_refs,
)
from agents.taskgen.lookup import Measured, measured, pick_separated, separated
from agents.taskgen.registry import register
from agents.taskgen.tolerances import value_answer
from agents.taskgen.wording import ALT_UNITS, in_unit, property_phrase, value_text
from kb.properties import get_property
from kb.units import convert

CONVERSION_TOLERANCE = 0.01  # relative, for convert-unit sub-answers


def _medians(look: Measured, ids: list[int], prop: str, kind: str) -> list[tuple[float, float, float]]:
    return [look.row((pid, prop, kind)) for pid in ids]


def _all_separated(prop: str, rows: list[tuple[float, float, float]]) -> bool:
    return all(separated(prop, rows[i], rows[j]) for i in range(len(rows)) for j in range(i + 1, len(rows)))


def _winner(values: list[float], direction: str) -> str:
    """Letter of the higher (or lower) of two values."""
    return "A" if (values[0] > values[1]) == (direction == "higher") else "B"


def _ranking(values: list[float], order: str) -> Answer:
    """The ranking of labels A, B, ... by their values, in the asked order (ascending: lowest first)."""
    ranked = sorted(range(len(values)), key=lambda i: values[i], reverse=order == "descending")
    return Answer(type="ranking", ranking=[LETTERS[i] for i in ranked], order=order)


def _params(ctx: TemplateContext, ids: list[int], prop: str, kind: str, **more) -> TaskParams:
    """Params of a comparison: polymers labelled A, B, ... in question order, the property and kind."""
    return TaskParams(polymers=polymer_refs(ctx.pools, ids, list(LETTERS[: len(ids)])), property=prop, kind=kind,
                      unit=get_property(prop).unit, **more)


def _sample_pair(ctx: TemplateContext, rng: np.random.Generator, quoted: bool = False) -> Draw | Rejected:
    look = measured(ctx.pools, quoted)
    only = frozenset(k for k in look.by_pk if k[0] in ALT_UNITS) if quoted else None
    group = look.pick_group(rng, 2, only=only)
    if group is None:
        return Rejected("no property with 2 values in the split")
    picked = pick_separated(group, rng, 2, tries=30)
    if picked is None:
        return Rejected("no clearly separated pair")
    direction = "higher" if rng.random() < 0.5 else "lower"
    return Draw([group.row(i)[0] for i in picked], {"prop": group.prop, "kind": group.kind, "direction": direction})


def _lookup_subs(ctx: TemplateContext, ids: list[int], prop: str, kind: str) -> list[SubQuestion]:
    look, phrase = measured(ctx.pools), property_phrase(prop, kind)
    return [SubQuestion(id=f"value_{LETTERS[i]}", skill="look-up-property",
                        question=f"What is the {phrase} of polymer {LETTERS[i]}{in_unit(get_property(prop).unit)}?",
                        gold=value_answer(prop, look.value[(pid, prop, kind)])) for i, pid in enumerate(ids)]


class _Base(TemplateDefaults):
    category = "property_comparison"
    quoted = False  # whether the polymers come from those whose values a question may print

    def check(self, ctx: TemplateContext, task: Task) -> str | None:
        """The gold must follow from the KB medians of the task's polymers, every pair separated."""
        p = task.params
        rows = _medians(measured(ctx.pools, self.quoted), ids_in_question_order(task), p.property, p.kind)
        if not _all_separated(p.property, rows):
            return "compared values are not clearly separated"
        values = [r[0] for r in rows]
        if task.answer_type == "ranking":
            expected = _ranking(values, p.order)
            return None if task.gold == expected else "ranking differs from the KB values"
        if task.gold.choice != _winner(values, p.direction):
            return "chosen polymer differs from the KB values"
        return None


@register
class PairHigher(_Base):
    """Which of two polymers has the higher (or lower) value of a property of one kind?"""

    name = "pair_higher"
    difficulty = 2

    def sample(self, ctx, rng):
        return _sample_pair(ctx, rng)

    def subs(self, ctx: TemplateContext, draw: Draw, letter: str) -> list[SubQuestion]:
        return []

    def question(self, ctx: TemplateContext, draw: Draw) -> str:
        phrase = property_phrase(draw.params["prop"], draw.params["kind"])
        a, b = (ctx.pools.display_name(p) for p in draw.polymer_ids)
        return f"Which polymer has the {draw.params['direction']} {phrase}: A) {a} or B) {b}?"

    def compose(self, ctx, draw):
        ids, prop, kind, direction = draw.polymer_ids, draw.params["prop"], draw.params["kind"], draw.params["direction"]
        look = measured(ctx.pools, self.quoted)
        letter = _winner([r[0] for r in _medians(look, ids, prop, kind)], direction)
        question = self.question(ctx, draw)
        subs = self.subs(ctx, draw, letter)
        return make_task(self, ctx, difficulty=self.difficulty, question=question,
                         gold=Answer(type="choice", choice=letter),
                         options=lettered([ctx.pools.display_name(p) for p in ids]), sub_questions=subs,
                         composition=f"the polymer with the {direction} value from the steps" if subs else None,
                         polymer_ids=ids, source_ids=look.sources_of([(p, prop, kind) for p in ids]),
                         params=self.params(ctx, draw))

    def params(self, ctx: TemplateContext, draw: Draw) -> TaskParams:
        return _params(ctx, draw.polymer_ids, draw.params["prop"], draw.params["kind"],
                       direction=draw.params["direction"])


@register
class PairHigherStepwise(PairHigher):
    """The pair question in steps: look up both values, then compare them."""

    name = "pair_higher_stepwise"
    difficulty = 3

    def question(self, ctx, draw):
        return super().question(ctx, draw) + " Look up both values first, then compare them."

    def subs(self, ctx, draw, letter):
        direction = draw.params["direction"]
        return [*_lookup_subs(ctx, draw.polymer_ids, draw.params["prop"], draw.params["kind"]),
                SubQuestion(id="compare", question=f"Which polymer has the {direction} value?",
                            skill="compare", gold=Answer(type="choice", choice=letter),
                            depends_on=["value_A", "value_B"])]

    def compose_from_subs(self, task):
        values = [s.gold.number for s in task.sub_questions[:2]]
        return Answer(type="choice", choice=_winner(values, task.params.direction))


@register
class PairHigherUnits(PairHigherStepwise):
    """Two given values in different units (often in the misleading order): which is higher / lower?"""

    name = "pair_higher_units"
    quoted = True  # it prints both values: they come from polymers no other task asks about

    def sample(self, ctx, rng):
        draw = _sample_pair(ctx, rng, quoted=True)
        if isinstance(draw, Rejected):
            return draw
        unit = get_property(draw.params["prop"]).unit
        a, b = (r[0] for r in _medians(measured(ctx.pools, True), draw.polymer_ids, draw.params["prop"],
                                       draw.params["kind"]))
        choices = [unit, *ALT_UNITS[draw.params["prop"]]]
        pairs = [(ua, ub) for ua in choices for ub in choices if ua != ub]
        misleading = [(ua, ub) for ua, ub in pairs if (convert(a, unit, ua) > convert(b, unit, ub)) != (a > b)]
        pool = misleading if misleading and rng.random() < 0.75 else pairs
        draw.params["units"] = list(pool[int(rng.integers(len(pool)))])
        return draw

    def shown(self, ctx: TemplateContext, draw: Draw) -> list[tuple[float, str]]:
        """The two values as the question shows them: 4 significant digits in their units."""
        prop, kind = draw.params["prop"], draw.params["kind"]
        unit = get_property(prop).unit
        rows = _medians(measured(ctx.pools, True), draw.polymer_ids, prop, kind)
        return [(float(f"{convert(r[0], unit, u):.4g}"), u) for r, u in zip(rows, draw.params["units"])]

    def question(self, ctx, draw):
        listed = "; ".join(f"polymer {LETTERS[i]}, {ctx.pools.display_name(p)}: {value_text(v, u)}"
                           for i, (p, (v, u)) in enumerate(zip(draw.polymer_ids, self.shown(ctx, draw))))
        return (f"Two polymers and their {property_phrase(draw.params['prop'], draw.params['kind'])}: {listed}. "
                f"Which polymer has the {draw.params['direction']} value?")

    def subs(self, ctx, draw, letter):
        unit = get_property(draw.params["prop"]).unit
        converted = [float(f"{convert(v, u, unit):.6g}") for v, u in self.shown(ctx, draw)]
        direction = draw.params["direction"]
        return [*[SubQuestion(id=f"value_{LETTERS[i]}", skill="convert-unit",
                              question=f"Convert the value of polymer {LETTERS[i]} to {unit}.",
                              gold=Answer(type="number", number=c, unit=unit,
                                          tolerance=CONVERSION_TOLERANCE * abs(c)))
                  for i, c in enumerate(converted)],
                SubQuestion(id="compare", question=f"Which polymer has the {direction} value?",
                            skill="compare", gold=Answer(type="choice", choice=letter),
                            depends_on=["value_A", "value_B"])]

    def params(self, ctx, draw):
        shown = [QuotedValue(label=LETTERS[i], value=v, unit=u) for i, (v, u) in enumerate(self.shown(ctx, draw))]
        return _params(ctx, draw.polymer_ids, draw.params["prop"], draw.params["kind"],
                       direction=draw.params["direction"], quoted_values=shown)


@register
class RankByProperty(_Base):
    """Rank 3-5 polymers by a property of one kind (highest or lowest first); scored by accuracy and tau."""

    name = "rank_by_property"

    def sample(self, ctx, rng):
        k = int(rng.choice([3, 4, 5], p=[0.4, 0.3, 0.3]))
        group = measured(ctx.pools).pick_group(rng, 2 * k)
        if group is None:
            return Rejected(f"no property with {2 * k} values in the split")
        picked = pick_separated(group, rng, k, tries=80)
        if picked is None:
            return Rejected(f"no {k} clearly separated values")
        order = "descending" if rng.random() < 0.5 else "ascending"
        return Draw([group.row(i)[0] for i in picked], {"prop": group.prop, "kind": group.kind, "order": order})

    def compose(self, ctx, draw):
        ids, prop, kind, order = draw.polymer_ids, draw.params["prop"], draw.params["kind"], draw.params["order"]
        look = measured(ctx.pools)
        gold = _ranking([r[0] for r in _medians(look, ids, prop, kind)], order)
        words = "highest to lowest" if order == "descending" else "lowest to highest"
        joiner, first = (">", "highest") if order == "descending" else ("<", "lowest")
        listed = "\n".join(f"{LETTERS[i]}) {ctx.pools.display_name(p)}" for i, p in enumerate(ids))
        question = (f"Rank these polymers by their {property_phrase(prop, kind)}, from {words}. Answer with "
                    f"their letters joined by '{joiner}', the {first} first (e.g. A {joiner} B {joiner} C)."
                    f"\n{listed}")
        subs = [*_lookup_subs(ctx, ids, prop, kind),
                SubQuestion(id="rank", skill="compare", gold=gold,
                            question=f"Order the polymers by those values, from {words} (joined by '{joiner}').",
                            depends_on=[f"value_{LETTERS[i]}" for i in range(len(ids))])]
        return make_task(self, ctx, difficulty=3 if len(ids) == 3 else 4, question=question, gold=gold,
                         sub_questions=subs, composition=f"sort the looked-up values from {words}",
                         polymer_ids=ids, source_ids=look.sources_of([(p, prop, kind) for p in ids]),
                         params=_params(ctx, ids, prop, kind, order=order))

    def compose_from_subs(self, task):
        return _ranking([s.gold.number for s in task.sub_questions[:-1]], task.params.order)
