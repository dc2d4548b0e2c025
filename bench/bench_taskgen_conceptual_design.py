"""Speed and capacity of the conceptual-knowledge and synthesis-design task templates on one split.

    python -m bench.bench_taskgen_conceptual_design                        # .polybench/kb, train, 3000 draws
    python -m bench.bench_taskgen_conceptual_design --split test --draws 1000

Per template: draws/s of sample + compose + validate (the generator's work per draw, after the one-off
lookups are built), the share of draws that end as new distinct tasks, and the capacity: how many
distinct tasks the split can give (counted from the lookups; '>' marks a lower bound). Baseline, measured
in the same run on the same pools: the structural template `aromatic_ring_count` (one polymer, one
feature read, no distractors); speeds are printed as multiples of it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from agents.taskgen.base import Rejected, TemplateContext
from agents.taskgen.checks import task_problem
from agents.taskgen.links import link_table
from agents.taskgen.pools import Pools
from agents.taskgen.registry import get_template
from agents.taskgen.templates.design import design_index
from agents.taskgen.templates.property_relations import relation_candidates
from kb.config import DEFAULT_KB_DIR

TEMPLATES = ("polymerization_class", "reaction_linkage", "property_definition", "monomers_for_polymer",
             "polymer_from_monomers", "design_polymer", "route_for_polymer", "route_feasibility")
BASELINE = "aromatic_ring_count"


def draws_per_second(ctx: TemplateContext, name: str, draws: int) -> tuple[float, float]:
    """(draws/s, share of draws that became new distinct tasks) with a fixed seed."""
    template, rng, seen = get_template(name), np.random.default_rng(0), set()
    template.sample(ctx, rng)  # build the lookups outside the timing
    t0 = time.perf_counter()
    for _ in range(draws):
        draw = template.sample(ctx, rng)
        task = None if isinstance(draw, Rejected) else template.compose(ctx, draw)
        if task is not None and not isinstance(task, Rejected) and task_problem(template, ctx, task) is None:
            seen.add(task.question)
    return draws / (time.perf_counter() - t0), len(seen) / draws


def capacities(ctx: TemplateContext) -> dict[str, str]:
    """Distinct tasks each template can make from this split (what its question text depends on)."""
    table, index = link_table(ctx.pools), design_index(ctx.pools)
    valid = [r for r in range(len(table.pid)) if table.roles[r] is not None]
    linked = [r for r in valid if table.linkage[r] is not None]
    single = [r for r in linked if len(table.achievable(int(table.pid[r]))) == 1]
    ranges = sum(len(keys) for keys in index.keys_of.values())
    return {"polymerization_class": f"{len({table.pair[r] for r in valid}):,}",
            "reaction_linkage": f"{len({table.pair[r] for r in linked}):,}",
            "property_definition": f"{len(relation_candidates(ctx)):,}",
            "monomers_for_polymer": f"{len({int(table.pid[r]) for r in linked}):,}",
            "polymer_from_monomers": f"{len({table.pair[r] for r in single}):,}",
            "design_polymer": f"> {ranges:,}",
            "route_for_polymer": f"{len(set(table.pid.tolist())):,}",
            "route_feasibility": f"> {2 * len(valid):,}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-dir", type=Path, default=DEFAULT_KB_DIR)
    parser.add_argument("--split", default="train", choices=["train", "dev", "test"])
    parser.add_argument("--draws", type=int, default=3000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    ctx = TemplateContext(Pools.load(args.kb_dir, args.split))
    loaded = time.perf_counter() - t0
    t0 = time.perf_counter()
    link_table(ctx.pools), design_index(ctx.pools)
    print(f"{args.kb_dir} {args.split}: pools {loaded:.1f} s, link + design lookups {time.perf_counter() - t0:.1f} s")
    base, _ = draws_per_second(ctx, BASELINE, args.draws)
    print(f"baseline {BASELINE}: {base:,.0f} draws/s")
    caps = capacities(ctx)
    print(f"{'template':24s} {'draws/s':>8s} {'x base':>7s} {'new task':>9s} {'capacity':>10s}")
    for name in TEMPLATES:
        speed, kept = draws_per_second(ctx, name, args.draws)
        print(f"{name:24s} {speed:8,.0f} {speed / base:7.2f} {kept:9.0%} {caps[name]:>10s}")


if __name__ == "__main__":
    main()
