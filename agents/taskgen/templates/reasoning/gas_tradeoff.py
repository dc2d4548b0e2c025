"""Gas-separation trade-off: permeability against selectivity for a gas pair, on measured values."""

from __future__ import annotations

import math

import numpy as np

from agents.schema import Answer, Constraint, SubQuestion, Task, TaskParams
from agents.taskgen.base import (
    LETTERS,
    Draw,
    Rejected,
    TemplateContext,
    ids_in_question_order,
    lettered,
    make_task,
    polymer_refs,
)
from agents.taskgen.lookup import measured
from agents.taskgen.pools import Pools
from agents.taskgen.registry import register
from agents.taskgen.templates.reasoning.common import (
    ReasoningTemplate,
    cached_lookup,
    threshold_cuts,
)
from agents.taskgen.tolerances import GAP_FACTOR, LOG_TOLERANCE
from agents.taskgen.wording import KIND_WORDS, property_phrase
from kb.properties import gas_of

GAS_PAIRS = (("co2", "ch4"), ("o2", "n2"), ("h2", "n2"), ("co2", "n2"), ("h2", "ch4"), ("he", "n2"))
GAS_TRIES = 8              # winners tried per gas draw before giving up


# --- 2. gas-separation trade-off -----------------------------------------------------------------------

def _build_gas(pools: Pools) -> dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(gas A, gas B, kind) -> polymer ids, P(A), P(B) for polymers with both permeabilities of that kind."""
    look, table = measured(pools), {}
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
class GasTradeoff(ReasoningTemplate):
    """Among polymers with P(A) above X Barrer, which has the highest A/B selectivity? (the trade-off)."""

    name = "gas_selectivity_tradeoff"

    def sample(self, ctx: TemplateContext, rng: np.random.Generator) -> Draw | Rejected:
        table = cached_lookup(ctx.pools, "gas", _build_gas)
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
        for x in threshold_cuts(f"perm_{a}", list(pa[pick])):
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
        look = measured(ctx.pools)
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
                            question=f"What is the {property_phrase(f'perm_{a}', kind)} of option {letter} in Barrer?",
                            gold=Answer(type="number", number=va, unit="Barrer", log_tolerance=LOG_TOLERANCE)),
                SubQuestion(id=f"{letter}.perm_{b}", skill="look-up-property",
                            question=f"What is the {property_phrase(f'perm_{b}', kind)} of option {letter} in Barrer?",
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
                         polymer_ids=order, source_ids=look.sources_of(keys),
                         params=TaskParams(polymers=polymer_refs(ctx.pools, order, list(LETTERS[:4])),
                                           property=f"perm_{a}", kind=kind, unit="Barrer", gases=[ga, gb],
                                           threshold=x, asked="most_selective"))

    def compose_from_subs(self, task: Task) -> Answer:
        gold = {s.id: s.gold for s in task.sub_questions}
        letters = [s.id.split(".")[0] for s in task.sub_questions if s.id.endswith(".above") and s.gold.yes]
        best = max(letters, key=lambda letter: gold[f"{letter}.selectivity"].number)
        return Answer(type="choice", choice=best)

    def check(self, ctx: TemplateContext, task: Task) -> str | None:
        look, p = measured(ctx.pools), task.params
        first, second = (f"perm_{g.lower()}" for g in p.gases)
        ids = ids_in_question_order(task)
        pa = np.array([look.value[(i, first, p.kind)] for i in ids])
        pb = np.array([look.value[(i, second, p.kind)] for i in ids])
        best = _best_above(np.log10(pa), np.log10(pa / pb), p.threshold)
        if best is None or LETTERS[best] != task.gold.choice:
            return "not exactly one clearly best option"
        return None
