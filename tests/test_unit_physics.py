"""Every property's unit checked against physics: relations between related properties of the same polymers
(r2 ~ 6 Rg^2, kappa x K = 1, alpha_V = 3 alpha_L, D_th = k / (rho cp), P = D x S, ...) and handbook ranges
of typical values. A unit off by 100x (r2 in nm2 stored as angstrom2) or a mislabelled quantity (the MD
cell's orientational dielectric constant stored as the static one) fails here.

`check_physics(con)` runs on any KB; the test runs it on the small KB, and on the full KB when one is built.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kb.store import connect_read_only

FULL_KB = Path(__file__).resolve().parents[1] / ".polybench" / "kb" / "current" / "polybench.duckdb"
MIN_PAIRS = 5

# (name, SQL expression over the medians of one polymer (columns named by property), kind, low, high)
RELATIONS = [
    ("<R^2> / Rg^2 of a near-Gaussian chain (~6)", "r2 / (rg * rg)", "md_simulated", 3.0, 9.0),
    ("isothermal compressibility x bulk modulus = 1", "compressibility * bulk_modulus", "md_simulated", 0.8, 1.25),
    ("isentropic compressibility x bulk modulus = 1", "isentropic_compressibility * isentropic_bulk_modulus",
     "md_simulated", 0.8, 1.25),
    ("volume / linear expansion = 3", "volume_expansion / linear_expansion", "md_simulated", 2.5, 3.5),
    ("thermal diffusivity = k / (rho cp) (mm2/s)",
     "thermal_diffusivity / (thermal_conductivity / (density * 1000 * cp) * 1e6)", "md_simulated", 0.8, 1.25),
    ("cp / cv slightly above 1", "cp / cv", "md_simulated", 1.0, 1.3),
    ("static dielectric constant = orientational part + n^2 - 1",
     "dielectric_constant / (dielectric_dipolar + refractive_index * refractive_index - 1)", "md_simulated", 0.95,
     1.05),
    *[(f"{g} permeability = diffusivity x solubility (Barrer)", f"perm_{g} / (diff_{g} * sol_{g} * 1e10)",
       "experimental", 0.3, 3.0) for g in ("o2", "n2", "co2", "ch4")],
]
# typical median values (canonical units) from handbooks (Polymer Handbook, Bicerano, van Krevelen) and the
# sources' papers; a median 10x outside its range means a unit error
HANDBOOK: dict[str, tuple[float, float]] = {
    "tg": (250, 550), "density": (0.8, 1.6), "thermal_conductivity": (0.1, 0.5), "rg": (5, 60),
    "r2": (300, 30000), "ffv": (0.1, 0.5), "refractive_index": (1.3, 2.3), "dielectric_constant": (1.8, 8),
    "dielectric_dipolar": (1.0, 10), "bandgap_chain": (1, 10), "bandgap_bulk": (1, 10), "electron_affinity": (0, 5),
    "ionization_energy": (4, 10), "atomization_energy": (-10, -3), "crystallization_tendency": (5, 95),
    "cohesive_energy_density": (150, 900), "cp": (1000, 4500), "cv": (1000, 4500), "compressibility": (0.1, 1.0),
    "bulk_modulus": (1, 10), "isentropic_compressibility": (0.1, 1.0), "isentropic_bulk_modulus": (1, 10),
    "volume_expansion": (5e-5, 2e-3), "linear_expansion": (2e-5, 7e-4), "cte_glass": (5e-5, 1e-3),
    "cte_rubber": (2e-4, 3e-3), "thermal_diffusivity": (0.03, 0.3), "self_diffusion": (1e-12, 1e-5),
    "nematic_order_parameter": (0, 0.3), "rop_enthalpy": (-100, 20), "melt_viscosity": (1e-2, 1e7),
    "perm_o2": (1e-2, 1e3), "perm_n2": (1e-3, 5e2), "perm_co2": (1e-1, 5e3), "perm_ch4": (1e-3, 5e2),
    "diff_o2": (1e-9, 1e-5), "diff_co2": (1e-9, 1e-5), "sol_co2": (1e-3, 0.5), "sol_o2": (1e-4, 0.1),
}


def check_physics(con) -> tuple[list[str], int]:
    """Problems found, and how many relations had enough polymers to be checked."""
    problems, checked = [], 0
    props = sorted({p for _, expr, *_ in RELATIONS for p in _names(expr)})
    pivot = ", ".join(f"max(value) FILTER (WHERE property = '{p}') AS {p}" for p in props)
    for name, expr, kind, low, high in RELATIONS:
        row = con.execute(f"SELECT median({expr}), count({expr}) FROM (SELECT polymer_id, {pivot} FROM "
                          f"property_summary WHERE kind = ? GROUP BY polymer_id)", [kind]).fetchall()[0]
        if row[1] < MIN_PAIRS:
            continue
        checked += 1
        if not low <= row[0] <= high:
            problems.append(f"{name}: median ratio {row[0]:.4g} over {row[1]} polymers, expected {low}-{high}")
    for prop, value in con.execute("SELECT property, median(value) FROM property_summary GROUP BY 1").fetchall():
        if prop in HANDBOOK:
            low, high = HANDBOOK[prop]
            if not low <= value <= high:
                problems.append(f"{prop}: median {value:.4g}, typical {low:g}-{high:g}")
    return problems, checked


def _names(expr: str) -> set[str]:
    return {w for w in expr.replace("(", " ").replace(")", " ").replace("*", " ").replace("/", " ").split()
            if w[0].isalpha()}


def test_units_agree_with_physics_on_the_small_kb(small_kb) -> None:
    con = connect_read_only(Path(small_kb.db_path))
    try:
        problems, checked = check_physics(con)
    finally:
        con.close()
    assert checked >= 6 and not problems, problems


@pytest.mark.skipif(not FULL_KB.exists(), reason="the full KB is not built in this checkout")
def test_units_agree_with_physics_on_the_full_kb() -> None:
    con = connect_read_only(FULL_KB)
    try:
        problems, checked = check_physics(con)
    finally:
        con.close()
    assert checked == len(RELATIONS) and not problems, problems


def test_the_check_catches_a_unit_off_by_100() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE property_summary (polymer_id INT, property VARCHAR, kind VARCHAR, value DOUBLE)")
    rows = [(i, p, "md_simulated", v) for i in range(6) for p, v in (("rg", 18.0), ("r2", 20.0))]
    con.executemany("INSERT INTO property_summary VALUES (?, ?, ?, ?)", rows)
    problems, checked = check_physics(con)
    assert checked == 1 and any(p.startswith("<R^2>") for p in problems) and any("r2" in p for p in problems)
    assert math.isfinite(float(problems[0].split("ratio ")[1].split()[0]))
