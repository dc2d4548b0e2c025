"""Category 2, conceptual knowledge: a property's definition applied to numbers.

"A polymer has a thermal conductivity of 0.21 W/(m K), a density of 1.05 g/cm3 and an isobaric specific
heat of 1,310 J/(kg K): what is its thermal diffusivity?" The gold follows from the definition (D = k /
(rho cp), K = 1 / kappa, P = D S, delta = CED^0.5, ...) applied to the values printed, so the question
tests what a property means, not a look-up. The printed values are real measured medians of the split's
*quoted* polymers (agents.taskgen.lookup), never values another task asks for.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from agents.schema import Answer, QuotedValue, SubQuestion, TaskParams
from agents.taskgen.base import Draw, Rejected, TemplateContext, TemplateDefaults, make_task, polymer_refs
from agents.taskgen.lookup import measured
from agents.taskgen.registry import register
from agents.taskgen.wording import KIND_WORDS, unit_suffix
from kb.properties import get_property
from kb.units import convert

RELATIVE_TOLERANCE = 0.01   # the gold is exact for the printed inputs; 1 % leaves room for rounding
GASES = ("he", "h2", "o2", "n2", "co2", "ch4")


@dataclass(frozen=True)
class Relation:
    """A definition: the quantity asked, its unit, the printed inputs (property, printed unit) and the rule."""

    name: str
    target: str
    unit: str
    inputs: tuple[tuple[str, str], ...]
    rule: Callable[..., float]
    definition: str
    target_property: str | None = None
    step: tuple[str, str, Callable[..., float]] | None = None  # an intermediate: question, unit, rule
    names_polymer: bool = False                                 # the polymer's structure is part of it


def _relations() -> list[Relation]:
    found = [
        Relation("thermal_diffusivity", "thermal diffusivity", "mm2/s",
                 (("thermal_conductivity", "W/(m K)"), ("density", "g/cm3"), ("cp", "J/(kg K)")),
                 lambda k, rho, cp: k / (rho * 1000 * cp) * 1e6, "thermal diffusivity = k / (rho cp)",
                 "thermal_diffusivity",
                 ("the volumetric heat capacity rho cp", "J/(m3 K)", lambda k, rho, cp: rho * 1000 * cp)),
        Relation("bulk_modulus", "isothermal bulk modulus", "GPa", (("compressibility", "1/GPa"),),
                 lambda c: 1 / c, "bulk modulus = 1 / isothermal compressibility", "bulk_modulus"),
        Relation("compressibility", "isothermal compressibility", "1/GPa", (("bulk_modulus", "GPa"),),
                 lambda b: 1 / b, "compressibility = 1 / bulk modulus", "compressibility"),
        Relation("isentropic_bulk_modulus", "isentropic bulk modulus", "GPa",
                 (("isentropic_compressibility", "1/GPa"),), lambda c: 1 / c,
                 "isentropic bulk modulus = 1 / isentropic compressibility", "isentropic_bulk_modulus"),
        Relation("linear_expansion", "linear thermal expansion coefficient of the isotropic material", "ppm/K",
                 (("volume_expansion", "ppm/K"),), lambda v: v / 3, "alpha_L = alpha_V / 3 (isotropic)",
                 "linear_expansion"),
        Relation("heat_capacity_ratio", "heat capacity ratio cp / cv", "-", (("cp", "J/(kg K)"), ("cv", "J/(kg K)")),
                 lambda cp, cv: cp / cv, "gamma = cp / cv"),
        Relation("specific_volume", "specific volume", "cm3/g", (("density", "g/cm3"),), lambda rho: 1 / rho,
                 "specific volume = 1 / density"),
        Relation("molar_volume", "molar volume of one repeat unit", "cm3/mol", (("density", "g/cm3"),),
                 lambda rho, mass: mass / rho, "molar volume = repeat-unit molar mass / density",
                 step=("the molar mass of one repeat unit", "g/mol", lambda rho, mass: mass), names_polymer=True),
        Relation("solubility_parameter", "Hildebrand solubility parameter", "MPa^0.5",
                 (("cohesive_energy_density", "J/cm3"),), math.sqrt, "delta = (cohesive energy density)^0.5"),
        Relation("optical_dielectric", "optical (high-frequency) dielectric constant", "-",
                 (("refractive_index", "-"),), lambda n: n * n, "epsilon_inf = n^2 (Maxwell)"),
        Relation("ideal_chain_r2", "mean-square end-to-end distance of an ideal Gaussian chain with this radius "
                 "of gyration", "angstrom2", (("rg", "angstrom"),), lambda rg: 6 * rg * rg,
                 "<R^2> = 6 Rg^2 (ideal chain)"),
    ]
    for g in GASES:
        gas = get_property(f"perm_{g}").description.split()[0]
        found.append(Relation(f"permeability_{g}", f"{gas} permeability", "Barrer",
                              ((f"diff_{g}", "cm2/s"), (f"sol_{g}", "cm3(STP)/(cm3 cmHg)")),
                              lambda d, s: d * s * 1e10, "P = D S (solution-diffusion); 1 Barrer = 1e-10 "
                              "cm3(STP) cm / (cm2 s cmHg)", f"perm_{g}",
                              ("D x S", "cm3(STP) cm/(cm2 s cmHg)", lambda d, s: d * s)))
        found.append(Relation(f"diffusivity_{g}", f"{gas} diffusivity", "cm2/s",
                              ((f"perm_{g}", "Barrer"), (f"sol_{g}", "cm3(STP)/(cm3 cmHg)")),
                              lambda p, s: p * 1e-10 / s, "D = P / S (solution-diffusion)", f"diff_{g}"))
    for a, b in (("co2", "ch4"), ("o2", "n2"), ("h2", "n2"), ("co2", "n2"), ("h2", "ch4"), ("he", "n2")):
        ga, gb = (get_property(f"perm_{g}").description.split()[0] for g in (a, b))
        found.append(Relation(f"selectivity_{a}_{b}", f"ideal {ga}/{gb} selectivity", "-",
                              ((f"perm_{a}", "Barrer"), (f"perm_{b}", "Barrer")), lambda pa, pb: pa / pb,
                              "ideal selectivity = P(A) / P(B)"))
    return found


RELATIONS = {r.name: r for r in _relations()}


def _rounded(value: float) -> float:
    return float(f"{value:.4g}")


def _inputs_text(printed: list[tuple[str, float, str]]) -> str:
    parts = [f"{get_property(p).description.removesuffix(' (DFT)')} of {v:.4g}{unit_suffix(u)}" for p, v, u in printed]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def relation_candidates(ctx: TemplateContext) -> list[tuple[str, int, str]]:
    """(relation, polymer, kind) triples the split's quoted values allow, sorted."""
    if "relation_candidates" not in ctx.pools.cache:
        look, found = measured(ctx.pools, quoted=True), []
        for name, rel in sorted(RELATIONS.items()):
            for pid, pks in sorted(look.pks_of.items()):
                for kind in sorted({k for _, k in pks}):
                    if all((prop, kind) in pks for prop, _ in rel.inputs):
                        found.append((name, pid, kind))
        ctx.pools.cache["relation_candidates"] = found
    return ctx.pools.cache["relation_candidates"]


@register
class PropertyDefinition(TemplateDefaults):
    """Apply a property's definition to printed values (thermal diffusivity from k, rho, cp; P = D S; ...)."""

    name = "property_definition"
    category = "conceptual_knowledge"
    version = "2"

    def sample(self, ctx, rng):
        found = relation_candidates(ctx)
        if not found:
            return Rejected("no quoted polymer with the inputs of any relation")
        names = sorted({name for name, _, _ in found})
        name = names[int(rng.integers(len(names)))]  # relation first, so the rare ones show up too
        rows = [c for c in found if c[0] == name]
        _, pid, kind = rows[int(rng.integers(len(rows)))]
        return Draw([pid], {"relation": name, "kind": kind})

    def compose(self, ctx, draw):
        rel, kind, pid = RELATIONS[draw.params["relation"]], draw.params["kind"], draw.polymer_ids[0]
        look = measured(ctx.pools, quoted=True)
        printed = [(prop, _rounded(convert(look.value[(pid, prop, kind)], get_property(prop).unit, unit)), unit)
                   for prop, unit in rel.inputs]
        args = [v for _, v, _ in printed]
        if rel.names_polymer:
            args.append(round(float(ctx.pools.polymers.at[pid, "mw"]), 2))
        value = rel.rule(*args)
        if not math.isfinite(value) or value <= 0:
            return Rejected("the definition gives no positive value for these inputs")
        gold = Answer(type="number", number=_rounded(value), unit=rel.unit,
                      tolerance=RELATIVE_TOLERANCE * abs(_rounded(value)))
        who = (f"The polymer {ctx.pools.display_name(pid)} has" if rel.names_polymer
               else "A polymer sample has")
        question = (f"{who} ({KIND_WORDS[kind]} values) a {_inputs_text(printed)}. From the definition, what is "
                    f"its {rel.target}{' in ' + rel.unit if rel.unit != '-' else ''}?")
        subs = []
        if rel.step is not None:
            what, unit, rule = rel.step
            step = rule(*args)
            subs = [SubQuestion(id="step", skill="recall-definition", question=f"What is {what} in {unit}?",
                                gold=Answer(type="number", number=_rounded(step), unit=unit,
                                            tolerance=RELATIVE_TOLERANCE * abs(_rounded(step)))),
                    SubQuestion(id="answer", skill="compose", question=f"Apply {rel.definition}.", gold=gold,
                                depends_on=["step"])]
        params = TaskParams(property=rel.target_property, kind=kind, unit=rel.unit, asked=rel.name,
                            polymers=polymer_refs(ctx.pools, [pid], ["polymer"]) if rel.names_polymer else [],
                            quoted_values=[QuotedValue(label=p, value=v, unit=u) for p, v, u in printed])
        return make_task(self, ctx, difficulty=3 if subs else 2, question=question, gold=gold, sub_questions=subs,
                         composition=f"{rel.definition}" if subs else None, polymer_ids=[pid],
                         source_ids=look.sources_of([(pid, p, kind) for p, _ in rel.inputs]), params=params)

    def compose_from_subs(self, task):
        return task.sub_questions[-1].gold if task.sub_questions else None

    def check(self, ctx, task):
        """The gold follows from the printed values by the relation (recomputed from params alone)."""
        rel = RELATIONS[task.params.asked or ""]
        args = [q.value for q in task.params.quoted_values]
        if rel.names_polymer:
            args.append(round(float(ctx.pools.polymers.at[task.polymer_ids[0], "mw"]), 2))
        expected = rel.rule(*args)
        return None if abs(expected - (task.gold.number or 0)) <= 1e-3 * abs(expected) else "gold off the relation"

