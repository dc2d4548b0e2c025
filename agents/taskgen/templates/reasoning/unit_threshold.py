"""Thresholds stated in another unit: is a polymer's measured value above or below a bound given in, say, °F?"""

from __future__ import annotations

import numpy as np

from agents.schema import Answer, Constraint, SubQuestion, Task, TaskParams
from agents.taskgen.base import (
    Draw,
    Rejected,
    TemplateContext,
    ids_in_question_order,
    make_task,
    polymer_refs,
)
from agents.taskgen.lookup import Key, measured
from agents.taskgen.pools import Pools
from agents.taskgen.registry import register
from agents.taskgen.templates.reasoning.common import (
    ReasoningTemplate,
    cached_lookup,
    clear_of,
    round_between,
)
from agents.taskgen.tolerances import LOG_TOLERANCE, tolerance_for
from agents.taskgen.wording import ALT_UNITS, in_unit, property_phrase, unit_suffix
from kb.properties import get_property
from kb.units import convert

# --- 4. thresholds stated in another unit --------------------------------------------------------------

def _build_unit_rows(pools: Pools) -> list[Key]:
    return sorted(k for k in measured(pools).value if k[1] in ALT_UNITS)


def _threshold(prop: str, value: float, above: bool, alt: str, rng: np.random.Generator) -> float | None:
    """A round threshold in `alt` that the value clears by 1.05-5 tolerances on the chosen side."""
    p = get_property(prop)
    if p.log_scale:
        near, far = 10 ** (1.05 * LOG_TOLERANCE), 10 ** (rng.uniform(1.5, 5) * LOG_TOLERANCE)
        lo, hi = (value / far, value / near) if above else (value * near, value * far)
    else:
        tol = tolerance_for(prop, value)["tolerance"]
        reach = rng.uniform(1.5, 5) * tol
        lo, hi = (value - reach, value - 1.05 * tol) if above else (value + 1.05 * tol, value + reach)
    lo, hi = max(lo, p.min_value), min(hi, p.max_value)
    if not lo < hi:
        return None
    return round_between(*sorted((convert(lo, p.unit, alt), convert(hi, p.unit, alt))))


@register
class UnitThreshold(ReasoningTemplate):
    """Is a measured value above / below a threshold given in another unit (e.g. Tg in K vs 150 degC)?"""

    name = "unit_threshold"

    def sample(self, ctx: TemplateContext, rng: np.random.Generator) -> Draw | Rejected:
        rows = cached_lookup(ctx.pools, "unit_rows", _build_unit_rows)
        if not rows:
            return Rejected("no values with another common unit")
        pid, prop, kind = rows[int(rng.integers(len(rows)))]
        value = measured(ctx.pools).value[(pid, prop, kind)]
        alts = ALT_UNITS[prop]
        alt = alts[int(rng.integers(len(alts)))]
        above = bool(rng.random() < 0.5)           # is the value above the threshold?
        x = _threshold(prop, value, above, alt, rng)
        if x is None or not clear_of(prop, value, convert(x, alt, get_property(prop).unit)):
            return Rejected("no round threshold clear of the value")
        ask = "min" if rng.random() < 0.5 else "max"  # asked as 'above x' or 'below x'
        return Draw([pid], {"key": (pid, prop, kind), "constraint": Constraint(
            type="property_range", property=prop, kind=kind, unit=alt, **{ask: x})})

    def compose(self, ctx: TemplateContext, draw: Draw) -> Task | Rejected:
        look = measured(ctx.pools)
        (pid, prop, kind), c = draw.params["key"], draw.params["constraint"]
        value, unit = look.value[(pid, prop, kind)], get_property(prop).unit
        converted = convert(value, unit, c.unit)
        if get_property(prop).log_scale:
            tol = {"log_tolerance": LOG_TOLERANCE}
        else:
            tol = {"tolerance": abs(convert(value + tolerance_for(prop, value)["tolerance"], unit, c.unit) - converted)}
        x, word = (c.min, "above") if c.min is not None else (c.max, "below")
        yes = converted > x if c.min is not None else converted < x
        what = property_phrase(prop, kind)
        subs = [
            SubQuestion(id="value", skill="look-up-property", question=f"What is the {what}{in_unit(unit)}?",
                        gold=Answer(type="number", number=value, unit=unit, **tolerance_for(prop, value))),
            SubQuestion(id="convert", skill="convert-unit", question=f"What is that value in{unit_suffix(c.unit)}?",
                        gold=Answer(type="number", number=converted, unit=c.unit, **tol), depends_on=["value"]),
            SubQuestion(id="check", skill="check-constraint", question=f"Is it {word} {x:g}{unit_suffix(c.unit)}?",
                        gold=Answer(type="yes_no", yes=yes), depends_on=["convert"]),
        ]
        question = f"Is the {what} of {ctx.pools.display_name(pid)} {word} {x:g}{unit_suffix(c.unit)}?"
        return make_task(self, ctx, difficulty=3, question=question, gold=Answer(type="yes_no", yes=yes),
                         sub_questions=subs, constraints=[c], polymer_ids=[pid],
                         composition="compare the converted value with the threshold",
                         source_ids=look.sources_of([(pid, prop, kind)]),
                         params=TaskParams(polymers=polymer_refs(ctx.pools, [pid], ["polymer"]), property=prop,
                                           kind=kind, unit=c.unit, threshold=x,
                                           direction="higher" if c.min is not None else "lower", asked="threshold"))

    def compose_from_subs(self, task: Task) -> Answer:
        converted, c = task.sub_questions[1].gold.number, task.constraints[0]
        return Answer(type="yes_no", yes=converted > c.min if c.min is not None else converted < c.max)

    def check(self, ctx: TemplateContext, task: Task) -> str | None:
        c = task.constraints[0]
        value = measured(ctx.pools).value[(ids_in_question_order(task)[0], c.property, c.kind)]
        x = convert(c.min if c.min is not None else c.max, c.unit, get_property(c.property).unit)
        if not clear_of(c.property, value, x):
            return "value within one tolerance of the threshold"
        expected = value > x if c.min is not None else value < x
        return None if expected == task.gold.yes else "gold differs from the pools"
