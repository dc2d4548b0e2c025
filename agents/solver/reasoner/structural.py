"""Structural understanding: linkages, ring counts, repeat-unit mass, backbone atoms, validity."""

from __future__ import annotations

from agents.schema import Answer, Task
from agents.solver.reasoner.common import describe, feature, group_counts, label_of
from agents.solver.reasoner.core import Final, Plan, ReasonerTools, call, options_of, say, sub_for


def linkage_present(task: Task, tools: ReasonerTools) -> Plan:
    ref = task.params.polymers[0]
    obs = yield from describe(ref, skill="identify-linkage")
    if not obs.ok:
        return Final(answer=None, note=f"describe_polymer failed: {obs.error}")
    groups = group_counts(obs)
    present = [(letter, text) for letter, text in options_of(task) if groups.get(text.replace(" ", "_"), 0) > 0]
    listed = ", ".join(f"{g} x{n}" for g, n in sorted(groups.items())) or "none"
    if len(present) != 1:
        return Final(answer=None, steps=[say("identify-linkage", f"Groups of the unit: {listed}.",
                                             f"{len(present)} options are present; no single answer.")])
    letter, text = present[0]
    return Final(answer=Answer(type="choice", choice=letter), steps=[say(
        "identify-linkage", f"The repeat unit of {label_of(ref)} contains: {listed}.",
        f"Of the options only {text} is present, so the answer is {letter}.")])


def aromatic_ring_count(task: Task, tools: ReasonerTools) -> Plan:
    ref, units = task.params.polymers[0], task.params.repeat_units or 1
    obs = yield from describe(ref, skill="count-features")
    rings = feature(obs, "aromatic_rings") if obs.ok else None
    if rings is None:
        return Final(answer=None, note=f"no aromatic ring count: {obs.error}")
    total = int(rings) * units
    how = (f"{int(rings)} aromatic ring{'s' if int(rings) != 1 else ''} per repeat unit"
           + (f", times {units} repeat units gives {total}" if units != 1 else ""))
    return Final(answer=Answer(type="number", number=float(total)),
                 steps=[say("count-features", f"The repeat unit of {label_of(ref)} has {how}.",
                            f"There are {total} aromatic rings.")])


def repeat_unit_weight(task: Task, tools: ReasonerTools) -> Plan:
    ref = task.params.polymers[0]
    obs = yield from describe(ref, skill="count-features", sub=sub_for(task, "formula"))
    formula, mw = (feature(obs, "formula"), feature(obs, "mw")) if obs.ok else (None, None)
    if formula is None or mw is None:
        return Final(answer=None, note=f"no formula: {obs.error}")
    mass = round(float(mw), 2)
    return Final(answer=Answer(type="number", number=mass, unit="g/mol"), steps=[
        say("count-features", f"The repeat unit's molecular formula is {formula}.", None,
            sub_for(task, "formula"), Answer(type="set", items=[str(formula)])),
        say("compose", f"Summing the atomic masses of {formula} gives {mass:.2f} g/mol (end groups excluded).",
            f"The repeat-unit molar mass is {mass:.2f} g/mol.", sub_for(task, "mass"),
            Answer(type="number", number=mass, unit="g/mol")),
    ])


def backbone_atoms(task: Task, tools: ReasonerTools) -> Plan:
    ref = task.params.polymers[0]
    obs = yield from describe(ref, skill="count-features")
    n = feature(obs, "backbone_atoms") if obs.ok else None
    if n is None:
        return Final(answer=None, note=f"no backbone count: {obs.error}")
    side = feature(obs, "sidechain_atoms")
    return Final(answer=Answer(type="number", number=float(n)), steps=[say(
        "count-features", f"On the star-to-star paths of {label_of(ref)} lie {int(n)} heavy atoms"
        + (f"; {int(side)} more are pendant or side-group atoms" if side is not None else "") + ".",
        f"The backbone has {int(n)} heavy atoms.")])


def more_aromatic_rings(task: Task, tools: ReasonerTools) -> Plan:
    counts = []
    for ref, sub in zip(task.params.polymers[:2], ("count_a", "count_b"), strict=False):
        obs = yield from describe(ref, sub_for(task, sub), skill="count-features")
        rings = feature(obs, "aromatic_rings") if obs.ok else None
        if rings is None:
            return Final(answer=None, note=f"no aromatic ring count for {ref.label}: {obs.error}")
        counts.append(int(rings))
    a, b = counts
    yes = a > b
    return Final(answer=Answer(type="yes_no", yes=yes), steps=[
        say("count-features", f"Polymer A has {a} aromatic rings per repeat unit.", None, sub_for(task, "count_a"),
            Answer(type="number", number=float(a))),
        say("count-features", f"Polymer B has {b} aromatic rings per repeat unit.", None, sub_for(task, "count_b"),
            Answer(type="number", number=float(b))),
        say("compare", f"{a} {'>' if yes else '<=' } {b}.", f"A {'has' if yes else 'does not have'} more.",
            sub_for(task, "compare"), Answer(type="yes_no", yes=yes)),
    ])


def valid_repeat_unit(task: Task, tools: ReasonerTools) -> Plan:
    text = task.params.shown_smiles or ""
    obs = yield call("parse-structure", f"Check whether `{text}` parses as a linear repeat unit with two * ends.",
                     "validate_polymer", {"polymer": text})
    if obs.ok:
        valid = bool(obs.data.get("valid"))
        why = "it parses and has exactly two attachment points" if valid else (obs.data.get("problem") or "invalid")
    else:
        valid, why = False, f"the string is refused: {obs.error}"
    return Final(answer=Answer(type="yes_no", yes=valid), steps=[say(
        "parse-structure", f"The validator says {why}.", f"It is {'' if valid else 'not '}a valid repeat unit.")])


PLANS = {f.__name__: f for f in (linkage_present, aromatic_ring_count, repeat_unit_weight, backbone_atoms,
                                 more_aromatic_rings, valid_repeat_unit)}
