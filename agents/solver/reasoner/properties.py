"""Property prediction and comparison: one value (number or 4-way choice), a pair, a ranking.

A value is the KB's visible median of the asked kind (with its sources) or, when the view hides it, the
surrogate estimate with its interval and nearest analogues (agents.solver.reasoner.common.property_value).
"""

from __future__ import annotations

import math
import re

from agents.schema import Answer, PolymerRef, Step, Task
from agents.solver.reasoner.common import (
    Value,
    definition,
    describe,
    feature,
    group_counts,
    label_of,
    property_value,
    structure_fact,
)
from agents.solver.reasoner.core import Final, Plan, ReasonerTools, num, options_of, say, sub_for
from kb.features import FUNCTIONAL_GROUPS
from kb.properties import get_property
from kb.units import UnitError, convert

LETTERS = "ABCDEFGH"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _values(task: Task, tools: ReasonerTools, refs: list[PolymerRef], subs: list[str | None]):
    p = task.params
    out: list[Value] = []
    for ref, sub in zip(refs, subs, strict=True):
        out.append((yield from property_value(tools, ref, p.property, p.kind, p.unit, sub)))
    return out


def _profile(ref: PolymerRef) -> Plan:
    """The structural profile of the asked polymer, stated before its value is looked up or estimated."""
    obs = yield from describe(ref)
    if obs.ok:
        yield say("parse-structure", structure_fact(ref, obs))


def _asked_value(task: Task, tools: ReasonerTools):
    """The asked polymer's profile and the property's definition stated, then its value (measured or estimated)."""
    p = task.params
    yield from _profile(p.polymers[0])
    yield from definition(tools, p.property)
    (v,) = yield from _values(task, tools, p.polymers[:1], [None])
    return v


def property_value_task(task: Task, tools: ReasonerTools) -> Plan:
    """property_value: the number."""
    v = yield from _asked_value(task, tools)
    if v.value is None:
        return Final(answer=None, note="no value")
    return Final(answer=Answer(type="number", number=float(f"{v.value:.4g}"), unit=v.unit), steps=[
        say("compose", f"The answer is {num(v.value)} {v.unit}.")])


def property_value_choice(task: Task, tools: ReasonerTools) -> Plan:
    p = task.params
    v = yield from _asked_value(task, tools)
    if v.value is None:
        return Final(answer=None, note="no value")
    log = get_property(p.property).log_scale
    scored = []
    for letter, text in options_of(task):
        m = _NUMBER.search(text)
        if m is None:
            continue
        x = float(m.group())
        if log and (x <= 0 or v.value <= 0):
            continue
        scored.append((abs(math.log10(x) - math.log10(v.value)) if log else abs(x - v.value), letter, text))
    if not scored:
        return Final(answer=None, note="no numeric option")
    _, letter, text = min(scored)
    return Final(answer=Answer(type="choice", choice=letter), steps=[
        say("compare", f"Of the options, {text} is closest to {num(v.value)} {v.unit}.", f"The answer is {letter}.")])


def property_value_stepwise(task: Task, tools: ReasonerTools) -> Plan:
    p = task.params
    ref = p.polymers[0]
    obs = yield from describe(ref, sub_for(task, "groups"), skill="identify-linkage")
    groups = sorted(g for g in group_counts(obs) if g in FUNCTIONAL_GROUPS) if obs.ok else []
    rings = int(feature(obs, "aromatic_rings") or 0) if obs.ok else 0
    yield say("identify-linkage", f"The repeat unit of {label_of(ref)} contains: {', '.join(groups) or 'no listed group'}.",
              None, sub_for(task, "groups"), Answer(type="set", items=groups))
    yield say("count-features", f"It has {rings} aromatic ring{'s' if rings != 1 else ''} per repeat unit.", None,
              sub_for(task, "rings"), Answer(type="number", number=float(rings)))
    yield from definition(tools, p.property)
    (v,) = yield from _values(task, tools, [ref], [sub_for(task, "estimate")])
    if v.value is None:
        return Final(answer=None, note="no value")
    return Final(answer=Answer(type="number", number=float(f"{v.value:.4g}"), unit=v.unit),
                 steps=[say("compose", f"The estimate is the answer: {num(v.value)} {v.unit}.")])


def _higher_letter(values: list[float], direction: str) -> str:
    return "A" if (values[0] > values[1]) == (direction == "higher") else "B"


def _pair_answer(task: Task, values: list[float], shown: str, steps: list[Step]) -> Final:
    """The closing compare step of a pair question (values of A and B as `shown`) and its choice answer."""
    p = task.params
    letter = _higher_letter(values, p.direction or "higher")
    steps.append(say("compare", shown, f"Polymer {letter} has the {p.direction} value.", sub_for(task, "compare"),
                     Answer(type="choice", choice=letter)))
    return Final(answer=Answer(type="choice", choice=letter), steps=steps)


def pair_higher(task: Task, tools: ReasonerTools) -> Plan:
    """pair_higher and pair_higher_stepwise: both values, then the higher (or lower)."""
    p = task.params
    yield from definition(tools, p.property)
    refs = p.polymers[:2]
    vals = yield from _values(task, tools, refs, [sub_for(task, f"value_{r.label}") for r in refs])
    if any(v.value is None for v in vals):
        return Final(answer=None, note="a value is missing")
    a, b = vals
    return _pair_answer(task, [a.value, b.value], f"A: {num(a.value)} {a.unit}; B: {num(b.value)} {b.unit}.", [])


def pair_higher_units(task: Task, tools: ReasonerTools) -> Plan:
    """Two printed values in different units: convert both to the property's unit, then compare."""
    p = task.params
    yield from definition(tools, p.property)
    unit = p.unit or get_property(p.property).unit
    steps, values = [], []
    for q in p.quoted_values[:2]:
        try:
            x = convert(q.value, q.unit, unit)
        except UnitError as exc:
            return Final(answer=None, note=f"cannot convert {q.unit} to {unit}: {exc}")
        values.append(x)
        steps.append(say("convert-unit", f"Polymer {q.label}: {num(q.value)} {q.unit} is {num(x)} {unit}.", None,
                         sub_for(task, f"value_{q.label}"), Answer(type="number", number=float(f"{x:.6g}"), unit=unit)))
    return _pair_answer(task, values, f"In {unit}: A {num(values[0])}, B {num(values[1])}.", steps)


def rank_by_property(task: Task, tools: ReasonerTools) -> Plan:
    p = task.params
    yield from definition(tools, p.property)
    refs = p.polymers
    vals = yield from _values(task, tools, refs, [sub_for(task, f"value_{r.label}") for r in refs])
    steps = []
    if any(v.value is None for v in vals):
        return Final(answer=None, note="a value is missing")
    order = p.order or "descending"
    ranked = sorted(range(len(refs)), key=lambda i: vals[i].value, reverse=order == "descending")
    answer = Answer(type="ranking", ranking=[refs[i].label for i in ranked], order=order)
    steps.append(say("compare", "Sorted " + ("highest first" if order == "descending" else "lowest first") + ": "
                     + ", ".join(f"{refs[i].label} ({num(vals[i].value)})" for i in ranked) + ".",
                     f"The order is {answer.text()}.", sub_for(task, "rank"), answer))
    return Final(answer=answer, steps=steps)


PLANS = {"property_value": property_value_task, "property_value_choice": property_value_choice,
         "property_value_stepwise": property_value_stepwise, "pair_higher": pair_higher,
         "pair_higher_stepwise": pair_higher, "pair_higher_units": pair_higher_units,
         "rank_by_property": rank_by_property}
