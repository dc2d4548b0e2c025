"""The property registry: one canonical unit, a description and a plausible range per property.

Every measured value in the KB is stored in its property's canonical unit; values outside the plausible
range are quarantined on ingest with the reason.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from kb.errors import UnknownPropertyError
from kb.units import convert


@dataclass(frozen=True)
class PropertyDef:
    """A property: canonical unit, one-line definition, plausible range (inclusive) in that unit."""

    name: str
    unit: str
    description: str
    min_value: float
    max_value: float
    higher_is: str | None = None  # what a larger value usually means for design, if anything
    log_scale: bool = False       # spans decades: compare and tolerate in log space


GASES = ("He", "H2", "O2", "N2", "CO2", "CH4", "H2O")

_P = PropertyDef
_BASE = [
    _P("tg", "K", "glass transition temperature", 50, 900, "a stiffer chain, usable at higher temperature"),
    _P("density", "g/cm3", "mass density of the amorphous polymer", 0.3, 3.5),
    _P("ffv", "-", "fractional free volume (unoccupied share of the volume)", 0.0, 1.0,
       "looser packing, usually higher gas permeability"),
    _P("thermal_conductivity", "W/(m K)", "thermal conductivity", 0.005, 5.0, "better heat transport"),
    _P("rg", "angstrom", "radius of gyration of a simulated chain", 1.0, 500.0),
    _P("r2", "angstrom2", "mean-square end-to-end distance of a simulated chain", 1.0, 1e7),
    _P("dielectric_constant", "-", "static dielectric constant (electronic and nuclear polarization)", 1.0, 30.0),
    _P("dielectric_dipolar", "-", "orientational dielectric constant of a fixed-charge MD cell (1 + dipole-"
       "fluctuation term, no electronic polarization)", 1.0, 100.0),
    _P("refractive_index", "-", "refractive index", 1.0, 3.0),
    _P("bandgap_chain", "eV", "electronic band gap of an isolated chain (DFT)", 0.0, 15.0),
    _P("bandgap_bulk", "eV", "electronic band gap of the bulk / crystal (DFT)", 0.0, 15.0),
    _P("electron_affinity", "eV", "electron affinity (DFT)", -5.0, 10.0),
    _P("ionization_energy", "eV", "ionization energy (DFT)", 0.0, 20.0),
    _P("atomization_energy", "eV/atom", "atomization energy per atom (DFT)", -15.0, 0.0),
    _P("crystallization_tendency", "%", "tendency to crystallise", 0.0, 100.0),
    _P("cohesive_energy_density", "J/cm3", "cohesive energy density (square root: solubility parameter)",
       10.0, 5000.0),
    _P("chi", "-", "Flory-Huggins interaction parameter with a solvent", -10.0, 10.0,
       "poorer polymer-solvent miscibility"),
    _P("melt_viscosity", "Pa s", "zero-shear or measured melt viscosity", 1e-5, 1e13, log_scale=True),
    _P("electrical_conductivity", "S/cm", "electrical conductivity of the doped polymer", 1e-20, 1e7,
       log_scale=True),
    _P("rop_enthalpy", "kJ/mol", "enthalpy of ring-opening polymerization", -400.0, 200.0),
    _P("solvent_diffusivity", "cm2/s", "diffusivity of a solvent in the polymer", 1e-16, 1.0, log_scale=True),
    _P("solvent_uptake", "mmol/g", "solvent uptake by sorption", 1e-6, 1e4, log_scale=True),
    _P("electron_injection_barrier", "eV", "electron injection barrier (DFT)", -10.0, 10.0),
    _P("cp", "J/(kg K)", "isobaric specific heat capacity", 100.0, 1e4),
    _P("cv", "J/(kg K)", "isochoric specific heat capacity", 100.0, 1e4),
    _P("compressibility", "1/GPa", "isothermal compressibility", 1e-3, 100.0),
    _P("bulk_modulus", "GPa", "isothermal bulk modulus", 0.01, 200.0, "stiffer"),
    _P("isentropic_compressibility", "1/GPa", "isentropic compressibility", 1e-3, 100.0),
    _P("isentropic_bulk_modulus", "GPa", "isentropic bulk modulus", 0.01, 200.0),
    _P("volume_expansion", "1/K", "volumetric thermal expansion coefficient", 1e-7, 1e-2),
    _P("linear_expansion", "1/K", "linear thermal expansion coefficient", 1e-8, 1e-2),
    _P("cte_glass", "1/K", "volumetric thermal expansion coefficient below Tg", 1e-7, 1e-2),
    _P("cte_rubber", "1/K", "volumetric thermal expansion coefficient above Tg", 1e-7, 1e-2),
    _P("self_diffusion", "cm2/s", "self-diffusion coefficient of the simulated chains", 1e-16, 1.0, log_scale=True),
    _P("thermal_diffusivity", "mm2/s", "thermal diffusivity", 1e-4, 100.0),
    _P("nematic_order_parameter", "-", "nematic order parameter of the simulated cell", 0.0, 1.0),
]
_GAS = []
for _gas in GASES:
    _g = _gas.lower()
    _GAS += [
        _P(f"perm_{_g}", "Barrer", f"{_gas} permeability", 1e-7, 1e7, "faster gas transport", log_scale=True),
        _P(f"diff_{_g}", "cm2/s", f"{_gas} diffusivity", 1e-16, 1.0, log_scale=True),
        _P(f"sol_{_g}", "cm3(STP)/(cm3 cmHg)", f"{_gas} solubility coefficient", 1e-8, 100.0, log_scale=True),
    ]

PROPERTIES: dict[str, PropertyDef] = {p.name: p for p in _BASE + _GAS}


def get_property(name: str) -> PropertyDef:
    """The registry entry for a property name; raises UnknownPropertyError with close names."""
    prop = PROPERTIES.get(name.strip().lower())
    if prop is None:
        raise UnknownPropertyError(name, difflib.get_close_matches(name.lower(), list(PROPERTIES), n=3))
    return prop


def gas_of(prop: str) -> str | None:
    """The gas a transport property is about ('perm_co2' -> 'CO2'), else None."""
    head, _, tail = prop.partition("_")
    if head in {"perm", "diff", "sol"}:
        return next((g for g in GASES if g.lower() == tail), None)
    return None


def to_canonical(prop: PropertyDef, value: float, unit: str) -> float:
    """A value in any unit of the property's dimension, converted to its canonical unit."""
    return convert(value, unit, prop.unit)


def plausibility_problem(prop: PropertyDef, value: float) -> str | None:
    """Why a canonical value is implausible (outside the registry range, not finite), or None."""
    if not math.isfinite(value):
        return f"{prop.name} value is not a finite number"
    if not prop.min_value <= value <= prop.max_value:
        return (f"{prop.name} = {value:.6g} {prop.unit} outside plausible range "
                f"[{prop.min_value:g}, {prop.max_value:g}] {prop.unit}")
    return None
