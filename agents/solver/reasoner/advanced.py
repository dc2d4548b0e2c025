"""Advanced reasoning: multi-constraint filters, the gas selectivity trade-off, structure-change effects and
thresholds stated in another unit."""

from __future__ import annotations

import math

from agents.schema import Answer, Constraint, Task
from agents.solver.reasoner.common import describe, group_counts, property_value
from agents.solver.reasoner.core import Final, Plan, ReasonerTools, call, num, options_of, say, sub_for
from kb.properties import get_property
from kb.units import UnitError, convert

LETTERS = "ABCDEFGH"


def _in_range(value: float, c: Constraint, unit: str) -> bool:
    low, high = (convert(b, c.unit, unit) if b is not None and c.unit and c.unit != unit else b
                 for b in (c.min, c.max))
    return (low is None or value >= low) and (high is None or value <= high)


def _bounds_text(c: Constraint) -> str:
    parts = ([f">= {num(c.min)}"] if c.min is not None else []) + ([f"<= {num(c.max)}"] if c.max is not None else [])
    return " and ".join(parts) + (f" {c.unit}" if c.unit else "")


def constraint_filter(task: Task, tools: ReasonerTools) -> Plan:
    steps, keep = [], []
    for ref in task.params.polymers:
        described = None
        ok_all = True
        for j, c in enumerate(task.constraints, 1):
            base = f"{ref.label}.c{j}"
            if c.type == "property_range":
                unit = c.unit or get_property(c.property).unit
                v = yield from property_value(tools, ref, c.property, c.kind, unit, sub_for(task, f"{base}.value"))
                if v.value is None:
                    return Final(answer=None, steps=steps, note=f"no {c.property} value for {ref.label}")
                meets = _in_range(v.value, c, unit)
                why = f"{num(v.value)} {unit} is {'within' if meets else 'outside'} {_bounds_text(c)}"
            else:
                if described is None:
                    described = yield from describe(ref, skill="identify-linkage")
                count = group_counts(described).get(c.group or "", 0) if described.ok else 0
                present = count > 0
                meets = present if c.type == "require_group" else not present
                steps.append(say("identify-linkage", f"{ref.label} has {count} {c.group} group"
                                 f"{'s' if count != 1 else ''} per repeat unit.", None,
                                 sub_for(task, f"{base}.group"), Answer(type="yes_no", yes=present)))
                why = f"the constraint {'requires' if c.type == 'require_group' else 'forbids'} {c.group}"
            steps.append(say("check-constraint", f"Constraint {j} for {ref.label}: {why}.",
                             f"{ref.label} {'meets' if meets else 'fails'} constraint {j}.",
                             sub_for(task, f"{base}.check"), Answer(type="yes_no", yes=meets)))
            ok_all &= meets
        if ok_all:
            keep.append(ref.label)
    answer = Answer(type="set", items=keep)
    steps.append(say("compose", "A polymer is kept when it meets every constraint.",
                     f"Polymers meeting all: {', '.join(keep) or 'none'}."))
    return Final(answer=answer, steps=steps)


def gas_selectivity_tradeoff(task: Task, tools: ReasonerTools) -> Plan:
    p = task.params
    first, second = (f"perm_{g.lower()}" for g in p.gases[:2])
    ga, gb = p.gases[:2]
    x = p.threshold
    steps, selectivity, above = [], {}, {}
    for ref in p.polymers:
        got = {}
        for prop in (first, second):
            sid = sub_for(task, f"{ref.label}.{prop}")
            v = yield from property_value(tools, ref, prop, p.kind, "Barrer", sid)
            if v.value is None or v.value <= 0:
                return Final(answer=None, steps=steps, note=f"no {prop} for {ref.label}")
            got[prop] = v.value
        sel = got[first] / got[second]
        selectivity[ref.label], above[ref.label] = sel, got[first] > x
        steps.append(say("compose", f"Selectivity of {ref.label}: {num(got[first])} / {num(got[second])} = "
                         f"{num(sel)}.", None, sub_for(task, f"{ref.label}.selectivity"),
                         Answer(type="number", number=float(f"{sel:.6g}"))))
        steps.append(say("check-constraint", f"P({ga}) of {ref.label} is {num(got[first])} Barrer, "
                         f"{'above' if above[ref.label] else 'not above'} {num(x)} Barrer.", None,
                         sub_for(task, f"{ref.label}.above"), Answer(type="yes_no", yes=above[ref.label])))
    fast = [label for label in selectivity if above[label]]
    if not fast:
        return Final(answer=None, steps=steps, note="no option above the threshold")
    best = max(fast, key=lambda label: selectivity[label])
    steps.append(say("compare", f"Above {num(x)} Barrer: {', '.join(fast)}; the highest {ga}/{gb} selectivity "
                     f"among them is {best}'s ({num(selectivity[best])}).", f"The answer is {best}.",
                     sub_for(task, "best"), Answer(type="choice", choice=best)))
    return Final(answer=Answer(type="choice", choice=best), steps=steps)


_CLEAN_CHANGES: dict[str, dict[str, int]] = {  # atoms one more of each group brings (for the CH2 remainder)
    "fluoro": {"F": 1, "H": -1}, "chloro": {"Cl": 1, "H": -1}, "bromo": {"Br": 1, "H": -1},
    "phenyl": {"C": 6, "H": 4}, "ether": {"O": 1}, "thioether": {"S": 1}, "sulfone": {"S": 1, "O": 2},
    "ketone": {"C": 1, "O": 1}, "ester": {"C": 1, "O": 2}, "amide": {"C": 1, "O": 1, "N": 1, "H": 1},
    "hydroxyl": {"O": 1}, "nitrile": {"C": 1, "N": 1, "H": -1}, "alkene": {"C": 2, "H": 2},
    "siloxane": {"Si": 1, "O": 1, "C": 2, "H": 6},
}


def _change_labels(data: dict) -> list[str]:
    """What B has more (or fewer) of than A: '<group> +n' per changed group, then the CH2 remainder."""
    import re
    from collections import Counter

    delta = {g: n for g, n in (data.get("groups_gained") or {}).items()}
    delta.update({g: -n for g, n in (data.get("groups_lost") or {}).items()})
    if "phenyl" in delta and delta.get("aromatic_ring") == delta["phenyl"]:
        delta.pop("aromatic_ring")
    labels = [f"{g} {'+' if n > 0 else '-'}{abs(n)}" for g, n in sorted(delta.items())]

    def atoms(formula: str | None) -> Counter:
        return Counter({el: int(n or 1) for el, n in re.findall(r"([A-Z][a-z]?)(\d*)", formula or "")})

    rest = atoms(data.get("formula_b"))
    rest.subtract(atoms(data.get("formula_a")))
    for g, n in delta.items():
        for el, k in _CLEAN_CHANGES.get(g, {}).items():
            rest[el] -= n * k
    ch2 = rest.get("C", 0)
    if ch2 and rest.get("H", 0) == 2 * ch2:
        labels.append(f"CH2 {'+' if ch2 > 0 else '-'}{abs(ch2)}")
    return labels


def structure_change_effect(task: Task, tools: ReasonerTools) -> Plan:
    p = task.params
    a, b = p.polymers[:2]
    obs = yield call("identify-linkage", f"Compare the repeat units of A ({a.psmiles}) and B ({b.psmiles}).",
                     "compare_polymers", {"polymer_a": a.psmiles, "polymer_b": b.psmiles}, sub_for(task, "change"))
    steps = []
    if obs.ok:
        labels = _change_labels(obs.data)
        steps.append(say("identify-linkage", f"B differs from A by: {', '.join(labels) or 'no group change'}.",
                         None, sub_for(task, "change"), Answer(type="set", items=labels)))
    vals = []
    for ref, sid in ((a, "value_a"), (b, "value_b")):
        v = yield from property_value(tools, ref, p.property, p.kind, p.unit, sub_for(task, sid))
        if v.value is None:
            return Final(answer=None, steps=steps, note=f"no value for {ref.label}")
        vals.append(v.value)
    higher = vals[1] > vals[0]
    steps.append(say("compare", f"B: {num(vals[1])} vs A: {num(vals[0])}.",
                     f"B's value is {'higher' if higher else 'lower'}.", sub_for(task, "compare"),
                     Answer(type="yes_no", yes=higher)))
    wanted = "increases" if higher else "decreases"
    letter = next((lt for lt, text in options_of(task) if wanted in text.lower()), None)
    if letter is None:
        return Final(answer=None, steps=steps, note="no option says " + wanted)
    steps.append(say("structure-effect", f"The change from A to B {wanted} the {p.property}.",
                     f"The answer is {letter}.", sub_for(task, "effect"), Answer(type="choice", choice=letter)))
    return Final(answer=Answer(type="choice", choice=letter), steps=steps)


def unit_threshold(task: Task, tools: ReasonerTools) -> Plan:
    p = task.params
    ref = p.polymers[0]
    canonical = get_property(p.property).unit
    c = task.constraints[0] if task.constraints else None
    v = yield from property_value(tools, ref, p.property, p.kind, canonical, sub_for(task, "value"))
    steps = []
    if v.value is None:
        return Final(answer=None, note="no value")
    unit = (c.unit if c is not None else None) or p.unit or canonical
    try:
        x = convert(v.value, canonical, unit)
    except UnitError as exc:
        return Final(answer=None, steps=steps, note=f"cannot convert: {exc}")
    steps.append(say("convert-unit", f"{num(v.value)} {canonical} is {num(x)} {unit}.", None, sub_for(task, "convert"),
                     Answer(type="number", number=float(f"{x:.6g}"), unit=unit)))
    above = p.direction != "lower"
    threshold = p.threshold if p.threshold is not None else (c.min if c is not None and c.min is not None else
                                                            c.max if c is not None else math.nan)
    yes = x > threshold if above else x < threshold
    steps.append(say("check-constraint", f"Is {num(x)} {unit} {'above' if above else 'below'} {num(threshold)} {unit}?",
                     "yes" if yes else "no", sub_for(task, "check"), Answer(type="yes_no", yes=yes)))
    return Final(answer=Answer(type="yes_no", yes=yes), steps=steps)


PLANS = {"constraint_filter": constraint_filter, "gas_selectivity_tradeoff": gas_selectivity_tradeoff,
         "structure_change_effect": structure_change_effect, "unit_threshold": unit_threshold}
