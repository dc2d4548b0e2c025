"""The same measurement copied into several source files counts once.

Public sets copy each other (the OPC dev set holds every NeurIPS value, the curated Tg set holds Bicerano's
values, polyVERSE's two transport tables repeat each other); a median over the copies would weigh one
measurement several times. A value of another source file that equals an earlier one of the same polymer,
property, kind and temperature (within a relative 1e-3: unit conversions and rounding of degC; a file
that states no temperature matches any) is kept
with `duplicate_of` = the measurement it repeats, and left out of the medians.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RELATIVE_TOLERANCE = 1e-3
TEMPERATURE_TOLERANCE_K = 1.0


def _same(a: float, b: float, ta: float, tb: float) -> bool:
    """Equal values at a compatible temperature (one file may not state the temperature the other does)."""
    close = abs(a - b) <= RELATIVE_TOLERANCE * max(abs(a), abs(b)) or a == b
    unstated = np.isnan(ta) or np.isnan(tb)
    return close and (unstated or abs(ta - tb) <= TEMPERATURE_TOLERANCE_K)


def duplicate_of(measurements: pd.DataFrame) -> pd.Series:
    """Per measurement: the measurement_id of an earlier equal value from another source file, else <NA>.

    "Earlier" is the order (source_id, row_index, measurement_id), so the result does not depend on the
    order the sources were ingested in.
    """
    out = pd.Series(pd.NA, index=measurements.index, dtype="Int64")
    if measurements.empty:
        return out
    keys = ["polymer_id", "property", "kind"]
    multi = measurements[measurements.duplicated(keys, keep=False)]
    multi = multi.sort_values([*keys, "source_id", "row_index", "measurement_id"], kind="stable")
    temperature = multi["temperature_k"].astype(float) if "temperature_k" in multi else pd.Series(np.nan, index=multi.index)
    for _, group in multi.groupby(keys, sort=False):
        kept: list[tuple[int, str, float, float]] = []  # measurement_id, source_id, value, temperature
        for idx, mid, source, value, temp in zip(group.index, group["measurement_id"], group["source_id"],
                                                 group["value"].astype(float), temperature.loc[group.index]):
            match = next((k for k in kept if k[1] != source and _same(value, k[2], temp, k[3])), None)
            if match is None:
                kept.append((int(mid), source, value, temp))
            else:
                out.loc[idx] = match[0]
    return out
