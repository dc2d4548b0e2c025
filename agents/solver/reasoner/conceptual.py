"""Conceptual knowledge: polymerization classes, reaction linkages, monomers and products (SMiPoly's rules,
checked with forward synthesis), and property definitions applied to printed values."""

from __future__ import annotations

import math
from collections.abc import Callable

from agents.schema import Answer, Task
from agents.solver.reasoner.common import (
    canonical,
    definition,
    describe,
    feature,
    forward,
    group_counts,
    label_of,
    monomers_in,
)
from agents.solver.reasoner.core import Final, Plan, ReasonerTools, call, num, options_of, say, sub_for
from agents.taskgen.links import CLASS_LINKAGE, LINKAGE_OF_TEXT, achievable_classes
from tools.synthesis import POLYMER_CLASSES


def _linkage_of(pclass: str, groups: dict[str, int]) -> str:
    """The linkage a class forms; SMiPoly's polyester of a diol and CO is a polycarbonate."""
    if pclass == "polyester" and groups.get("carbonate") and not groups.get("ester"):
        return "carbonate"
    return CLASS_LINKAGE[pclass]


def _classes_of(monomers: list[str]) -> Plan:
    """monomer_classes of each monomer; the polymerization classes whose pairings fit them."""
    found = []
    for m in monomers:
        obs = yield call("classify-polymer", f"Which SMiPoly monomer classes does {m} belong to?",
                         "monomer_classes", {"monomer": m})
        found.append(tuple(obs.data.get("classes") or []) if obs.ok else ())
    return found, sorted(achievable_classes(found[0], found[1] if len(found) == 2 else None)
                         if found and found[0] else set())


def polymerization_class(task: Task, tools: ReasonerTools) -> Plan:
    mons = task.params.monomers
    steps, possible = [], []
    for letter, pclass in options_of(task):
        units = yield from forward(mons, pclass, skill="classify-polymer", why=f" (option {letter})")
        ok = bool(units)
        steps.append(say("classify-polymer", f"{pclass}: {'gives a repeat unit' if ok else 'gives no product'}."))
        if ok:
            possible.append(letter)
    if len(possible) != 1:
        return Final(answer=None, steps=steps, note=f"{len(possible)} classes are possible")
    return Final(answer=Answer(type="choice", choice=possible[0]),
                 steps=[*steps, say("compose", "Only one option's class joins these monomers.",
                                    f"The answer is {possible[0]}.")])


def reaction_linkage(task: Task, tools: ReasonerTools) -> Plan:
    mons = task.params.monomers
    _, classes = yield from _classes_of(mons)
    steps = []
    for pclass in classes:
        units = yield from forward(mons, pclass, skill="identify-linkage")
        if not units:
            continue
        obs = yield from describe(units[0], skill="identify-linkage")
        groups = group_counts(obs) if obs.ok else {}
        present = [(lt, text) for lt, text in options_of(task)
                   if LINKAGE_OF_TEXT.get(text) not in (None, "C-C") and groups.get(LINKAGE_OF_TEXT[text], 0) > 0]
        if not present:
            present = [(lt, text) for lt, text in options_of(task) if LINKAGE_OF_TEXT.get(text) == "C-C"]
        steps.append(say("identify-linkage", f"{pclass} polymerization gives {units[0]}; its groups: "
                         f"{', '.join(sorted(groups)) or 'none'}.",
                         f"It forms the {_linkage_of(pclass, groups)} linkage."))
        if len(present) == 1:
            letter, text = present[0]
            return Final(answer=Answer(type="choice", choice=letter),
                         steps=[*steps, say("compose", f"Of the options only '{text}' is in the product.",
                                            f"The answer is {letter}.")])
    return Final(answer=None, steps=steps, note="no single linkage found in a product")


def _same(units: list[str | None], key: str | None) -> bool:
    return key is not None and key in units


def monomers_for_polymer(task: Task, tools: ReasonerTools) -> Plan:
    ref = task.params.polymers[0]
    key = canonical(ref.psmiles)
    obs = yield from describe(ref, sub_for(task, "linkage"), skill="identify-linkage")
    groups = group_counts(obs) if obs.ok else {}
    classes = list(obs.data.get("kb_classes") or []) if obs.ok else []
    backbone = obs.data.get("polymer_class") if obs.ok else None
    candidates = list(dict.fromkeys(classes + ([backbone] if backbone in POLYMER_CLASSES else [])
                                    + list(POLYMER_CLASSES)))
    steps = []
    for pclass in candidates:
        matched = []
        for letter, text in options_of(task):
            units = yield from forward(monomers_in(text), pclass, why=f" (option {letter})")
            if _same(units, key):
                matched.append(letter)
        if len(matched) == 1:
            linkage = _linkage_of(pclass, groups)
            steps += [
                say("identify-linkage", f"The backbone of {label_of(ref)} is joined by {linkage} linkages "
                    f"(groups: {', '.join(sorted(groups)) or 'none'}).", None, sub_for(task, "linkage"),
                    Answer(type="set", items=[linkage])),
                say("classify-polymer", f"{linkage} linkages are formed by {pclass} polymerization.", None,
                    sub_for(task, "class"), Answer(type="set", items=[pclass])),
                say("select-monomers", f"By {pclass} polymerization only option {matched[0]}'s monomers give "
                    f"{ref.psmiles}.", f"The answer is {matched[0]}.", sub_for(task, "monomers"),
                    Answer(type="choice", choice=matched[0])),
            ]
            return Final(answer=Answer(type="choice", choice=matched[0]), steps=steps)
    return Final(answer=None, steps=steps, note="no option's monomers give the polymer")


def polymer_from_monomers(task: Task, tools: ReasonerTools) -> Plan:
    mons = task.params.monomers
    _, classes = yield from _classes_of(mons)
    keys = {ref.label: canonical(ref.psmiles) for ref in task.params.polymers}
    for pclass in classes:
        units = yield from forward(mons, pclass, skill="parse-structure")
        hits = [label for label, key in keys.items() if _same(units, key)]
        if len(hits) != 1:
            continue
        obs = yield from describe(units[0], skill="identify-linkage")
        linkage = _linkage_of(pclass, group_counts(obs) if obs.ok else {})
        steps = [
            say("classify-polymer", f"These monomers' classes fit {pclass} polymerization.", None,
                sub_for(task, "class"), Answer(type="set", items=[pclass])),
            say("identify-linkage", f"{pclass} polymerization joins them through {linkage} linkages.", None,
                sub_for(task, "linkage"), Answer(type="set", items=[linkage])),
            say("parse-structure", f"The product is {units[0]}, which is option {hits[0]}.",
                f"The answer is {hits[0]}.", sub_for(task, "product"), Answer(type="choice", choice=hits[0])),
        ]
        return Final(answer=Answer(type="choice", choice=hits[0]), steps=steps)
    return Final(answer=None, note="no class gives one of the options")


# Definitions, written here from the physics (not the task generator's table): inputs in the printed units.
_DEFINITIONS: dict[str, tuple[str, Callable[..., float]]] = {
    "thermal_diffusivity": ("D = k / (rho cp); with rho in g/cm3 (x1000 to kg/m3), D in m2/s x 1e6 = mm2/s",
                            lambda k, rho, cp: k / (rho * 1000.0 * cp) * 1e6),
    "bulk_modulus": ("K = 1 / isothermal compressibility", lambda c: 1.0 / c),
    "compressibility": ("isothermal compressibility = 1 / bulk modulus", lambda b: 1.0 / b),
    "isentropic_bulk_modulus": ("K_S = 1 / isentropic compressibility", lambda c: 1.0 / c),
    "linear_expansion": ("alpha_L = alpha_V / 3 for an isotropic material", lambda v: v / 3.0),
    "heat_capacity_ratio": ("gamma = cp / cv", lambda cp, cv: cp / cv),
    "specific_volume": ("v = 1 / density", lambda rho: 1.0 / rho),
    "molar_volume": ("V_m = M (repeat unit, g/mol) / density (g/cm3)", lambda rho, mass: mass / rho),
    "solubility_parameter": ("delta = sqrt(cohesive energy density); J/cm3 = MPa", math.sqrt),
    "optical_dielectric": ("epsilon_inf = n^2 (Maxwell relation)", lambda n: n * n),
    "ideal_chain_r2": ("<R^2> = 6 Rg^2 for an ideal Gaussian chain", lambda rg: 6.0 * rg * rg),
}
for _g in ("he", "h2", "o2", "n2", "co2", "ch4"):
    _DEFINITIONS[f"permeability_{_g}"] = ("P = D S (solution-diffusion); 1 Barrer = 1e-10 cm3(STP) cm/(cm2 s cmHg)",
                                          lambda d, s: d * s * 1e10)
    _DEFINITIONS[f"diffusivity_{_g}"] = ("D = P / S (solution-diffusion), P in Barrer x 1e-10",
                                         lambda p, s: p * 1e-10 / s)
_SELECTIVITY = ("ideal selectivity = P(A) / P(B)", lambda pa, pb: pa / pb)


def property_definition(task: Task, tools: ReasonerTools) -> Plan:
    p = task.params
    asked = p.asked or ""
    rule = _DEFINITIONS.get(asked) or (_SELECTIVITY if asked.startswith("selectivity_") else None)
    if rule is None:
        return Final(answer=None, note=f"no definition known for {asked!r}")
    text, fn = rule
    if p.property:
        yield from definition(tools, p.property)
    args = [q.value for q in p.quoted_values]
    steps = [say("recall-definition", f"By definition, {text}.", "Inputs: " + ", ".join(
        f"{q.label} = {num(q.value)} {q.unit}" for q in p.quoted_values) + ".")]
    if asked == "molar_volume":
        ref = p.polymers[0]
        obs = yield from describe(ref, skill="count-features")
        mw = feature(obs, "mw") if obs.ok else None
        if mw is None:
            return Final(answer=None, steps=steps, note="no repeat-unit mass")
        mass = round(float(mw), 2)
        args.append(mass)
        steps.append(say("recall-definition", f"The repeat-unit molar mass of {label_of(ref)} is {mass:.2f} g/mol.",
                         None, sub_for(task, "step"), Answer(type="number", number=mass, unit="g/mol")))
    elif asked == "thermal_diffusivity":
        rho_cp = args[1] * 1000.0 * args[2]
        steps.append(say("recall-definition", f"rho cp = {num(args[1] * 1000.0)} x {num(args[2])} = "
                         f"{num(rho_cp)} J/(m3 K).", None, sub_for(task, "step"),
                         Answer(type="number", number=float(f"{rho_cp:.4g}"), unit="J/(m3 K)")))
        steps.append(say("recall-definition", f"k / (rho cp) = {num(args[0])} / {num(rho_cp)} = "
                         f"{num(args[0] / rho_cp)} m2/s."))
    elif asked.startswith("permeability_"):
        ds = args[0] * args[1]
        steps.append(say("recall-definition", f"D x S = {num(args[0])} x {num(args[1])} = {num(ds)}.", None,
                         sub_for(task, "step"), Answer(type="number", number=float(f"{ds:.4g}"),
                                                       unit="cm3(STP) cm/(cm2 s cmHg)")))
    elif asked.startswith("diffusivity_"):
        steps.append(say("recall-definition", f"P = {num(args[0])} Barrer = {num(args[0] * 1e-10)} "
                         "cm3(STP) cm/(cm2 s cmHg)."))
    try:
        value = float(fn(*args))
    except (TypeError, ZeroDivisionError, ValueError) as exc:
        return Final(answer=None, steps=steps, note=f"cannot apply the definition: {exc}")
    unit = p.unit if p.unit and p.unit != "-" else None
    answer = Answer(type="number", number=float(f"{value:.4g}"), unit=unit)
    steps.append(say("compose", f"Applying it gives {num(value)}{' ' + unit if unit else ''}.", None,
                     sub_for(task, "answer"), answer))
    return Final(answer=answer, steps=steps)


PLANS = {"polymerization_class": polymerization_class, "reaction_linkage": reaction_linkage,
         "monomers_for_polymer": monomers_for_polymer, "polymer_from_monomers": polymer_from_monomers,
         "property_definition": property_definition}
