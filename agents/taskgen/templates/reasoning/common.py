"""Shared by the advanced-reasoning templates: the split's measured values indexed per pool, the
wording of quantities, units and groups, and thresholds kept one tolerance clear of every value."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import TypeVar

import numpy as np

from agents.taskgen.base import TemplateDefaults
from agents.taskgen.pools import Pools
from agents.taskgen.tolerances import LOG_TOLERANCE, tolerance_for
from kb.features import FUNCTIONAL_GROUPS, GROUP_COLUMNS
from kb.properties import get_property

Key = tuple[int, str, str]  # polymer_id, property, kind
T = TypeVar("T")
KIND_WORDS = {"experimental": "experimental", "md_simulated": "MD-simulated", "dft": "DFT-computed",
              "synthetic": "synthetic"}
UNIT_WORDS = {"degC": "°C", "degF": "°F", "-": ""}
GROUP_INDEX = {group: i for i, group in enumerate(GROUP_COLUMNS)}


# --- per-pool look-ups (built once, cached on the Pools object) ---------------------------------------

@dataclass
class MeasuredValues:
    """Measured medians of the split's linear polymers, indexed for cheap draws."""

    value: dict[Key, float]
    sources: dict[Key, list[str]]
    by_pk: dict[tuple[str, str], np.ndarray]       # (property, kind) -> polymer ids with a value
    pks_of: dict[int, list[tuple[str, str]]]       # polymer id -> its (property, kind)s
    groups: dict[int, np.ndarray]                  # polymer id -> group counts, in GROUP_COLUMNS order


def cached_lookup(pools: Pools, name: str, build: Callable[[Pools], T]) -> T:
    """One look-up per Pools object and name, built on first use."""
    cache = pools.cache.setdefault("reasoning", {})
    if name not in cache:
        cache[name] = build(pools)
    return cache[name]


def _build_values(pools: Pools) -> MeasuredValues:
    linear = set(pools.polymers.index[pools.polymers["status"] == "linear"].tolist())
    v = pools.values
    value, sources, by_pk, pks_of = {}, {}, {}, {}
    for pid, prop, kind, median, src in zip(v["polymer_id"], v["property"], v["kind"], v["value"], v["sources"]):
        pid = int(pid)
        if pid not in linear or math.isnan(median):
            continue
        value[(pid, prop, kind)] = float(median)
        sources[(pid, prop, kind)] = [s for s in str(src).split("; ") if s]
        by_pk.setdefault((prop, kind), []).append(pid)
        pks_of.setdefault(pid, []).append((prop, kind))
    rows = pools.polymers.loc[sorted(pks_of), list(GROUP_COLUMNS.values())].fillna(0).to_numpy(dtype=np.int64)
    groups = dict(zip(sorted(pks_of), rows))
    return MeasuredValues(value, sources, {k: np.array(ids) for k, ids in by_pk.items()}, pks_of, groups)


def values_of(pools: Pools) -> MeasuredValues:
    return cached_lookup(pools, "values", _build_values)


def sources_of(look: MeasuredValues, keys: list[Key]) -> list[str]:
    return sorted({s for k in keys for s in look.sources.get(k, [])})


# --- wording and thresholds -----------------------------------------------------------------------------

def quantity_words(prop: str, kind: str) -> str:
    """'experimental glass transition temperature (tg)'."""
    description = get_property(prop).description.replace(" (DFT)", "")
    return f"{KIND_WORDS.get(kind, kind)} {description} ({prop})"


def unit_words(unit: str | None) -> str:
    text = UNIT_WORDS.get(unit or "-", unit or "")
    return f" {text}" if text else ""


def in_unit_words(unit: str) -> str:
    """' in K' for a look-up question; nothing for dimensionless values."""
    return f" in{unit_words(unit)}" if unit_words(unit) else ""


def group_words(group: str) -> str:
    return f"{group.replace('_', ' ')} ({FUNCTIONAL_GROUPS[group].description})"


def excluded_interval(prop: str, value: float) -> tuple[float, float]:
    """The interval around a value that a threshold must avoid: one tolerance on either side."""
    if get_property(prop).log_scale:
        factor = 10**LOG_TOLERANCE
        return value / factor, value * factor
    tol = tolerance_for(prop, value)["tolerance"]
    return value - tol, value + tol


def clear_of(prop: str, value: float, bound: float) -> bool:
    lo, hi = excluded_interval(prop, value)
    return not lo < bound < hi


def round_between(lo: float, hi: float) -> float | None:
    """The roundest number strictly between lo and hi (fewest significant digits), or None."""
    if not lo < hi:
        return None
    size = max(abs(lo), abs(hi))
    top = math.floor(math.log10(size)) + 1 if size > 0 else 0
    for e in range(top, top - 9, -1):
        for step in (10.0**e, 5 * 10.0 ** (e - 1), 2 * 10.0 ** (e - 1)):
            x = float(f"{(math.floor(lo / step) + 1) * step:.6g}")
            if lo < x < hi:
                return x
    return None


def threshold_cuts(prop: str, values: list[float]) -> list[float]:
    """Round thresholds, one per gap of the sorted values, each clear of every value by one tolerance."""
    ordered = sorted(values)
    cuts = []
    for below, above in pairwise(ordered):
        x = round_between(excluded_interval(prop, below)[1], excluded_interval(prop, above)[0])
        if x is not None:
            cuts.append(x)
    return cuts


class ReasoningTemplate(TemplateDefaults):
    category = "advanced_reasoning"
