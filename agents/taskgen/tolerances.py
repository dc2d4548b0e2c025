"""How close a numeric answer must be, and how far apart compared values must be, per property.

Tolerances are absolute in the property's canonical unit and follow the spread of the same polymer's value
between sources of the same kind (median absolute deviation in the KB: Tg 8.5 K, MD density 0.025 g/cm3,
MD thermal conductivity 0.013 W/(m K), MD Rg 1.2 angstrom; `python -m bench.bench_baselines` prints them),
or, where no polymer has two sources, the precision the source states. Log-scale properties (permeability,
diffusivity, solubility) are judged in decades (their inter-source spread is ~0.2 decades).
A comparison gold needs a gap of at least GAP_FACTOR tolerances so that it is not measurement noise.

A property is asked as a number only where a constant guess (the split's median) passes at most
MAX_CONSTANT_PASS of the split's values (`numeric_groups`): elsewhere the tolerance the noise demands is
so wide that the question measures little, and the property is asked as a choice or a comparison instead.
"""

from __future__ import annotations

import math

import numpy as np

from agents.schema import Answer
from kb.properties import get_property

ABS_TOLERANCE: dict[str, float] = {
    "tg": 10.0, "density": 0.03, "ffv": 0.005, "thermal_conductivity": 0.015, "rg": 1.5,
    "dielectric_constant": 0.2, "dielectric_dipolar": 0.1, "refractive_index": 0.02, "bandgap_chain": 0.2,
    "bandgap_bulk": 0.3, "electron_affinity": 0.2, "ionization_energy": 0.2, "atomization_energy": 0.05,
    "crystallization_tendency": 5.0, "cohesive_energy_density": 30.0, "chi": 0.2, "rop_enthalpy": 5.0,
    "electron_injection_barrier": 0.2, "cp": 100.0, "cv": 100.0, "compressibility": 0.02, "bulk_modulus": 0.2,
    "isentropic_compressibility": 0.02, "isentropic_bulk_modulus": 0.2, "volume_expansion": 2e-5,
    "linear_expansion": 1e-5, "cte_glass": 3e-5, "cte_rubber": 1e-4, "thermal_diffusivity": 0.005,
    "nematic_order_parameter": 0.01,
}
LOG_TOLERANCE = 0.2        # decades, for log-scale properties
RELATIVE_DEFAULT = 0.1     # 10 % of the value for anything not listed (r2)
GAP_FACTOR = 2.0
MAX_CONSTANT_PASS = 0.08   # a numeric (property, kind) must leave a constant guess at most this share
MIN_NUMERIC_POLYMERS = 8


def tolerance_for(prop: str, value: float) -> dict[str, float]:
    """Answer fields for a numeric gold: {'tolerance': x} or {'log_tolerance': d}."""
    if get_property(prop).log_scale:
        return {"log_tolerance": LOG_TOLERANCE}
    return {"tolerance": ABS_TOLERANCE.get(prop, RELATIVE_DEFAULT * abs(value))}


def within_tolerance(prop: str, gold: float, guess: float) -> bool:
    """Whether a guess would be scored right against a gold of this property."""
    if get_property(prop).log_scale:
        return gold > 0 and guess > 0 and abs(math.log10(gold) - math.log10(guess)) <= LOG_TOLERANCE
    return abs(gold - guess) <= tolerance_for(prop, gold)["tolerance"]


def constant_pass_rate(prop: str, values: np.ndarray) -> float:
    """The share of values a constant guess of their median would get right."""
    if len(values) == 0:
        return 1.0
    guess = float(np.median(values))
    return float(np.mean([within_tolerance(prop, float(v), guess) for v in values]))


def clearly_different(prop: str, a: float, b: float) -> bool:
    """Whether two values of one property differ by more than noise (GAP_FACTOR tolerances)."""
    if get_property(prop).log_scale:
        if a <= 0 or b <= 0:
            return False
        return abs(math.log10(a) - math.log10(b)) >= GAP_FACTOR * LOG_TOLERANCE
    tol = ABS_TOLERANCE.get(prop, RELATIVE_DEFAULT * max(abs(a), abs(b)))
    return abs(a - b) >= GAP_FACTOR * tol


def value_answer(prop: str, value: float) -> Answer:
    """A numeric gold in the canonical unit with the property's tolerance."""
    value = float(f"{value:.6g}")  # drop float noise of unit conversions (far below any tolerance)
    return Answer(type="number", number=value, unit=get_property(prop).unit, **tolerance_for(prop, value))
