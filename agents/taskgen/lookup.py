"""The one per-split look-up of measured values every template reads (built once per Pools, cached on it).

Values are the KB medians (property_summary) of the split's linear polymers, of properties whose value does
not hinge on a condition the summary drops (solvent, dopant, shear, humidity). Each polymer is either
*asked* or *quoted*: a stable hash reserves QUOTED_SHARE of the polymers whose values templates may print
in a question (pair_higher_units, property_definition's worked relations); no template ever asks for such
a polymer's value. So a task used as a few-shot example or retrieval context never prints another task's
gold.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from agents.taskgen.pools import Pools
from agents.taskgen.tolerances import clearly_different
from kb.features import GROUP_COLUMNS
from kb.properties import get_property

Key = tuple[int, str, str]  # polymer_id, property, kind
# Values that depend on a condition the summary does not keep (solvent, dopant, humidity, shear, chain
# length), and water transport (experimental and simulated sets disagree by four decades).
EXCLUDED_PROPERTIES = frozenset({"chi", "solvent_diffusivity", "solvent_uptake", "melt_viscosity",
                                 "electrical_conductivity", "rop_enthalpy", "perm_h2o", "diff_h2o", "sol_h2o"})
KINDS = ("experimental", "md_simulated", "dft")
QUOTED_SHARE = 0.15
GROUP_INDEX = {group: i for i, group in enumerate(GROUP_COLUMNS)}


def quoted_only(polymer_id: int) -> bool:
    """Whether a polymer's values are reserved for printing in questions (a stable 15 % of polymers)."""
    digest = hashlib.blake2b(f"quoted|{polymer_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % 1000 < QUOTED_SHARE * 1000


@dataclass(frozen=True)
class ValueGroup:
    """The medians of one property and kind, with measured ranges (ids sorted)."""

    prop: str
    kind: str
    ids: np.ndarray
    values: np.ndarray
    lows: np.ndarray
    highs: np.ndarray

    def row(self, i: int) -> tuple[int, float]:
        return int(self.ids[i]), float(self.values[i])


@dataclass
class Measured:
    """Medians, ranges and sources per (polymer, property, kind), grouped for draws; group counts per polymer."""

    value: dict[Key, float]
    low: dict[Key, float]
    high: dict[Key, float]
    sources: dict[Key, list[str]]
    by_pk: dict[tuple[str, str], np.ndarray]       # (property, kind) -> polymer ids with a value (sorted)
    pks_of: dict[int, list[tuple[str, str]]]       # polymer id -> its (property, kind)s
    groups: dict[int, np.ndarray]                  # polymer id -> functional-group counts, GROUP_COLUMNS order
    value_groups: list[ValueGroup]
    _weights: dict = field(default_factory=dict)

    def sources_of(self, keys: list[Key]) -> list[str]:
        """Source ids behind these (polymer, property, kind) values."""
        return sorted({s for k in keys for s in self.sources.get(k, [])})

    def row(self, key: Key) -> tuple[float, float, float]:
        """(median, min, max) of one value."""
        return self.value[key], self.low[key], self.high[key]

    def pick_group(self, rng: np.random.Generator, min_size: int, units: tuple[str, ...] | None = None,
                   only: frozenset[tuple[str, str]] | None = None) -> ValueGroup | None:
        """A group with >= min_size polymers (canonical unit in `units`, (prop, kind) in `only` when given),
        weighted by sqrt(size)."""
        cache_key = (min_size, units, only)
        if cache_key not in self._weights:
            fit = [g for g in self.value_groups if len(g.ids) >= min_size
                   and (units is None or get_property(g.prop).unit in units)
                   and (only is None or (g.prop, g.kind) in only)]
            weights = np.sqrt([len(g.ids) for g in fit]) if fit else np.zeros(0)
            self._weights[cache_key] = (fit, weights / weights.sum() if fit else weights)
        fit, p = self._weights[cache_key]
        return fit[int(rng.choice(len(fit), p=p))] if fit else None


def measured(pools: Pools, quoted: bool = False) -> Measured:
    """The asked (default) or quoted values of a split, built once per Pools object."""
    name = "measured_quoted" if quoted else "measured_asked"
    if name not in pools.cache:
        pools.cache[name] = _build(pools, quoted)
    return pools.cache[name]


def _build(pools: Pools, quoted: bool) -> Measured:
    v = pools.values
    reserved = np.array([quoted_only(int(p)) for p in v["polymer_id"]], dtype=bool)
    logs = np.array([get_property(p).log_scale for p in v["property"]], dtype=bool)
    keep = (~v["property"].isin(EXCLUDED_PROPERTIES).to_numpy() & v["kind"].isin(KINDS).to_numpy()
            & v["polymer_id"].isin(pools.polymers.index).to_numpy()
            & np.isfinite(v["value"].to_numpy(dtype=float)) & (reserved == quoted)
            & ~(logs & (v["min_value"].to_numpy(dtype=float) <= 0)))
    v = v[keep].sort_values(["property", "kind", "polymer_id"], kind="stable")
    value, low, high, sources, pks_of = {}, {}, {}, {}, {}
    for pid, prop, kind, med, lo, hi, src in zip(v["polymer_id"].tolist(), v["property"], v["kind"], v["value"],
                                                 v["min_value"], v["max_value"], v["sources"]):
        key = (pid, prop, kind)
        value[key], low[key], high[key] = float(med), float(lo), float(hi)
        sources[key] = [s for s in str(src).split("; ") if s]
        pks_of.setdefault(pid, []).append((prop, kind))
    value_groups, by_pk = [], {}
    for (prop, kind), g in v.groupby(["property", "kind"], sort=True):
        ids = g["polymer_id"].to_numpy(dtype=np.int64)
        by_pk[(prop, kind)] = ids
        value_groups.append(ValueGroup(prop, kind, ids, g["value"].to_numpy(dtype=float),
                                       g["min_value"].to_numpy(dtype=float), g["max_value"].to_numpy(dtype=float)))
    ids = sorted(pks_of)
    counts = pools.polymers.loc[ids, list(GROUP_COLUMNS.values())].fillna(0).to_numpy(dtype=np.int64)
    return Measured(value, low, high, sources, by_pk, pks_of, dict(zip(ids, counts)), value_groups)


def spread_in_tolerances(values: np.ndarray, tolerance: float, log_scale: bool) -> float:
    """The 10-90 % range of values, in tolerances (how many distinguishable steps a property spans)."""
    low, high = np.percentile(values, [10, 90])
    if log_scale:
        return math.log10(high / low) / tolerance if low > 0 else 0.0
    return (high - low) / tolerance if tolerance > 0 else 0.0


def separated(prop: str, a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    """Medians clearly different and measured ranges disjoint, so the order holds for every measurement."""
    (va, lo_a, hi_a), (vb, lo_b, hi_b) = a, b
    return clearly_different(prop, va, vb) and (hi_a < lo_b if va < vb else hi_b < lo_a)


def pick_separated(group: ValueGroup, rng: np.random.Generator, k: int, first: int | None = None,
                   tries: int = 60) -> list[int] | None:
    """k indices of the group whose values are pairwise `separated` (starting with `first`), or None."""
    chosen = [] if first is None else [first]
    n = len(group.ids)
    for _ in range(tries):
        if len(chosen) == k:
            break
        i = int(rng.integers(n))
        row = (group.values[i], group.lows[i], group.highs[i])
        if all(separated(group.prop, row, (group.values[j], group.lows[j], group.highs[j])) for j in chosen):
            chosen.append(i)
    return chosen if len(chosen) == k else None
