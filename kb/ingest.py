"""Raw source values -> measurements in canonical units; every rejected value keeps its reason."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kb.properties import PROPERTIES, plausibility_problem
from kb.readers import Rejection
from kb.units import convert

MEASUREMENT_COLUMNS = ["row_index", "property", "value", "unit", "original_value", "original_unit", "kind",
                       "temperature_k", "gas", "solvent", "conditions"]


def _converted(values: pd.Series, from_unit: str, to_unit: str) -> pd.Series:
    """Vectorised unit conversion; per-unit pair we convert 1 and 0 to learn the affine map when linear."""
    if from_unit == to_unit:
        return values
    if from_unit.startswith(("ln(", "log10(")):
        return values.map(lambda v: convert(v, from_unit, to_unit))
    offset = convert(0.0, from_unit, to_unit)
    scale = convert(1.0, from_unit, to_unit) - offset
    return values * scale + offset


def to_measurements(values: pd.DataFrame) -> tuple[pd.DataFrame, list[Rejection]]:
    """Parse, convert and range-check raw values; returns measurements and value-level rejections."""
    rejections: list[Rejection] = []
    if values.empty:
        return pd.DataFrame(columns=MEASUREMENT_COLUMNS), rejections
    numbers = pd.to_numeric(values["raw_value"], errors="coerce").astype(float)
    not_number = numbers.isna().to_numpy()
    for rec in values[not_number].itertuples():
        rejections.append(Rejection(int(rec.row_index), "value", rec.property, str(rec.raw_value),
                                    f"{rec.property}: {rec.raw_value!r} is not a number"))
    frame = values[~not_number].copy()
    frame["number"] = numbers[~not_number].to_numpy()
    parts = []
    for (prop_name, unit), group in frame.groupby(["property", "unit"], sort=False):
        prop = PROPERTIES[prop_name]
        try:
            converted = _converted(group["number"], unit, prop.unit)
        except OverflowError:
            converted = group["number"].map(lambda v, u=unit, target=prop.unit: _safe_convert(v, u, target))
        group = group.assign(value=converted.to_numpy(), unit_canonical=prop.unit)
        problems = group["value"].map(lambda v, p=prop: plausibility_problem(p, v))
        bad = problems.notna().to_numpy()
        for rec, reason in zip(group[bad].itertuples(), problems[bad]):
            rejections.append(Rejection(int(rec.row_index), "value", prop_name,
                                        f"{rec.raw_value} {unit}", reason))
        parts.append(group[~bad])
    if not parts:
        return pd.DataFrame(columns=MEASUREMENT_COLUMNS), rejections
    kept = pd.concat(parts, ignore_index=True)
    out = pd.DataFrame({
        "row_index": kept["row_index"].astype(np.int64).to_numpy(),
        "property": kept["property"].to_numpy(),
        "value": kept["value"].astype(float).to_numpy(),
        "unit": kept["unit_canonical"].to_numpy(),
        "original_value": kept["raw_value"].astype(str).to_numpy(),
        "original_unit": kept["unit"].to_numpy(),
        "kind": kept["kind"].to_numpy(),
        "temperature_k": kept["temperature_k"].astype(float).to_numpy(),
        "gas": kept["gas"].to_numpy(),
        "solvent": kept["solvent"].to_numpy(),
        "conditions": kept["conditions"].to_numpy(),
    })
    return out, rejections


def _safe_convert(value: float, from_unit: str, to_unit: str) -> float:
    try:
        return convert(value, from_unit, to_unit)
    except OverflowError:
        return float("inf")
