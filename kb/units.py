"""Units and conversions: every unit is a scale (and offset) onto its dimension's base unit, or a log of one.

`convert(1, "ln(Barrer)", "Barrer")` -> e; `convert(25, "degC", "K")` -> 298.15.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

from kb.errors import UnitError


@dataclass(frozen=True)
class LinearUnit:
    """A unit with ``base_value = value * scale + offset`` in its dimension's base unit."""

    name: str
    dimension: str
    scale: float
    offset: float = 0.0


_L = LinearUnit
# base units: K, Barrer, g/cm3, W/(m K), angstrom, eV, cm2/s, J/cm3, Pa s, S/cm, kJ/mol, 1/K, J/(kg K),
# GPa, 1/GPa, cm3(STP)/(cm3 cmHg), mmol/g, angstrom2, dimensionless, percent
_UNITS: dict[str, LinearUnit] = {u.name: u for u in [
    _L("K", "temperature", 1.0), _L("degC", "temperature", 1.0, 273.15),
    _L("degF", "temperature", 5 / 9, 273.15 - 32 * 5 / 9),
    _L("Barrer", "permeability", 1.0),
    _L("cm3(STP) cm/(cm2 s cmHg)", "permeability", 1e10),
    _L("mol m/(m2 s Pa)", "permeability", 1.0 / 3.35e-16),
    _L("g/cm3", "density", 1.0), _L("g/cc", "density", 1.0), _L("kg/m3", "density", 1e-3),
    _L("W/(m K)", "thermal_conductivity", 1.0), _L("mW/(m K)", "thermal_conductivity", 1e-3),
    _L("angstrom", "length", 1.0), _L("nm", "length", 10.0),
    _L("angstrom2", "area", 1.0), _L("nm2", "area", 100.0),
    _L("eV", "energy", 1.0), _L("eV/atom", "energy_per_atom", 1.0),
    _L("cm2/s", "diffusivity", 1.0), _L("m2/s", "diffusivity", 1e4), _L("mm2/s", "diffusivity", 1e-2),
    _L("cm3(STP)/(cm3 cmHg)", "solubility", 1.0),
    _L("J/cm3", "energy_density", 1.0), _L("MPa", "energy_density", 1.0), _L("cal/cm3", "energy_density", 4.184),
    _L("Pa s", "viscosity", 1.0), _L("P", "viscosity", 0.1), _L("mPa s", "viscosity", 1e-3),
    _L("S/cm", "conductivity", 1.0), _L("S/m", "conductivity", 0.01),
    _L("kJ/mol", "molar_energy", 1.0), _L("kcal/mol", "molar_energy", 4.184),
    _L("1/K", "expansion", 1.0), _L("1e-6/K", "expansion", 1e-6), _L("ppm/K", "expansion", 1e-6),
    _L("J/(kg K)", "specific_heat", 1.0), _L("J/(g K)", "specific_heat", 1000.0),
    _L("GPa", "pressure", 1.0), _L("MPa_p", "pressure", 1e-3), _L("Pa", "pressure", 1e-9),
    _L("1/GPa", "compressibility", 1.0), _L("1/Pa", "compressibility", 1e9),
    _L("mmol/g", "uptake", 1.0),
    _L("MPa^0.5", "solubility_parameter", 1.0), _L("(cal/cm3)^0.5", "solubility_parameter", 4.184 ** 0.5),
    _L("cm3/g", "specific_volume", 1.0), _L("cm3/mol", "molar_volume", 1.0),
    _L("-", "dimensionless", 1.0),
    _L("%", "percent", 1.0), _L("fraction", "percent", 100.0),
]}
_ALIASES = {"C": "degC", "°C": "degC", "celsius": "degC", "F": "degF", "°F": "degF", "fahrenheit": "degF", "Å": "angstrom", "A": "angstrom",
            "Å2": "angstrom2", "barrer": "Barrer", "": "-", "dimensionless": "-", "poise": "P",
            "W/mK": "W/(m K)", "g/mL": "g/cm3", "g cm-3": "g/cm3", "J/kgK": "J/(kg K)",
            "MPa1/2": "MPa^0.5", "MPa^(1/2)": "MPa^0.5", "(J/cm3)^0.5": "MPa^0.5", "mL/g": "cm3/g",
            "mL/mol": "cm3/mol"}
_LOG = re.compile(r"^(ln|log10)\((.+)\)$")


def known_units() -> list[str]:
    """Every unit name `convert` accepts (log forms `ln(U)` / `log10(U)` of each are accepted too)."""
    return sorted(_UNITS)


def _linear(name: str) -> LinearUnit:
    name = _ALIASES.get(name.strip(), name.strip())
    unit = _UNITS.get(name)
    if unit is None:
        close = difflib.get_close_matches(name, list(_UNITS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnitError(f"unknown unit {name!r}{hint}")
    return unit


def _split_log(name: str) -> tuple[str | None, LinearUnit]:
    match = _LOG.match(name.strip())
    if match:
        return match.group(1), _linear(match.group(2))
    return None, _linear(name)


def dimension_of(unit: str) -> str:
    """The physical dimension of a unit (log forms share their inner unit's dimension)."""
    return _split_log(unit)[1].dimension


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a value between two units of the same dimension; raises UnitError otherwise."""
    log_in, src = _split_log(from_unit)
    log_out, dst = _split_log(to_unit)
    if src.dimension != dst.dimension:
        raise UnitError(f"cannot convert {from_unit!r} ({src.dimension}) to {to_unit!r} ({dst.dimension})")
    linear = math.exp(value) if log_in == "ln" else 10.0**value if log_in == "log10" else value
    base = linear * src.scale + src.offset
    out = (base - dst.offset) / dst.scale
    if log_out is None:
        return out
    if out <= 0:
        raise UnitError(f"cannot take the log of {out} {dst.name}")
    return math.log(out) if log_out == "ln" else math.log10(out)


def canonical_unit_name(unit: str) -> str:
    """The spelling the registry uses for a unit (resolves aliases such as 'C' -> 'degC')."""
    log, inner = _split_log(unit)
    return f"{log}({inner.name})" if log else inner.name
