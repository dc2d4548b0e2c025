"""Category 5, advanced reasoning: constraint filters, gas-separation trade-offs, matched-pair structure
effects and thresholds stated in another unit.

Golds are the split's measured medians (pools.values). No decision rests on noise: every value lies at
least one tolerance away from any threshold it is tested against, and every compared pair is clearly
different (GAP_FACTOR tolerances; selectivities, a ratio of two log-scale values, in decades). The
per-pool look-ups (values by polymer, permeability pairs, matched pairs) are built once per Pools object
and cached on it, so a draw costs microseconds.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import TypeVar

import numpy as np

from agents.schema import Answer, Constraint, SubQuestion, Task
from agents.taskgen.base import LETTERS, Draw, Rejected, TemplateContext, lettered, make_task
from agents.taskgen.pools import Pools
from agents.taskgen.registry import register
from agents.taskgen.tolerances import GAP_FACTOR, LOG_TOLERANCE, clearly_different, tolerance_for
from kb.features import FUNCTIONAL_GROUPS, GROUP_COLUMNS, fingerprint_of
from kb.properties import gas_of, get_property
from kb.units import convert

Key = tuple[int, str, str]  # polymer_id, property, kind
T = TypeVar("T")
KIND_WORDS = {"experimental": "experimental", "md_simulated": "MD-simulated", "dft": "DFT-computed",
              "synthetic": "synthetic"}
UNIT_WORDS = {"degC": "°C", "degF": "°F", "-": ""}
HALOGENS = {"fluoro": "fluorine atom", "chloro": "chlorine atom", "bromo": "bromine atom"}
GAS_PAIRS = (("co2", "ch4"), ("o2", "n2"), ("h2", "n2"), ("co2", "n2"), ("h2", "ch4"), ("he", "n2"))
_DIFFUSIVITY = ("m2/s",)
_PERMEABILITY = ("cm3(STP) cm/(cm2 s cmHg)", "mol m/(m2 s Pa)")
ALT_UNITS: dict[str, tuple[str, ...]] = {
    "tg": ("degC", "degF"), "density": ("kg/m3",), "thermal_conductivity": ("mW/(m K)",), "rg": ("nm",),
    "cohesive_energy_density": ("cal/cm3",), "rop_enthalpy": ("kcal/mol",), "cp": ("J/(g K)",),
    "cv": ("J/(g K)",), "linear_expansion": ("ppm/K",), "volume_expansion": ("ppm/K",), "cte_glass": ("ppm/K",),
    "cte_rubber": ("ppm/K",), "electrical_conductivity": ("S/m",), "melt_viscosity": ("P", "mPa s"),
    "thermal_diffusivity": ("cm2/s",), "self_diffusion": _DIFFUSIVITY, "solvent_diffusivity": _DIFFUSIVITY,
    **{f"perm_{g}": _PERMEABILITY for g in ("he", "h2", "o2", "n2", "co2", "ch4", "h2o")},
    **{f"diff_{g}": _DIFFUSIVITY for g in ("he", "h2", "o2", "n2", "co2", "ch4", "h2o")},
}
FILTER_MIN_POLYMERS = 6    # a (property, kind) needs this many polymers to seed a filter task
FILTER_MIN_SPREAD = 4.0    # ... and its 10-90 % range must span this many tolerances
SIMILARITY_MIN = 0.4       # Morgan Tanimoto of a matched pair
MAX_HEAVY_DELTA = 7        # heavy-atom difference of a matched pair ("a small change")
MAX_CH2 = 3                # at most this many CH2 units more or fewer besides the group change
# the atoms one more of each group brings (H -> F, an inserted -O-, H -> phenyl or an inserted phenylene, ...)
CLEAN_CHANGES: dict[str, dict[str, int]] = {
    "fluoro": {"F": 1, "H": -1}, "chloro": {"Cl": 1, "H": -1}, "bromo": {"Br": 1, "H": -1},
    "phenyl": {"C": 6, "H": 4}, "ether": {"O": 1}, "thioether": {"S": 1}, "sulfone": {"S": 1, "O": 2},
    "ketone": {"C": 1, "O": 1}, "ester": {"C": 1, "O": 2}, "amide": {"C": 1, "O": 1, "N": 1, "H": 1},
    "hydroxyl": {"O": 1}, "nitrile": {"C": 1, "N": 1, "H": -1}, "alkene": {"C": 2, "H": 2},
    "siloxane": {"Si": 1, "O": 1, "C": 2, "H": 6},
}
GAS_TRIES = 8              # winners tried per gas draw before giving up
_CHUNK = 512
_GROUP_INDEX = {group: i for i, group in enumerate(GROUP_COLUMNS)}
_GROUP_OF = {column: group for group, column in GROUP_COLUMNS.items()}
_ELEMENT = re.compile(r"([A-Z][a-z]?)(\d*)")


# --- per-pool look-ups (built once, cached on the Pools object) ---------------------------------------

@dataclass
class _Values:
    """Measured medians of the split's linear polymers, indexed for cheap draws."""

    value: dict[Key, float]
    sources: dict[Key, list[str]]
    by_pk: dict[tuple[str, str], np.ndarray]       # (property, kind) -> polymer ids with a value
    pks_of: dict[int, list[tuple[str, str]]]       # polymer id -> its (property, kind)s
    groups: dict[int, np.ndarray]                  # polymer id -> group counts, in GROUP_COLUMNS order


def _cached(pools: Pools, name: str, build: Callable[[Pools], T]) -> T:
    """One look-up per Pools object and name, built on first use."""
    cache = pools.cache.setdefault("reasoning", {})
    if name not in cache:
        cache[name] = build(pools)
    return cache[name]


def _build_values(pools: Pools) -> _Values:
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
    return _Values(value, sources, {k: np.array(ids) for k, ids in by_pk.items()}, pks_of, groups)


def _values(pools: Pools) -> _Values:
    return _cached(pools, "values", _build_values)


def _sources(look: _Values, keys: list[Key]) -> list[str]:
    return sorted({s for k in keys for s in look.sources.get(k, [])})


# --- wording and thresholds -----------------------------------------------------------------------------

def _what(prop: str, kind: str) -> str:
    """'experimental glass transition temperature (tg)'."""
    description = get_property(prop).description.replace(" (DFT)", "")
    return f"{KIND_WORDS.get(kind, kind)} {description} ({prop})"


def _unit(unit: str | None) -> str:
    text = UNIT_WORDS.get(unit or "-", unit or "")
    return f" {text}" if text else ""


def _in_unit(unit: str) -> str:
    """' in K' for a look-up question; nothing for dimensionless values."""
    return f" in{_unit(unit)}" if _unit(unit) else ""


def _group_words(group: str) -> str:
    return f"{group.replace('_', ' ')} ({FUNCTIONAL_GROUPS[group].description})"


def _excluded(prop: str, value: float) -> tuple[float, float]:
    """The interval around a value that a threshold must avoid: one tolerance on either side."""
    if get_property(prop).log_scale:
        factor = 10**LOG_TOLERANCE
        return value / factor, value * factor
    tol = tolerance_for(prop, value)["tolerance"]
    return value - tol, value + tol


def _clear_of(prop: str, value: float, bound: float) -> bool:
    lo, hi = _excluded(prop, value)
    return not lo < bound < hi


def _round_between(lo: float, hi: float) -> float | None:
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


def _cuts(prop: str, values: list[float]) -> list[float]:
    """Round thresholds, one per gap of the sorted values, each clear of every value by one tolerance."""
    ordered = sorted(values)
    cuts = []
    for below, above in pairwise(ordered):
        x = _round_between(_excluded(prop, below)[1], _excluded(prop, above)[0])
        if x is not None:
            cuts.append(x)
    return cuts


def _meets(c: Constraint, pools: Pools, look: _Values, pid: int) -> bool:
    """Whether a polymer meets one filter constraint (values in the constraint's, i.e. canonical, unit)."""
    if c.type == "property_range":
        v = look.value[(pid, c.property, c.kind)]
        return (c.min is None or v >= c.min) and (c.max is None or v <= c.max)
    present = bool(look.groups[pid][_GROUP_INDEX[c.group]] > 0)
    return present if c.type == "require_group" else not present


def _range_text(c: Constraint) -> str:
    what, unit = _what(c.property, c.kind), _unit(c.unit)
    if c.min is not None and c.max is not None:
        return f"{what} between {c.min:g} and {c.max:g}{unit}"
    return f"{what} at least {c.min:g}{unit}" if c.min is not None else f"{what} at most {c.max:g}{unit}"


def _constraint_text(c: Constraint) -> str:
    if c.type == "property_range":
        return _range_text(c)
    if c.type == "require_group":
        return f"the repeat unit contains at least one {_group_words(c.group)}"
    return f"the repeat unit contains no {_group_words(c.group)}"


class _Base:
    category = "advanced_reasoning"
    version = "1"

    def check(self, ctx: TemplateContext, task: Task) -> str | None:
        return None

    def compose_from_subs(self, task: Task) -> Answer | None:
        return None


# --- 1. multi-constraint filtering ----------------------------------------------------------------------

def _range_constraint(prop: str, kind: str, values: list[float], rng: np.random.Generator) -> Constraint | None:
    cuts = _cuts(prop, values)
    if not cuts:
        return None
    unit = get_property(prop).unit
    if len(cuts) >= 2 and rng.random() < 1 / 3:
        lo, hi = sorted(rng.choice(len(cuts), size=2, replace=False))
        return Constraint(type="property_range", property=prop, kind=kind, unit=unit, min=cuts[lo], max=cuts[hi])
    cut = cuts[int(rng.integers(len(cuts)))]
    side = "min" if rng.random() < 0.5 else "max"
    return Constraint(type="property_range", property=prop, kind=kind, unit=unit, **{side: cut})


def _group_constraint(look: _Values, ids: list[int], rng: np.random.Generator,
                      exclude: str | None = None) -> Constraint | None:
    share = np.sum([look.groups[i] > 0 for i in ids], axis=0)
    mixed = [g for g, n in zip(GROUP_COLUMNS, share) if 0 < n < len(ids) and g != exclude]
    if not mixed:
        return None
    group = mixed[int(rng.integers(len(mixed)))]
    return Constraint(type="require_group" if rng.random() < 0.5 else "forbid_group", group=group)


def _build_filter_seeds(pools: Pools) -> list[tuple[str, str]]:
    """(property, kind)s with enough polymers whose values spread over several tolerances (so they split)."""
    look, seeds = _values(pools), []
    for (prop, kind), ids in sorted(look.by_pk.items()):
        if len(ids) < FILTER_MIN_POLYMERS:
            continue
        low, mid, high = np.percentile([look.value[(int(i), prop, kind)] for i in ids], [10, 50, 90])
        if get_property(prop).log_scale:
            spread = math.log10(high / low) / LOG_TOLERANCE if low > 0 else 0.0
        else:
            tol = tolerance_for(prop, mid)["tolerance"]
            spread = (high - low) / tol if tol > 0 else 0.0
        if spread >= FILTER_MIN_SPREAD:
            seeds.append((prop, kind))
    return seeds


@register
class ConstraintFilter(_Base):
    """Which of 4-5 polymers meet all of 2-3 constraints (property ranges with kind, required / forbidden groups)?"""

    name = "constraint_filter"

    def sample(self, ctx: TemplateContext, rng: np.random.Generator) -> Draw | Rejected:
        pools, look = ctx.pools, _values(ctx.pools)
        seeds = _cached(pools, "filter_seeds", _build_filter_seeds)
        if not seeds:
            return Rejected("no property with enough spread-out values")
        prop, kind = seeds[int(rng.integers(len(seeds)))]
        ids = [int(i) for i in rng.choice(look.by_pk[(prop, kind)], size=int(rng.integers(4, 6)), replace=False)]
        shape = int(rng.integers(3))  # 0: range + group, 1: range + range, 2: range + range (or group) + group
        picked = [_range_constraint(prop, kind, [look.value[(i, prop, kind)] for i in ids], rng)]
        if shape >= 1:
            common = sorted(set.intersection(*(set(look.pks_of[i]) for i in ids)) & set(seeds) - {(prop, kind)})
            if common:
                p2, k2 = common[int(rng.integers(len(common)))]
                picked.append(_range_constraint(p2, k2, [look.value[(i, p2, k2)] for i in ids], rng))
        if shape != 1 or len(picked) == 1:
            picked.append(_group_constraint(look, ids, rng))
        if shape == 2 and len(picked) == 2:
            picked.append(_group_constraint(look, ids, rng, exclude=picked[1].group if picked[1] else None))
        if any(c is None for c in picked):
            return Rejected("no clear threshold or no group that splits the polymers")
        n_ok = sum(all(_meets(c, pools, look, i) for c in picked) for i in ids)
        if n_ok in (0, len(ids)):
            return Rejected("none or all polymers meet the constraints")
        return Draw(ids, {"constraints": picked})

    def compose(self, ctx: TemplateContext, draw: Draw) -> Task | Rejected:
        pools, look = ctx.pools, _values(ctx.pools)
        constraints: list[Constraint] = draw.params["constraints"]
        labels = [f"P{n + 1}" for n in range(len(draw.polymer_ids))]
        subs, gold, keys = [], [], []
        for label, pid in zip(labels, draw.polymer_ids):
            ok = True
            for j, c in enumerate(constraints, 1):
                base, meets = f"{label}.c{j}", _meets(c, pools, look, pid)
                ok &= meets
                if c.type == "property_range":
                    key = (pid, c.property, c.kind)
                    keys.append(key)
                    value = look.value[key]
                    subs.append(SubQuestion(
                        id=f"{base}.value", skill="look-up-property",
                        question=f"What is the {_what(c.property, c.kind)} of {label}{_in_unit(c.unit)}?",
                        gold=Answer(type="number", number=value, unit=c.unit, **tolerance_for(c.property, value))))
                else:
                    present = bool(look.groups[pid][_GROUP_INDEX[c.group]] > 0)
                    subs.append(SubQuestion(
                        id=f"{base}.group", skill="identify-linkage",
                        question=f"Does the repeat unit of {label} contain at least one {_group_words(c.group)}?",
                        gold=Answer(type="yes_no", yes=present)))
                subs.append(SubQuestion(id=f"{base}.check", skill="check-constraint",
                                        question=f"Does {label} meet constraint {j}?",
                                        gold=Answer(type="yes_no", yes=meets), depends_on=[subs[-1].id]))
            if ok:
                gold.append(label)
        listed = "\n".join(f"{j}. {_constraint_text(c)}" for j, c in enumerate(constraints, 1))
        shown = "\n".join(f"{label}: {pools.display_name(pid)}" for label, pid in zip(labels, draw.polymer_ids))
        question = (f"Which of these polymers meet every constraint below? Property values are the knowledge "
                    f"base's medians of the stated kind of data.\nConstraints:\n{listed}\nPolymers:\n{shown}\n"
                    f"Answer with the labels of all polymers that meet every constraint.")
        return make_task(self, ctx, difficulty=1 + len(constraints), question=question,
                         gold=Answer(type="set", items=gold), sub_questions=subs, constraints=constraints,
                         composition="a polymer is in the answer when all of its constraint checks are yes",
                         polymer_ids=draw.polymer_ids, source_ids=_sources(look, keys))

    def compose_from_subs(self, task: Task) -> Answer:
        verdict: dict[str, bool] = {}
        for sub in task.sub_questions:
            label = sub.id.split(".")[0]
            verdict[label] = verdict.get(label, True) and (not sub.id.endswith(".check") or bool(sub.gold.yes))
        return Answer(type="set", items=[label for label, ok in verdict.items() if ok])

    def check(self, ctx: TemplateContext, task: Task) -> str | None:
        pools, look = ctx.pools, _values(ctx.pools)
        for c in task.constraints:
            if c.type != "property_range":
                continue
            for pid in task.polymer_ids:
                v = look.value[(pid, c.property, c.kind)]
                if not all(_clear_of(c.property, v, b) for b in (c.min, c.max) if b is not None):
                    return "a value lies within one tolerance of a bound"
        labels = [f"P{n + 1}" for n, pid in enumerate(task.polymer_ids)
                  if all(_meets(c, pools, look, pid) for c in task.constraints)]
        return None if set(labels) == set(task.gold.items or []) else "gold differs from the pools"


# --- 2. gas-separation trade-off -----------------------------------------------------------------------

def _build_gas(pools: Pools) -> dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(gas A, gas B, kind) -> polymer ids, P(A), P(B) for polymers with both permeabilities of that kind."""
    look, table = _values(pools), {}
    for a, b in GAS_PAIRS:
        for kind in ("experimental", "md_simulated"):
            ids = [int(i) for i in look.by_pk.get((f"perm_{a}", kind), []) if (i, f"perm_{b}", kind) in look.value]
            if len(ids) >= 4:
                table[(a, b, kind)] = (np.array(ids), np.array([look.value[(i, f"perm_{a}", kind)] for i in ids]),
                                       np.array([look.value[(i, f"perm_{b}", kind)] for i in ids]))
    return table


def _best_above(log_pa: np.ndarray, log_sel: np.ndarray, threshold: float) -> int | None:
    """Index of the clearly most selective polymer among those clearly above the threshold, else None."""
    log_x = math.log10(threshold)
    if np.any(np.abs(log_pa - log_x) < LOG_TOLERANCE):
        return None
    above = np.flatnonzero(log_pa > log_x)
    if len(above) < 2 or len(above) == len(log_pa):
        return None
    ranked = above[np.argsort(-log_sel[above])]
    return int(ranked[0]) if log_sel[ranked[0]] - log_sel[ranked[1]] >= GAP_FACTOR * LOG_TOLERANCE else None


def _gas_candidates(log_pa: np.ndarray, log_sel: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Four rows built around a random winner: 1-2 clearly less selective rows clearly above a permeability
    level below the winner, the rest clearly below that level (preferring more selective ones: the trade-off)."""
    for _ in range(GAS_TRIES):
        winner = int(rng.integers(len(log_pa)))
        level = log_pa[winner] - LOG_TOLERANCE - rng.uniform(0, 1.5)
        above = np.flatnonzero((log_pa >= level + LOG_TOLERANCE)
                               & (log_sel <= log_sel[winner] - GAP_FACTOR * LOG_TOLERANCE))
        below = np.flatnonzero(log_pa <= level - LOG_TOLERANCE)
        n_above = min(int(rng.integers(1, 3)), len(above))
        if n_above and len(below) >= 3 - n_above:
            break
    else:
        return None
    selective = below[log_sel[below] > log_sel[winner]]
    first = list(rng.choice(selective, size=1)) if len(selective) and rng.random() < 0.7 else []
    rest = np.setdiff1d(below, first)
    if len(rest) < 3 - n_above - len(first):
        return None
    picked = [winner, *rng.choice(above, size=n_above, replace=False), *first,
              *rng.choice(rest, size=3 - n_above - len(first), replace=False)]
    return np.array(picked)


@register
class GasTradeoff(_Base):
    """Among polymers with P(A) above X Barrer, which has the highest A/B selectivity? (the trade-off)."""

    name = "gas_selectivity_tradeoff"

    def sample(self, ctx: TemplateContext, rng: np.random.Generator) -> Draw | Rejected:
        table = _cached(ctx.pools, "gas", _build_gas)
        if not table:
            return Rejected("no gas pair with 4 polymers")
        keys = sorted(table)
        a, b, kind = keys[int(rng.integers(len(keys)))]
        ids, pa, pb = table[(a, b, kind)]
        pick = _gas_candidates(np.log10(pa), np.log10(pa / pb), rng)
        if pick is None:
            return Rejected("no polymers fit around the chosen winner")
        log_pa, log_sel = np.log10(pa[pick]), np.log10(pa[pick] / pb[pick])
        found = []
        for x in _cuts(f"perm_{a}", list(pa[pick])):
            best = _best_above(log_pa, log_sel, x)
            if best is not None:
                found.append((bool(log_sel.max() > log_sel[best]), x, best))
        if not found:
            return Rejected("no threshold leaves a clearly most selective polymer")
        tradeoff = [f for f in found if f[0]]  # prefer the cases where the most selective one is too slow
        _, x, _ = (tradeoff or found)[int(rng.integers(len(tradeoff or found)))]
        return Draw([int(ids[i]) for i in pick], {"gases": (a, b), "kind": kind, "threshold": x,
                                                  "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx: TemplateContext, draw: Draw) -> Task | Rejected:
        look = _values(ctx.pools)
        (a, b), kind, x = draw.params["gases"], draw.params["kind"], draw.params["threshold"]
        ga, gb = gas_of(f"perm_{a}"), gas_of(f"perm_{b}")
        order = [draw.polymer_ids[i] for i in np.random.default_rng(draw.params["seed"]).permutation(4)]
        pa = [look.value[(p, f"perm_{a}", kind)] for p in order]
        pb = [look.value[(p, f"perm_{b}", kind)] for p in order]
        best = _best_above(np.log10(pa), np.log10(np.array(pa) / np.array(pb)), x)
        if best is None:
            return Rejected("no clearly most selective polymer")
        words = KIND_WORDS.get(kind, kind)
        options = lettered([ctx.pools.display_name(p) for p in order])
        subs = []
        for letter, p, va, vb in zip(LETTERS, order, pa, pb):
            subs += [
                SubQuestion(id=f"{letter}.perm_{a}", skill="look-up-property",
                            question=f"What is the {_what(f'perm_{a}', kind)} of option {letter} in Barrer?",
                            gold=Answer(type="number", number=va, unit="Barrer", log_tolerance=LOG_TOLERANCE)),
                SubQuestion(id=f"{letter}.perm_{b}", skill="look-up-property",
                            question=f"What is the {_what(f'perm_{b}', kind)} of option {letter} in Barrer?",
                            gold=Answer(type="number", number=vb, unit="Barrer", log_tolerance=LOG_TOLERANCE)),
                SubQuestion(id=f"{letter}.selectivity", skill="compose",
                            question=f"What is the {ga}/{gb} selectivity P({ga})/P({gb}) of option {letter}?",
                            gold=Answer(type="number", number=va / vb, log_tolerance=LOG_TOLERANCE),
                            depends_on=[f"{letter}.perm_{a}", f"{letter}.perm_{b}"]),
                SubQuestion(id=f"{letter}.above", skill="check-constraint",
                            question=f"Is the {ga} permeability of option {letter} above {x:g} Barrer?",
                            gold=Answer(type="yes_no", yes=va > x), depends_on=[f"{letter}.perm_{a}"]),
            ]
        gold = Answer(type="choice", choice=LETTERS[best])
        subs.append(SubQuestion(
            id="best", skill="compare", gold=gold,
            question=f"Among the options above {x:g} Barrer, which has the highest {ga}/{gb} selectivity?",
            depends_on=[s.id for s in subs if s.id.endswith((".selectivity", ".above"))]))
        question = (f"Gas separation, {ga}/{gb}: a polymer's ideal selectivity is P({ga})/P({gb}), the ratio of "
                    f"its {words} {ga} and {gb} permeabilities (the knowledge base's medians, in Barrer). Among "
                    f"the polymers below whose {words} {ga} permeability is above {x:g} Barrer, which one has "
                    f"the highest {ga}/{gb} selectivity?\n" + "\n".join(options))
        constraint = Constraint(type="property_range", property=f"perm_{a}", kind=kind, unit="Barrer", min=x)
        keys = [(p, f"perm_{g}", kind) for p in order for g in (a, b)]
        return make_task(self, ctx, difficulty=4, question=question, gold=gold, sub_questions=subs,
                         options=options, constraints=[constraint],
                         composition="the option with the largest selectivity among those above the threshold",
                         polymer_ids=order, source_ids=_sources(look, keys))

    def compose_from_subs(self, task: Task) -> Answer:
        gold = {s.id: s.gold for s in task.sub_questions}
        letters = [s.id.split(".")[0] for s in task.sub_questions if s.id.endswith(".above") and s.gold.yes]
        best = max(letters, key=lambda letter: gold[f"{letter}.selectivity"].number)
        return Answer(type="choice", choice=best)

    def check(self, ctx: TemplateContext, task: Task) -> str | None:
        look, c = _values(ctx.pools), task.constraints[0]
        other = next(s.id.split(".", 1)[1] for s in task.sub_questions
                     if s.id.startswith("A.perm_") and s.id != f"A.{c.property}")
        pa = np.array([look.value[(p, c.property, c.kind)] for p in task.polymer_ids])
        pb = np.array([look.value[(p, other, c.kind)] for p in task.polymer_ids])
        best = _best_above(np.log10(pa), np.log10(pa / pb), c.min)
        if best is None or LETTERS[best] != task.gold.choice:
            return "not exactly one clearly best option"
        return None


# --- 3. structural change from matched pairs -----------------------------------------------------------

@dataclass(frozen=True)
class _Pair:
    """Polymer b is polymer a plus a small change (labels such as 'phenyl +1', 'CH2 -2'); both have the value."""

    a: int
    b: int
    change: tuple[str, ...]
    prop: str
    kind: str


def _elements(formula: str) -> Counter:
    return Counter({el: int(n or 1) for el, n in _ELEMENT.findall(formula)})


def _change(delta: np.ndarray, ca: Counter, cb: Counter, columns: list[str]) -> tuple[str, ...] | None:
    """What b has more of than a, when that is all: one group (phenyl counted with its aromatic ring) added
    k times with its own atoms (CLEAN_CHANGES), plus or minus up to MAX_CH2 CH2 units; or only CH2 units."""
    changed = {columns[i]: int(delta[i]) for i in np.flatnonzero(delta)}
    if set(changed) == {"n_phenyl", "aromatic_rings"} and changed["n_phenyl"] == changed["aromatic_rings"]:
        changed = {"n_phenyl": changed["n_phenyl"]}
    rest = Counter(cb)
    rest.subtract(ca)
    labels: tuple[str, ...] = ()
    if len(changed) == 1:
        (column, k), = changed.items()
        group = _GROUP_OF[column]
        if k <= 0 or group not in CLEAN_CHANGES:
            return None
        rest.subtract({el: n * k for el, n in CLEAN_CHANGES[group].items()})
        labels = (f"{group} +{k}",)
    elif changed:
        return None
    rest = {el: n for el, n in rest.items() if n}
    if rest and (set(rest) != {"C", "H"} or rest["H"] != 2 * rest["C"] or abs(rest["C"]) > MAX_CH2):
        return None
    ch2 = rest.get("C", 0)
    if not labels:
        return (f"CH2 +{ch2}",) if ch2 > 0 else None
    return (*labels, f"CH2 {ch2:+d}") if ch2 else labels


def _similar(bits: np.ndarray, heavy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs i < j with Tanimoto >= SIMILARITY_MIN and at most MAX_HEAVY_DELTA heavy atoms apart.

    `bits` holds 0/1 float32 fingerprint rows sorted by `heavy`, so each chunk of rows is compared only
    with the band of later rows close enough in size.
    """
    counts = bits.sum(axis=1)
    found_i, found_j = [], []
    for start in range(0, len(bits), _CHUNK):
        end = min(start + _CHUNK, len(bits))
        stop = int(np.searchsorted(heavy, heavy[end - 1] + MAX_HEAVY_DELTA, side="right"))
        inter = bits[start:end] @ bits[start:stop].T
        tanimoto = inter / (counts[start:end, None] + counts[None, start:stop] - inter)
        i, j = np.nonzero(tanimoto >= SIMILARITY_MIN)
        i, j = i + start, j + start
        keep = (j > i) & (heavy[j] - heavy[i] <= MAX_HEAVY_DELTA)
        found_i.append(i[keep])
        found_j.append(j[keep])
    return np.concatenate(found_i), np.concatenate(found_j)


def _build_pairs(pools: Pools) -> list[_Pair]:
    """Matched pairs of measured polymers (Tanimoto >= SIMILARITY_MIN, one small change), one per clearly
    different shared value; orientated so that b has more of the change than a."""
    look = _values(pools)
    if len(look.pks_of) < 2:
        return []
    rows = pools.polymers.loc[sorted(look.pks_of)].sort_values("heavy_atoms", kind="stable")
    ids = rows.index.tolist()
    bits = np.stack([np.unpackbits(np.frombuffer(fingerprint_of(k), dtype=np.uint8)) for k in rows["key"]])
    columns = list(GROUP_COLUMNS.values())
    groups = rows[columns].fillna(0).to_numpy(dtype=np.int64)
    heavy = rows["heavy_atoms"].to_numpy(dtype=np.int64)
    formulas = [_elements(f) for f in rows["formula"]]
    carbons, hydrogens = (np.array([f[el] for f in formulas]) for el in ("C", "H"))
    others = np.array([hash(tuple(sorted((el, n) for el, n in f.items() if el not in "CH"))) for f in formulas])
    first, second = _similar(bits.astype(np.float32), heavy)
    # cheap vectorised screens before the exact check: small size change, <= 2 group counts differ
    # (phenyl + its aromatic ring) or none and a CH2 homologue
    delta = groups[second] - groups[first]
    n_changed = np.count_nonzero(delta, axis=1)
    phenyl, aromatic = columns.index("n_phenyl"), columns.index("aromatic_rings")
    ring_added = (n_changed == 2) & (delta[:, phenyl] == delta[:, aromatic])
    dc, dh = carbons[second] - carbons[first], hydrogens[second] - hydrogens[first]
    homologue = ((n_changed == 0) & (others[first] == others[second]) & (dh == 2 * dc) & (dc != 0)
                 & (np.abs(dc) <= MAX_CH2))
    keep = (n_changed == 1) | ring_added | homologue
    flip = np.where(homologue, dc < 0, delta.sum(axis=1) < 0)  # orient: b has more of the change
    measured = {pid: set(pks) for pid, pks in look.pks_of.items()}
    pairs = []
    for i, j, swap in zip(first[keep].tolist(), second[keep].tolist(), flip[keep].tolist()):
        a, b = (j, i) if swap else (i, j)
        found = _change(groups[b] - groups[a], formulas[a], formulas[b], columns)
        if found is None:
            continue
        pa, pb = ids[a], ids[b]
        for prop, kind in sorted(measured[pa] & measured[pb]):
            if clearly_different(prop, look.value[(pa, prop, kind)], look.value[(pb, prop, kind)]):
                pairs.append(_Pair(pa, pb, found, prop, kind))
    return sorted(pairs, key=lambda p: (p.a, p.b, p.prop, p.kind))


def _change_words(change: tuple[str, ...]) -> str:
    """('phenyl +1', 'CH2 -2') -> '1 more phenyl (benzene ring ...) and 2 fewer CH2 units'."""
    words = []
    for label in change:
        group, count = label.rsplit(" ", 1)
        n = int(count)
        if group in HALOGENS or group == "CH2":
            what = (HALOGENS.get(group) or "CH2 unit") + ("s" if abs(n) > 1 else "")
        else:
            what = _group_words(group)
        words.append(f"{abs(n)} {'more' if n > 0 else 'fewer'} {what}")
    return " and ".join(words)


INCREASES, DECREASES = "It increases: B's value is higher than A's", "It decreases: B's value is lower than A's"


@register
class StructureChangeEffect(_Base):
    """A matched pair from the split: does the small structural change from A to B raise or lower a property?"""

    name = "structure_change_effect"

    def sample(self, ctx: TemplateContext, rng: np.random.Generator) -> Draw | Rejected:
        pairs = _cached(ctx.pools, "pairs", _build_pairs)
        if not pairs:
            return Rejected("no matched pairs in the split")
        pair = pairs[int(rng.integers(len(pairs)))]
        return Draw([pair.a, pair.b], {"pair": pair, "seed": int(rng.integers(1 << 30))})

    def compose(self, ctx: TemplateContext, draw: Draw) -> Task | Rejected:
        look, pair = _values(ctx.pools), draw.params["pair"]
        va, vb = look.value[(pair.a, pair.prop, pair.kind)], look.value[(pair.b, pair.prop, pair.kind)]
        unit, what = get_property(pair.prop).unit, _what(pair.prop, pair.kind)
        options = [INCREASES, DECREASES]
        if np.random.default_rng(draw.params["seed"]).random() < 0.5:
            options.reverse()
        gold = Answer(type="choice", choice=LETTERS[options.index(INCREASES if vb > va else DECREASES)])
        subs = [
            SubQuestion(id="change", skill="identify-linkage", gold=Answer(type="set", items=list(pair.change)),
                        question="How does the repeat unit of B differ from A's? List each functional group, linkage "
                                 "or halogen whose count per repeat unit differs as '<group> +<n>' (B minus A, the "
                                 "knowledge base's group names) and any remaining difference in CH2 units as "
                                 "'CH2 +<n>' or 'CH2 -<n>'."),
            SubQuestion(id="value_a", skill="look-up-property", question=f"What is the {what} of A{_in_unit(unit)}?",
                        gold=Answer(type="number", number=va, unit=unit, **tolerance_for(pair.prop, va))),
            SubQuestion(id="value_b", skill="look-up-property", question=f"What is the {what} of B{_in_unit(unit)}?",
                        gold=Answer(type="number", number=vb, unit=unit, **tolerance_for(pair.prop, vb))),
            SubQuestion(id="compare", skill="compare", question="Is B's value higher than A's?",
                        gold=Answer(type="yes_no", yes=vb > va), depends_on=["value_a", "value_b"]),
            SubQuestion(id="effect", skill="structure-effect", gold=gold, depends_on=["change", "compare"],
                        question=f"So what does this change (B has {_change_words(pair.change)} than A) do "
                                 f"to the {what}?"),
        ]
        question = (f"Polymer A is {ctx.pools.display_name(pair.a)}. Polymer B, a close structural analogue, is "
                    f"{ctx.pools.display_name(pair.b)}. Judging by the knowledge base's {what} values, does the "
                    f"structural change from A to B increase or decrease this property?")
        return make_task(self, ctx, difficulty=3, question=question, gold=gold, options=lettered(options),
                         sub_questions=subs, polymer_ids=[pair.a, pair.b],
                         composition="increases when B's value is higher than A's",
                         source_ids=_sources(look, [(pair.a, pair.prop, pair.kind), (pair.b, pair.prop, pair.kind)]))

    def compose_from_subs(self, task: Task) -> Answer:
        higher = next(s.gold.yes for s in task.sub_questions if s.id == "compare")
        texts = [o.split(") ", 1)[1] for o in task.options or []]
        return Answer(type="choice", choice=LETTERS[texts.index(INCREASES if higher else DECREASES)])

    def check(self, ctx: TemplateContext, task: Task) -> str | None:
        pools, look = ctx.pools, _values(ctx.pools)
        a, b = task.polymer_ids
        change = next(s.gold.items for s in task.sub_questions if s.id == "change")
        found = _change(look.groups[b] - look.groups[a], _elements(pools.polymers.at[a, "formula"]),
                        _elements(pools.polymers.at[b, "formula"]), list(GROUP_COLUMNS.values()))
        if found is None or list(found) != change:
            return "the structural change does not match the pair"
        va, vb = (next(s.gold.number for s in task.sub_questions if s.id == i) for i in ("value_a", "value_b"))
        shared = [prop for prop, kind in look.pks_of[a]
                  if look.value[(a, prop, kind)] == va and look.value.get((b, prop, kind)) == vb]
        if not shared or not clearly_different(shared[0], va, vb):
            return "values are not the pools' or not clearly different"
        return None


# --- 4. thresholds stated in another unit --------------------------------------------------------------

def _build_unit_rows(pools: Pools) -> list[Key]:
    return sorted(k for k in _values(pools).value if k[1] in ALT_UNITS)


def _threshold(prop: str, value: float, above: bool, alt: str, rng: np.random.Generator) -> float | None:
    """A round threshold in `alt` that the value clears by 1.05-5 tolerances on the chosen side."""
    p = get_property(prop)
    if p.log_scale:
        near, far = 10 ** (1.05 * LOG_TOLERANCE), 10 ** (rng.uniform(1.5, 5) * LOG_TOLERANCE)
        lo, hi = (value / far, value / near) if above else (value * near, value * far)
    else:
        tol = tolerance_for(prop, value)["tolerance"]
        reach = rng.uniform(1.5, 5) * tol
        lo, hi = (value - reach, value - 1.05 * tol) if above else (value + 1.05 * tol, value + reach)
    lo, hi = max(lo, p.min_value), min(hi, p.max_value)
    if not lo < hi:
        return None
    return _round_between(*sorted((convert(lo, p.unit, alt), convert(hi, p.unit, alt))))


@register
class UnitThreshold(_Base):
    """Is a measured value above / below a threshold given in another unit (e.g. Tg in K vs 150 degC)?"""

    name = "unit_threshold"

    def sample(self, ctx: TemplateContext, rng: np.random.Generator) -> Draw | Rejected:
        rows = _cached(ctx.pools, "unit_rows", _build_unit_rows)
        if not rows:
            return Rejected("no values with another common unit")
        pid, prop, kind = rows[int(rng.integers(len(rows)))]
        value = _values(ctx.pools).value[(pid, prop, kind)]
        alts = ALT_UNITS[prop]
        alt = alts[int(rng.integers(len(alts)))]
        above = bool(rng.random() < 0.5)           # is the value above the threshold?
        x = _threshold(prop, value, above, alt, rng)
        if x is None or not _clear_of(prop, value, convert(x, alt, get_property(prop).unit)):
            return Rejected("no round threshold clear of the value")
        ask = "min" if rng.random() < 0.5 else "max"  # asked as 'above x' or 'below x'
        return Draw([pid], {"key": (pid, prop, kind), "constraint": Constraint(
            type="property_range", property=prop, kind=kind, unit=alt, **{ask: x})})

    def compose(self, ctx: TemplateContext, draw: Draw) -> Task | Rejected:
        look = _values(ctx.pools)
        (pid, prop, kind), c = draw.params["key"], draw.params["constraint"]
        value, unit = look.value[(pid, prop, kind)], get_property(prop).unit
        converted = convert(value, unit, c.unit)
        if get_property(prop).log_scale:
            tol = {"log_tolerance": LOG_TOLERANCE}
        else:
            tol = {"tolerance": abs(convert(value + tolerance_for(prop, value)["tolerance"], unit, c.unit) - converted)}
        x, word = (c.min, "above") if c.min is not None else (c.max, "below")
        yes = converted > x if c.min is not None else converted < x
        what = _what(prop, kind)
        subs = [
            SubQuestion(id="value", skill="look-up-property", question=f"What is the {what}{_in_unit(unit)}?",
                        gold=Answer(type="number", number=value, unit=unit, **tolerance_for(prop, value))),
            SubQuestion(id="convert", skill="convert-unit", question=f"What is that value in{_unit(c.unit)}?",
                        gold=Answer(type="number", number=converted, unit=c.unit, **tol), depends_on=["value"]),
            SubQuestion(id="check", skill="check-constraint", question=f"Is it {word} {x:g}{_unit(c.unit)}?",
                        gold=Answer(type="yes_no", yes=yes), depends_on=["convert"]),
        ]
        question = f"Is the {what} of {ctx.pools.display_name(pid)} {word} {x:g}{_unit(c.unit)}?"
        return make_task(self, ctx, difficulty=3, question=question, gold=Answer(type="yes_no", yes=yes),
                         sub_questions=subs, constraints=[c], polymer_ids=[pid],
                         composition="compare the converted value with the threshold",
                         source_ids=_sources(look, [(pid, prop, kind)]))

    def compose_from_subs(self, task: Task) -> Answer:
        converted, c = task.sub_questions[1].gold.number, task.constraints[0]
        return Answer(type="yes_no", yes=converted > c.min if c.min is not None else converted < c.max)

    def check(self, ctx: TemplateContext, task: Task) -> str | None:
        c = task.constraints[0]
        value = _values(ctx.pools).value[(task.polymer_ids[0], c.property, c.kind)]
        x = convert(c.min if c.min is not None else c.max, c.unit, get_property(c.property).unit)
        if not _clear_of(c.property, value, x):
            return "value within one tolerance of the threshold"
        expected = value > x if c.min is not None else value < x
        return None if expected == task.gold.yes else "gold differs from the pools"
