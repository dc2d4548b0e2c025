"""How every template words quantities, units, values, groups and constraints (one phrase table, not three)."""

from __future__ import annotations

import re

from agents.schema import Constraint
from kb.features import FUNCTIONAL_GROUPS
from kb.properties import get_property

KIND_WORDS = {"experimental": "experimental", "md_simulated": "MD-simulated", "dft": "DFT-computed",
              "synthetic": "synthetic"}
SHOWN_UNIT = {"degC": "°C", "degF": "°F", "-": ""}
_DIFFUSIVITY = ("m2/s",)
_PERMEABILITY = ("cm3(STP) cm/(cm2 s cmHg)", "mol m/(m2 s Pa)")
# Other units a property is often reported in (for questions that state a value or a threshold in them).
ALT_UNITS: dict[str, tuple[str, ...]] = {
    "tg": ("degC", "degF"), "density": ("kg/m3",), "thermal_conductivity": ("mW/(m K)",), "rg": ("nm",),
    "r2": ("nm2",), "cohesive_energy_density": ("cal/cm3",), "cp": ("J/(g K)",), "cv": ("J/(g K)",),
    "linear_expansion": ("ppm/K",), "volume_expansion": ("ppm/K",), "cte_glass": ("ppm/K",),
    "cte_rubber": ("ppm/K",), "thermal_diffusivity": ("cm2/s",), "self_diffusion": _DIFFUSIVITY,
    **{f"perm_{g}": _PERMEABILITY for g in ("he", "h2", "o2", "n2", "co2", "ch4")},
    **{f"diff_{g}": _DIFFUSIVITY for g in ("he", "h2", "o2", "n2", "co2", "ch4")},
}


def property_phrase(prop: str, kind: str | None) -> str:
    """'experimental glass transition temperature [tg]': kind, meaning and registry name of a property."""
    description = get_property(prop).description.removesuffix(" (DFT)")
    words = KIND_WORDS.get(kind or "", "measured")
    return f"{words} {description} [{prop}]"


def shown_unit(unit: str | None) -> str:
    """A unit as a question prints it ('°C' for degC, nothing for dimensionless)."""
    return SHOWN_UNIT.get(unit or "-", unit or "")


def unit_text(unit: str) -> str:
    """How a question names the unit an answer is asked in."""
    return "dimensionless units" if unit == "-" else shown_unit(unit)


def unit_suffix(unit: str | None) -> str:
    """' K' after a number (nothing for dimensionless values)."""
    shown = shown_unit(unit)
    return f" {shown}" if shown else ""


def in_unit(unit: str | None) -> str:
    """' in K' for a look-up question; nothing for dimensionless values."""
    shown = shown_unit(unit)
    return f" in {shown}" if shown else ""


def value_text(value: float, unit: str | None) -> str:
    """A value as options and questions show it (4 significant digits, unit as printed)."""
    shown = shown_unit(unit)
    return f"{value:.4g} {shown}" if shown else f"{value:.4g}"


def group_words(group: str) -> str:
    """'ester (carboxylic ester -C(=O)O-)': a functional group's name and description."""
    return f"{group.replace('_', ' ')} ({FUNCTIONAL_GROUPS[group].description})"


def constraint_text(c: Constraint) -> str:
    """A constraint in words for a question (Constraint.describe is the terse form for traces)."""
    if c.type == "property_range":
        what = property_phrase(c.property or "", c.kind)
        unit = f" {shown_unit(c.unit)}" if shown_unit(c.unit) else ""
        if c.min is not None and c.max is not None:
            return f"{what} between {c.min:g} and {c.max:g}{unit}"
        return f"{what} of at least {c.min:g}{unit}" if c.min is not None else f"{what} of at most {c.max:g}{unit}"
    if c.type == "require_group":
        return f"the repeat unit contains at least one {group_words(c.group or '')}"
    if c.type == "forbid_group":
        return f"the repeat unit contains no {group_words(c.group or '')}"
    return f"is a {c.value} (SMiPoly polymerization class or backbone-linkage class)"


def parse_phrase(text: str) -> tuple[str, str] | None:
    """(property, kind) of the first property_phrase in a text: for tests and audits that read a question
    back independently of its params (templates themselves never parse their prose)."""
    match = re.search(r"(experimental|MD-simulated|DFT-computed) [^\[\]]*\[(\w+)\]", text)
    if match is None:
        return None
    return match.group(2), next(k for k, word in KIND_WORDS.items() if word == match.group(1))
