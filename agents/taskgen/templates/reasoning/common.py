"""Shared by the advanced-reasoning templates: per-pool look-ups and thresholds kept one tolerance clear
of every value (the measured values themselves are agents.taskgen.lookup's, the wording agents.taskgen.wording's)."""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise
from typing import TypeVar

from agents.taskgen.base import TemplateDefaults
from agents.taskgen.pools import Pools
from agents.taskgen.tolerances import LOG_TOLERANCE, tolerance_for
from kb.properties import get_property

T = TypeVar("T")


# --- per-pool look-ups and thresholds --------------------------------------------------------------------

def cached_lookup(pools: Pools, name: str, build: Callable[[Pools], T]) -> T:
    """One look-up per Pools object and name, built on first use."""
    cache = pools.cache.setdefault("reasoning", {})
    if name not in cache:
        cache[name] = build(pools)
    return cache[name]


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
