"""How close a numeric answer must be, and how far apart compared values must be, per property.

Tolerances are absolute in the property's canonical unit (about the scatter between sources of the same
kind); log-scale properties (permeability, viscosity, conductivity, ...) are judged in decades instead.
A comparison gold needs a gap of at least GAP_FACTOR tolerances so that it is not measurement noise.
"""

from __future__ import annotations

import math

from kb.properties import get_property

ABS_TOLERANCE: dict[str, float] = {
    "tg": 20.0, "density": 0.05, "ffv": 0.02, "thermal_conductivity": 0.03, "rg": 2.0, "r2": 200.0,
    "dielectric_constant": 0.3, "dielectric_dipolar": 0.5, "refractive_index": 0.05,
    "bandgap_chain": 0.4, "bandgap_bulk": 0.4, "electron_affinity": 0.3, "ionization_energy": 0.3,
    "atomization_energy": 0.1, "crystallization_tendency": 8.0, "cohesive_energy_density": 40.0, "chi": 0.2,
    "rop_enthalpy": 5.0, "electron_injection_barrier": 0.3, "cp": 100.0, "cv": 100.0, "compressibility": 0.05,
    "bulk_modulus": 0.5, "isentropic_compressibility": 0.05, "isentropic_bulk_modulus": 0.5,
    "volume_expansion": 5e-5, "linear_expansion": 2e-5, "cte_glass": 5e-5, "cte_rubber": 1e-4,
    "thermal_diffusivity": 0.02, "nematic_order_parameter": 0.05,
}
LOG_TOLERANCE = 0.3        # decades, for log-scale properties
RELATIVE_DEFAULT = 0.1     # 10 % of the value for anything not listed
GAP_FACTOR = 2.0


def tolerance_for(prop: str, value: float) -> dict[str, float]:
    """Answer fields for a numeric gold: {'tolerance': x} or {'log_tolerance': d}."""
    if get_property(prop).log_scale:
        return {"log_tolerance": LOG_TOLERANCE}
    return {"tolerance": ABS_TOLERANCE.get(prop, RELATIVE_DEFAULT * abs(value))}


def clearly_different(prop: str, a: float, b: float) -> bool:
    """Whether two values of one property differ by more than noise (GAP_FACTOR tolerances)."""
    if get_property(prop).log_scale:
        if a <= 0 or b <= 0:
            return False
        return abs(math.log10(a) - math.log10(b)) >= GAP_FACTOR * LOG_TOLERANCE
    tol = ABS_TOLERANCE.get(prop, RELATIVE_DEFAULT * max(abs(a), abs(b)))
    return abs(a - b) >= GAP_FACTOR * tol
